"""run_drift end to end on tiny random models with a deterministic judge double."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from alignguard.drift.generation import generate_responses
from alignguard.drift.judges import JudgeBatch, Verdict
from alignguard.drift.records import PromptRecord
from alignguard.drift.runner import DriftConfig, run_drift
from alignguard.drift.suites import Suite

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "drift"))
from tinylm import char_tokenizer, save_tiny, tiny_llama  # noqa: E402


class TableJudge:
    """Judge double: refuses the prompts listed for the model object it is shown."""

    name, version, needs = "table", "0.1-test", "response"

    def __init__(self, refuse: dict[int, set[str]]):
        self.refuse = refuse

    def judge(self, batch: JudgeBatch) -> list[Verdict]:
        assert batch.responses is not None and len(batch.responses) == len(batch.prompts)
        hit = self.refuse[id(batch.model)]
        return [Verdict(p in hit, float(p in hit)) for p in batch.prompts]


def _suite() -> Suite:
    recs = [PromptRecord(f"u{i}", f"Unsafe prompt {i}?", "unsafe", "violence" if i < 4 else "privacy", "harmful")
            for i in range(8)]
    recs += [PromptRecord(f"s{i}", f"Safe prompt {i}?", "safe", "general", "general") for i in range(6)]
    return Suite("mini", "0.0.1", "CC0 test suite", tuple(recs), source="test")


def test_run_drift_metrics_schema_and_html(tmp_path):
    tok, model, ref = char_tokenizer(), tiny_llama(0), tiny_llama(1)
    suite = _suite()
    unsafe = [r.prompt for r in suite.records if r.unsafe]
    judge = TableJudge({id(ref): set(unsafe) | {"Safe prompt 0?"}, id(model): set(unsafe[:4])})
    cfg = DriftConfig(model="tiny", reference="tiny-ref", max_new_tokens=5, batch_size=4, n_boot=500,
                      out_dir=str(tmp_path / "out"))
    rep = run_drift(cfg, model=model, tokenizer=tok, reference_model=ref, reference_tokenizer=tok,
                    suite=suite, judges=[judge])
    m, r = rep["results"]["model"]["judges"]["table"], rep["results"]["reference"]["judges"]["table"]
    assert m["refusal_accuracy"]["estimate"] == 0.5 and r["refusal_accuracy"]["estimate"] == 1.0
    assert m["refusal_accuracy_by_category"]["violence"]["estimate"] == 1.0
    assert m["refusal_accuracy_by_category"]["privacy"]["estimate"] == 0.0
    assert r["over_refusal"]["estimate"] == pytest.approx(1 / 6)
    d = rep["drift"]["table"]
    assert d["refusal_accuracy"]["estimate"] == 0.5 and d["refusal_accuracy"]["low"] > 0  # lost
    assert d["refusal_accuracy_by_category"]["violence"]["estimate"] == 0.0
    assert d["flipped_to_comply"] == 4
    assert "degenerate_rate" in rep["results"]["model"] and "degenerate_rate" in rep["drift"]
    # the per-prompt responses are the real greedy generations
    assert [x["model"]["response"] for x in rep["records"]] == generate_responses(
        model, tok, [x.prompt for x in suite.records], max_new_tokens=5)
    on_disk = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert on_disk["schema"] == "alignguard.drift/2"
    assert on_disk["suite"]["name"] == "mini" and on_disk["suite"]["version"] == "0.0.1"
    assert on_disk["suite"]["licence"] == "CC0 test suite"
    assert on_disk["judges"] == [{"name": "table", "version": "0.1-test", "needs": "response"}]
    assert on_disk["config"]["max_new_tokens"] == 5
    prov = on_disk["provenance"]
    assert {"alignguard", "packages", "git_commit", "data_fingerprints", "seed"} <= set(prov)
    assert prov["data_fingerprints"]["suite"] == suite.fingerprint
    html = (tmp_path / "out" / "drift.html").read_text()
    assert "data:image/png;base64," in html and "Drift versus the reference" in html


def test_adapter_and_reference_base_via_disable_adapter(tmp_path):
    from peft import LoraConfig, get_peft_model

    base_dir = save_tiny(tmp_path / "base", seed=4)
    peft_model = get_peft_model(tiny_llama(4), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(hash(name) % 1000))
    peft_model.save_pretrained(tmp_path / "adapter")
    cfg = DriftConfig(model=str(base_dir), adapter=str(tmp_path / "adapter"), reference=str(base_dir),
                      judges=("keyword",), max_new_tokens=6, n_boot=200, out_dir=str(tmp_path / "o"))
    suite = _suite()
    rep = run_drift(cfg, suite=suite)
    base_out = generate_responses(tiny_llama(4), char_tokenizer(), [r.prompt for r in suite.records], 6)
    assert [x["reference"]["response"] for x in rep["records"]] == base_out
    assert [x["model"]["response"] for x in rep["records"]] != base_out
    assert rep["provenance"]["adapter"] == str(tmp_path / "adapter")


def test_bad_adapter_folder_is_a_clear_error(tmp_path):
    base_dir = save_tiny(tmp_path / "base")
    cfg = DriftConfig(model=str(base_dir), adapter=str(tmp_path), out_dir=str(tmp_path / "o"))
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        run_drift(cfg, suite=_suite())
    with pytest.raises(ValueError, match="at least one judge"):
        DriftConfig(model="x", judges=())


class MembersJudge:
    """Ensemble double: two members that disagree on the unsafe prompts, plus its own verdict."""

    name, version, needs = "ens", "0.1-test", "response"

    def judge_members(self, batch: JudgeBatch) -> dict[str, list[Verdict]]:
        a = [Verdict(p.startswith("Unsafe"), 1.0) for p in batch.prompts]
        b = [Verdict(False, 0.0) for _ in batch.prompts]
        return {"a": a, "b": b, "ens": a}

    def judge(self, batch: JudgeBatch) -> list[Verdict]:
        return self.judge_members(batch)["ens"]


def test_run_drift_reports_members_agreement_and_disagreements(tmp_path):
    tok, model = char_tokenizer(), tiny_llama(0)
    cfg = DriftConfig(model="tiny", max_new_tokens=3, batch_size=4, n_boot=200, out_dir=str(tmp_path / "o"))
    rep = run_drift(cfg, model=model, tokenizer=tok, suite=_suite(), judges=[MembersJudge()])
    res = rep["results"]["model"]
    assert set(res["judges"]) == {"a", "b", "ens"} and "a~b" in rep["agreement"]["model"]
    dis = res["disagreements"]
    assert dis["n"] == 8 and dis["of"] == 14 and {d["label"] for d in dis["sample"]} == {"unsafe"}
    assert dis["sample"][0]["judges"]["a"]["refusal"] and not dis["sample"][0]["judges"]["b"]["refusal"]
    html = (tmp_path / "o" / "drift.html").read_text()
    assert "Where the judges disagree" in html and "8 of 14 prompts" in html


class _Scripted(torch.nn.Module):
    """A stand-in LM whose reply depends on the prompt's length: short prompts end (``<eos>``
    = 1 after one token), long ones fill the budget."""

    def __init__(self, short_len: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.short_len = short_len

    def generate(self, input_ids, attention_mask, max_new_tokens, **kwargs):
        rows = []
        for mask in attention_mask:
            short = int(mask.sum()) <= self.short_len
            rows.append([5, 1] + [0] * (max_new_tokens - 2) if short else [5 + k % 3 for k in range(max_new_tokens)])
        return torch.cat([input_ids, torch.tensor(rows)], dim=1)


def test_replies_say_whether_they_ended_within_the_budget():
    """``generate_replies`` flags replies cut off by ``max_new_tokens`` (no end-of-sequence
    token), the replies whose continuation a judge never sees."""
    from alignguard.drift.generation import encode_prompts, generate_replies

    tok = char_tokenizer()
    prompts = ["abcdefgh", "ab", "abcdef"]
    lm = _Scripted(len(encode_prompts(tok, ["ab"])[0]))
    texts, ended = generate_replies(lm, tok, prompts, max_new_tokens=5, batch_size=2)
    assert ended == [False, True, False]
    assert texts == generate_responses(lm, tok, prompts, max_new_tokens=5, batch_size=2)
    assert len(texts[0].replace(" ", "")) == 5 and len(texts[1].replace(" ", "")) == 1
