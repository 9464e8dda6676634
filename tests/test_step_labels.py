"""The step's profiler labels, which ``benchmarks/step_breakdown.py`` reads, and its arithmetic."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

from tests.conftest import write_jsonl
from tests.test_method_contract import ALIGN, _cfg, _run
from tests.test_refusal_direction import TASK

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _breakdown_module():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("step_breakdown")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_default_runs_its_parts_under_the_labels_the_breakdown_reads(tmp_path, tiny_tokenizer):
    task = write_jsonl(tmp_path / "task.jsonl", [{"prompt": e.prompt, "response": e.response}
                                                 for e in TASK * 3])
    cfg = _cfg(tmp_path, task, write_jsonl(tmp_path / "align.jsonl", ALIGN), "alignguard", "run",
               replay_fraction=0.0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _run(cfg, tiny_tokenizer)
    counts = {e.key: e.count for e in prof.key_averages() if e.key.startswith("alignguard/")}
    steps = cfg.steps
    for part in ("task_forward", "task_penalty", "backward", "refusal_direction/reference"):
        assert counts.get(f"alignguard/{part}") == steps, (part, counts)  # one micro-batch a step
    for part in ("penalty", "on_gradients", "kl_anchor/reference", "kl_anchor/forward"):
        assert counts.get(f"alignguard/{part}") == steps, (part, counts)


def test_shares_add_up_to_the_ratio_minus_one():
    shares = _breakdown_module().shares
    lora = {"task_forward": 1.0, "backward": 1.5, "step": 3.0}
    method = {"task_forward": 1.1, "backward": 1.8, "penalty": 0.6, "kl_anchor/forward": 0.3,
              "step": 4.2}
    out = shares(method, lora)
    top = ("task_forward", "task_penalty", "penalty", "backward", "on_gradients", "other")
    assert abs(sum(out[k] for k in top) - (4.2 / 3.0 - 1)) < 2e-3
    assert out["penalty"] == 0.2 and out["kl_anchor/forward"] == 0.1
    assert abs(out["other"] - (1.2 - 0.1 - 0.3 - 0.6) / 3.0) < 1e-3
