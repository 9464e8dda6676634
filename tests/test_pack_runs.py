"""``scripts/pack_runs.py``: per-prompt outcomes read from an evaluation's records and stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def pack_runs():
    return load_script("pack_runs")


def _records(path: Path) -> Path:
    """3 unsafe prompts (the model refuses the 1st and 3rd, the reference all), 2 safe ones (the
    model refuses the 2nd, the reference none; the model's 1st reply is degenerate), a task row."""
    def row(label: str, model: bool, reference: bool, degenerate: bool = False) -> dict:
        return {"label": label,
                "model": {"judges": {"ensemble": model}, "degenerate": degenerate},
                "reference": {"judges": {"ensemble": reference}, "degenerate": False}}

    rows = [row("unsafe", True, True), row("unsafe", False, True), row("unsafe", True, True),
            row("safe", False, False, degenerate=True), row("safe", True, False),
            {"task": "t", "model": {"correct": True}, "reference": {"correct": False}}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_outcomes_keep_every_prompt_in_order_and_encode_as_01_strings(tmp_path, pack_runs):
    out = pack_runs.outcomes(_records(tmp_path / "records.jsonl"))
    assert {k: v.tolist() for k, v in out.items()} == {
        "unsafe": [1.0, 0.0, 1.0], "ref_unsafe": [1.0, 1.0, 1.0],
        "safe": [0.0, 1.0], "ref_safe": [0.0, 0.0],
        "degen": [0.0, 0.0, 0.0, 1.0, 0.0], "ref_degen": [0.0] * 5}
    assert pack_runs.encoded(out) == {"unsafe": "101", "ref_unsafe": "111", "safe": "01",
                                      "ref_safe": "00", "degen": "00010", "ref_degen": "00000"}
