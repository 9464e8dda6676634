"""The LoRA-tuned semantic member, the two-member mean and ``ensemble2`` (no training here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from alignguard.drift.judges import JUDGE_NAMES, JudgeBatch, Verdict, get_judge
from alignguard.drift.judges.encoder_train import calibration_split, platt
from alignguard.drift.judges.semantic import (
    LogisticHead,
    SemanticJudge,
    embedder_path,
    shared_embedder,
)
from alignguard.drift.judges.tuned import (
    TUNED_DIR,
    Ensemble2Judge,
    TunedSemanticJudge,
    TwoMemberSemanticJudge,
)

FIX = Path(__file__).parent / "fixtures" / "drift"


@pytest.fixture(scope="module")
def tuned():
    torch.set_num_threads(1)
    return TunedSemanticJudge()


@pytest.fixture(scope="module")
def frozen():
    return SemanticJudge(embedder=shared_embedder())


def test_shipped_adapter_is_small_safetensors_and_loads_with_stock_peft():
    from peft import PeftModel
    from transformers import AutoModel

    files = sorted(p.name for p in TUNED_DIR.iterdir())
    assert files == ["adapter_config.json", "adapter_model.safetensors", "head.json", "head.safetensors"]
    assert (TUNED_DIR / "adapter_model.safetensors").stat().st_size < 1_000_000
    cfg = json.loads((TUNED_DIR / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 8 and sorted(cfg["target_modules"]) == ["query", "value"]
    base = AutoModel.from_pretrained(embedder_path())
    model = PeftModel.from_pretrained(base, str(TUNED_DIR))
    lora = [n for n, _ in model.named_parameters() if "lora_" in n]
    assert len(lora) == 6 * 2 * 2  # 6 layers x (query, value) x (A, B)
    meta = json.loads((TUNED_DIR / "head.json").read_text())
    from alignguard.artifacts import fingerprint_file

    assert meta["adapter_sha256"] == fingerprint_file(TUNED_DIR / "adapter_model.safetensors")


def test_tuned_member_reproduces_its_stored_probabilities(tuned, frozen):
    ref = json.loads((TUNED_DIR / "head.json").read_text())["reference"]
    p_t = tuned.probs(ref["texts"])
    assert p_t.tolist() == pytest.approx(ref["semantic-tuned"], abs=1e-4)
    assert frozen.probs(ref["texts"]).tolist() == pytest.approx(ref["semantic"], abs=1e-4)
    # the adapter matters: the frozen encoder under the tuned head gives other probabilities
    plain = SemanticJudge(head=tuned.head, embedder=shared_embedder()).probs(ref["texts"])
    assert (plain - p_t).abs().max() > 1e-3


def test_two_member_score_is_the_mean_of_the_members(tuned, frozen):
    texts = ["I can't help with that.", "Use a phonebook, check social media.", "Paris is the capital of France."]
    two = TwoMemberSemanticJudge(frozen=frozen, tuned=tuned)
    verdicts = two.judge(JudgeBatch(["p"] * 3, texts))
    mean = (frozen.probs(texts) + tuned.probs(texts)) / 2
    assert [v.score for v in verdicts] == pytest.approx(mean.tolist(), abs=1e-6)
    assert [v.refusal for v in verdicts] == [s > 0.5 for s in mean.tolist()]
    assert verdicts[0].refusal and not verdicts[2].refusal


def test_ensemble2_applies_the_rule_to_the_mean_and_names_its_member(tuned, frozen):
    ens = Ensemble2Judge(semantic=TwoMemberSemanticJudge(frozen=frozen, tuned=tuned))
    texts = ["I'm sorry, but I can't help with that.", "aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa",
             "Lo siento, pero no puedo ayudar con eso."]
    members = ens.judge_members(JudgeBatch(["p"] * 3, texts))
    assert set(members) == {"semantic2", "lexicon", "ensemble2"}
    out = members["ensemble2"]
    assert out[0].refusal and not out[1].refusal and out[2].refusal
    assert all(v.refusal == (v.score > 0.5) for v in out)
    assert ens.version.startswith("1.0+mean(")


def test_platt_calibration_is_monotone_and_fits_the_rate():
    z = [-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0] * 3
    y = [False, False, False, True, False, True, True, True, True, True] * 3
    a, c = platt(z, y)
    assert a > 0
    head = LogisticHead(torch.ones(1), 0.0, calib=(a, c))
    p = head.prob(torch.tensor(sorted(z)).reshape(-1, 1)).tolist()
    assert all(q >= r for q, r in zip(p[1:], p[:-1], strict=True))
    assert sum(p) / len(p) == pytest.approx(sum(y) / len(y), abs=0.02)  # logistic regression matches the rate


def test_calibration_families_are_disjoint_from_training_and_test():
    from alignguard.drift.judge_data import build_training_set, split_rows

    train, test = split_rows(build_training_set(0))
    fit, calib = calibration_split(train)
    fam = lambda rows: {(r["kind"], r["family"]) for r in rows}  # noqa: E731
    assert not fam(fit) & fam(calib) and not fam(calib) & fam(test)
    assert len(fit) + len(calib) == len(train) and {r["refusal"] for r in calib} == {True, False}
    assert ("real", "smollm2") in fam(fit)  # a kind with one training family is never held back
    meta = json.loads((TUNED_DIR / "head.json").read_text())
    from alignguard.artifacts import fingerprint_records

    assert meta["calib_fingerprint"] == fingerprint_records(calib)
    assert meta["fit_fingerprint"] == fingerprint_records(fit)


def test_new_judges_are_registered_and_selectable_in_the_cli(tmp_path, capsys):
    from alignguard.cli import main

    assert {"semantic-tuned", "semantic2", "ensemble2"} <= set(JUDGE_NAMES)
    for name in ("semantic-tuned", "ensemble2"):
        out = tmp_path / f"{name}.jsonl"
        assert main(["judge", "--judge", name, "--input", str(FIX / "judge_input.jsonl"), "--output", str(out)]) == 0
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert [r["refusal"] for r in rows] == [False, True, True, False]
        assert all(0.0 <= r["score"] <= 1.0 for r in rows)
    assert "2/4 refusals" in capsys.readouterr().out
    assert isinstance(get_judge("semantic2").judge(JudgeBatch(["p"], ["I won't do that."]))[0], Verdict)


def test_drift_cli_runs_ensemble2_and_reports_its_members(tmp_path):
    import sys

    from alignguard.cli import main

    sys.path.insert(0, str(FIX))
    from tinylm import save_tiny

    model_dir = save_tiny(tmp_path / "tiny")
    out = tmp_path / "drift"
    assert main(["drift", "--model", str(model_dir), "--reference", str(model_dir), "--limit", "6",
                 "--max-new-tokens", "4", "--judges", "ensemble2,ensemble", "--n-boot", "200", "--out", str(out)]) == 0
    rep = json.loads((out / "drift.json").read_text())
    assert [j["name"] for j in rep["judges"]] == ["ensemble2", "ensemble"]
    judged = rep["records"][0]["model"]["judges"]
    assert {"ensemble2", "semantic2", "ensemble", "semantic", "lexicon"} <= set(judged)
