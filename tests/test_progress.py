"""Long phases (training, the Fisher, DriftCheck generation) log progress lines without a TTY."""

from __future__ import annotations

import logging

from alignguard.data import Example
from alignguard.progress import track
from tests.conftest import make_tiny_model


def _lines(caplog, desc: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(desc)]


def test_track_logs_every_tenth_without_a_terminal(caplog):
    caplog.set_level(logging.INFO, logger="alignguard.progress")
    assert list(track(range(20), "phase")) == list(range(20))  # pytest's stderr is no TTY
    lines = _lines(caplog, "phase")
    assert [ln.split()[1] for ln in lines] == [f"{n}/20" for n in range(2, 21, 2)]
    caplog.clear()
    list(track(range(5), "quiet", show=False))
    assert not _lines(caplog, "quiet")


def test_fisher_and_generation_report_progress(caplog, tiny_tokenizer):
    from alignguard.alignment.fisher import estimate_alignment_fisher
    from alignguard.drift.generation import generate_responses

    caplog.set_level(logging.INFO, logger="alignguard.progress")
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    rows = [Example(f"how do I bake bread {i}", "sure") for i in range(6)]
    estimate_alignment_fisher(model, rows, tokenizer=tiny_tokenizer, max_rank=2, batch_size=2)
    assert _lines(caplog, "fisher (batch): 3/3")
    generate_responses(model, tiny_tokenizer, [r.prompt for r in rows], max_new_tokens=2,
                       batch_size=2, desc="model: generate")
    assert _lines(caplog, "model: generate (batch): 3/3")
