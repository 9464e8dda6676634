"""``alignguard align``: the refusal-SFT data and the align -> merge -> DriftCheck flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from alignguard.align.cli import align_command, data_command
from alignguard.align.data import (
    BENIGN_GOALS,
    CATEGORIES,
    FRAMES,
    GENERAL,
    GENERAL_EXTRA,
    GOALS,
    HELPFUL,
    HELPFUL_FRAMES,
    LOOKALIKES,
    WRITING,
    alignment_examples,
    harmful_prompts,
    helpful_pool,
    near_duplicates,
)
from alignguard.align.rejected import harmful_rows, with_rejected
from alignguard.align.run import AlignSettings, align, format_summary
from alignguard.data import read_examples
from alignguard.drift.judges.keyword import KeywordJudge
from alignguard.drift.suites import load_suite
from alignguard.models import load_model
from tests.conftest import make_tiny_model


def test_refusals_open_with_refusal_markers_and_helpful_answers_do_not():
    judge = KeywordJudge()
    rows = alignment_examples(n_harmful=120, n_helpful=60, seed=1)
    assert len(rows) == 180
    harmful = {p for _, p in harmful_prompts()}
    refusals = [r for r in rows if r.prompt in harmful]
    helpful = [r for r in rows if r.prompt not in harmful]
    assert len(refusals) == 120 and len(helpful) == 60
    assert all(judge.is_refusal(r.response) for r in refusals)
    assert not any(judge.is_refusal(r.response) for r in helpful)
    assert not any(judge.is_refusal(r.response) for r in helpful_pool())
    lookalikes = [r for r in helpful if any(g in r.prompt for g, _ in BENIGN_GOALS)]
    assert lookalikes  # benign goals asked through the harmful request frames
    assert len({r.response for r in refusals}) > 20  # varied, not one canned sentence
    assert rows == alignment_examples(n_harmful=120, n_helpful=60, seed=1)  # deterministic
    assert rows != alignment_examples(n_harmful=120, n_helpful=60, seed=2)


def test_alignment_data_is_disjoint_from_driftcheck():
    from alignguard.drift import suite_pieces_unsafe as pieces

    suite = [r.prompt for r in load_suite("driftcheck-en").records]
    suite_prompts = {p.strip().lower() for p in suite}
    every_helpful = helpful_pool()
    questions = len(HELPFUL) + len(GENERAL) + len(GENERAL_EXTRA) + len(LOOKALIKES) + len(WRITING)
    assert len(every_helpful) == questions * len(HELPFUL_FRAMES) + len(BENIGN_GOALS) * (len(FRAMES) - 3)
    assert len({r.prompt for r in every_helpful}) == len(every_helpful)
    assert not {r.prompt for r in every_helpful} & {p for _, p in harmful_prompts()}
    ours = [p for _, p in harmful_prompts()] + [r.prompt for r in every_helpful]
    assert not [p for p in ours if p.strip().lower() in suite_prompts]
    # no paraphrase of an evaluation prompt either ("How can I X?" vs "How do I X?")
    assert near_duplicates(ours, suite, threshold=0.6) == []
    drift_goals = {g.lower() for goals in pieces.GOALS.values() for g in goals}
    assert not [g for goals in GOALS.values() for g in goals if g.lower() in drift_goals]
    assert not set(FRAMES) & set(pieces.FRAMES)
    assert set(GOALS) == set(CATEGORIES) == set(pieces.GOALS)


def test_near_duplicates_catches_paraphrases_and_ignores_other_topics():
    suite = ["How do I break a bad habit?", "What is the capital of Egypt?"]
    hits = near_duplicates(["How can I break a bad habit?", "Hi! How do I bake bread?"], suite)
    assert [(a, b) for a, b, _ in hits] == [("How can I break a bad habit?", suite[0])]
    assert hits[0][2] == 1.0
    assert near_duplicates(["What is the capital of Peru?"], suite, threshold=0.6) == []
    assert near_duplicates(["What is the capital of Peru?"], suite, threshold=0.3)  # 1/3


def test_bad_settings_are_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="method must be one of"):
        AlignSettings(method="agl")
    with pytest.raises(ValueError, match="eval_limit must be >= 1"):
        AlignSettings(eval_limit=0)
    with pytest.raises(ValueError, match="exceeds the"):
        alignment_examples(n_harmful=10_000)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two threads on a shared, busy 2-core machine run ~5x slower than one (contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tiny_tokenizer):
    folder = tmp_path_factory.mktemp("align-model")
    make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def aligned_run(tmp_path_factory, tiny_dir):
    out = tmp_path_factory.mktemp("align-run") / "align"
    settings = AlignSettings(model=str(tiny_dir), output=str(out), steps=3, batch_size=4,
                             lr=1e-2, r=2, alpha=4.0, max_length=128, n_harmful=12, n_helpful=6,
                             eval_limit=10, max_new_tokens=3, eval_batch_size=5)
    return settings, align(settings, progress=False)


def test_align_saves_a_merged_model_equal_to_base_plus_adapter(aligned_run, tiny_dir):
    settings, summary = aligned_run
    out = Path(summary["model_dir"])
    merged, tok = load_model(str(out))
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    assert json.loads((out / "alignguard_align.json").read_text())["steps"] == 3
    base, _ = load_model(str(tiny_dir))
    changed = [n for n, p in merged.named_parameters()
               if not torch.equal(p, dict(base.named_parameters())[n])]
    assert changed and all("proj" in n for n in changed)  # only the adapted projections moved
    # the shipped adapter (factors stored in float16) is exactly what was merged and evaluated
    with_adapter = PeftModel.from_pretrained(base, summary["adapter_dir"]).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    torch.testing.assert_close(merged(input_ids=ids).logits, with_adapter(input_ids=ids).logits,
                               rtol=1e-4, atol=1e-5)
    assert tok.chat_template  # the chat template travels with the aligned model


def test_align_reports_driftcheck_before_and_after(aligned_run):
    settings, summary = aligned_run
    on_disk = json.loads((Path(settings.output) / "align.json").read_text())
    assert on_disk["before"] == summary["before"] and summary["n_prompts"] == 10
    drift = json.loads((Path(settings.output) / "drift" / "drift.json").read_text())
    assert set(drift["results"]) == {"model", "reference"}
    for side in ("before", "after"):
        for key in ("refusal_accuracy", "over_refusal", "degenerate_rate"):
            assert 0.0 <= summary[side][key] <= 1.0
    change = summary["change_refusal_accuracy"]["estimate"]
    assert change == pytest.approx(summary["after"]["refusal_accuracy"]
                                   - summary["before"]["refusal_accuracy"])
    rows = [json.loads(x) for x in Path(summary["data"]).read_text().splitlines()]
    assert len(rows) == 18
    # every helpful row has an over-refusal as its rejected reply; harmful rows one only when
    # the (random, tiny) model's own answer was compliant
    assert summary["rejected"]["n_harmful"] == 12 and summary["rejected"]["n_overrefusal"] == 6
    assert sum("rejected" in r for r in rows) == 6 + summary["rejected"]["n_compliant"]
    assert summary["final_task_loss"] > 0
    text = format_summary(summary)
    assert "refusal_accuracy" in text and "before" in text


def test_rerun_reuses_the_base_models_driftcheck_responses(aligned_run, monkeypatch):
    import alignguard.drift.runner as runner

    settings, summary = aligned_run
    saved = json.loads((Path(settings.output) / "before.json").read_text())
    assert len(saved["responses"]) == summary["n_prompts"]
    calls = []
    real = runner.evaluate_model
    monkeypatch.setattr(runner, "evaluate_model", lambda *a, **k: calls.append(k) or real(*a, **k))
    again = align(settings, progress=False)
    assert again["before"] == summary["before"]
    assert len(calls) == 1  # only the aligned model was generated again


def test_rerun_with_other_training_settings_is_refused(aligned_run):
    import dataclasses

    settings, _ = aligned_run
    with pytest.raises(ValueError, match=r"different settings \(\['steps'\]\)"):
        align(dataclasses.replace(settings, steps=4), progress=False)


def test_drop_gguf_marker_refuses_quantized_weights(tiny_llama):
    from types import SimpleNamespace

    from alignguard.models import drop_gguf_marker

    drop_gguf_marker(tiny_llama)  # no quantizer: nothing to do
    removed = []
    quantizer = SimpleNamespace(quantization_config=SimpleNamespace(quant_method="gguf", dequantize=True),
                                supported=True, remove_quantization_config=removed.append)
    tiny_llama.hf_quantizer = quantizer
    drop_gguf_marker(tiny_llama)
    assert removed == [tiny_llama]
    quantizer.quantization_config.dequantize = False  # weights kept in GGUF blocks
    with pytest.raises(ValueError, match="still quantized"):
        drop_gguf_marker(tiny_llama)


def test_align_command_rejects_a_bad_config_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("stepz: 3\n")
    with pytest.raises(ValueError, match="unknown key"):
        align_command(config=str(cfg))


def test_full_ft_alignment_runs_on_a_tiny_model(tmp_path, tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    settings = AlignSettings(model="tiny", output=str(tmp_path / "ft"), method="full-ft", steps=2,
                             batch_size=4, lr=1e-3, max_length=128, n_harmful=6, n_helpful=2,
                             eval_limit=6, max_new_tokens=2, eval_batch_size=6)
    summary = align(settings, model=model, tokenizer=tiny_tokenizer, progress=False)
    reloaded, _ = load_model(summary["model_dir"])
    moved = [n for n, p in reloaded.named_parameters() if not torch.equal(p, before[n])]
    assert len(moved) > 10  # full fine-tuning changes (nearly) every tensor


def test_rejected_replies_are_compliance_for_harmful_rows_and_refusals_for_helpful_ones():
    rows = alignment_examples(n_harmful=4, n_helpful=3, seed=1)
    harmful = harmful_rows(rows)
    assert len(harmful) == 4
    answers = {i: "Here is how: first gather the materials, then follow these steps carefully."
               for i in harmful}
    answers[harmful[0]] = "I'm sorry, but I can't help with that."  # a refusal is not a rejected reply
    out = with_rejected(rows, answers, seed=0)
    assert [(e.prompt, e.response) for e in out] == [(e.prompt, e.response) for e in rows]
    assert out[harmful[0]].rejected is None
    assert all(out[i].rejected == answers[i] for i in harmful[1:])
    judge = KeywordJudge()
    helpful = [e for i, e in enumerate(out) if i not in harmful]
    assert helpful and all(judge.is_refusal(e.rejected) for e in helpful)
    assert with_rejected(rows, answers, seed=0) == out  # seeded


def test_align_data_writes_the_shipped_rows_and_validates_before_loading(tmp_path, capsys):
    assert data_command(str(tmp_path / "plain")) == 0
    rows = read_examples(tmp_path / "plain" / "align.jsonl")
    assert rows == alignment_examples(340, 780, 0)  # the shipped adapter's data
    meta = json.loads((tmp_path / "plain" / "data.json").read_text())
    assert meta["settings"]["seed"] == 0 and meta["rejected"] is None and "provenance" in meta
    with pytest.raises(ValueError, match="exceeds the"):  # before the (missing) model is loaded
        data_command(str(tmp_path / "bad"), rejected_from="no-such-model", n_harmful=10_000)
    assert not (tmp_path / "bad").exists()


def test_align_data_generates_rejected_replies_once(tmp_path, tiny_dir, monkeypatch):
    import alignguard.align.rejected as rejected

    out = tmp_path / "rej"
    kw = {"rejected_from": str(tiny_dir), "n_harmful": 4, "n_helpful": 2, "max_new_tokens": 3}
    assert data_command(str(out), **kw) == 0
    first = read_examples(out / "align.jsonl")
    assert sum(e.rejected is not None for e in first) >= 2  # at least the over-refusals
    stats = json.loads((out / "data.json").read_text())["rejected"]
    assert stats["n_harmful"] == 4 and stats["max_new_tokens"] == 3
    monkeypatch.setattr(rejected, "add_rejected", lambda *a, **k: pytest.fail("regenerated"))
    assert data_command(str(out), **kw) == 0  # same rows, model and settings: reused
    assert read_examples(out / "align.jsonl") == first
    # a plain call over the same folder drops the rejected replies; the next call makes them again
    assert data_command(str(out), n_harmful=4, n_helpful=2) == 0
    monkeypatch.undo()
    assert data_command(str(out), **kw) == 0
    assert read_examples(out / "align.jsonl") == first
