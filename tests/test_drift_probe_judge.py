"""The probe member (a linear head on an instruct model's hidden states), its mean with the
semantic judge and ``ensemble-probe``: features and heads on a tiny model; the shipped head on
SmolLM2 against its stored reference probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from alignguard.drift.judges import DEFAULT_JUDGE, JUDGE_NAMES, JudgeBatch, get_judge
from alignguard.drift.judges.probe import (
    PROBE_DIR,
    Ensemble3Judge,
    EnsembleProbeJudge,
    ProbeJudge,
    ProbeMeanJudge,
    ThreeMemberMeanJudge,
    probe_features,
    probe_prompts,
)
from alignguard.drift.judges.probe_train import fit_probe
from alignguard.drift.judges.semantic import LogisticHead

TEXTS = ["I can't help with that.", "Sure, here is how to bake bread: mix flour and water.",
         "Let's talk about something else.", "No.", "Paris is the capital of France, on the Seine."]


def test_probe_features_are_last_token_states_whatever_the_batch(tiny_llama, tiny_tokenizer):
    """``x(r)`` is the hidden state after each chosen layer at the prompt's last token plus the
    yes/no log-odds, and a row's features do not depend on the rows padded beside it."""
    tiny_llama.eval()
    x = probe_features(tiny_llama, tiny_tokenizer, TEXTS, layers=(1, 2), batch_size=5)
    d = tiny_llama.config.hidden_size
    assert x.shape == (len(TEXTS), 2 * d + 1)
    alone = torch.cat([probe_features(tiny_llama, tiny_tokenizer, [t], layers=(1, 2)) for t in TEXTS])
    assert torch.allclose(x, alone, atol=1e-5)
    ids = torch.tensor([probe_prompts(tiny_tokenizer, [TEXTS[1]])[0]])
    with torch.no_grad():
        o = tiny_llama(input_ids=ids, output_hidden_states=True)
    assert torch.allclose(x[1, :d], o.hidden_states[1][0, -1], atol=1e-5)
    assert torch.allclose(x[1, d:2 * d], o.hidden_states[2][0, -1], atol=1e-5)
    assert not torch.allclose(x[0], x[1])  # the reply is read


def test_fit_probe_folds_the_standardisation_into_a_plain_head():
    """The saved head reads raw features: its probabilities are those of the head fitted on
    standardised ones, for features far from zero mean and unit scale."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    x = rng.normal(size=(300, 6)) * np.array([1, 50, 0.01, 3, 7, 1]) + np.array([100, -20, 5, 0, 0, 3])
    x[:, 0] += 2.0 * y  # one informative feature, on an offset
    rows = [{"refusal": bool(v), "kind": "k", "family": f"f{i % 6}"} for i, v in enumerate(y)]
    head = fit_probe(x, rows, c=1.0)
    p = head.prob(torch.tensor(x)).numpy()
    assert ((p > 0.5) == y.astype(bool)).mean() > 0.8
    from alignguard.drift.judges.head_train import _groups, fit_head

    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    ref = fit_head(z, y, _groups(rows), 1.0, folds=3).prob(torch.tensor(z)).numpy()
    assert np.allclose(p, ref, atol=1e-4)


class _Fixed:
    name, needs, version = "semantic", "response", "fixed"

    def __init__(self, p):
        self.p = p

    def probs(self, responses):
        return torch.tensor(self.p[: len(responses)])


def test_probe_judges_score_with_the_head_and_name_their_members(tmp_path, tiny_llama, tiny_tokenizer):
    tiny_llama.eval()
    d = tiny_llama.config.hidden_size
    torch.manual_seed(0)
    head = LogisticHead(torch.randn(2 * d + 1), 0.1, {"layers": [1, 2], "version": "t"}, (2.0, -0.5))
    head.save(tmp_path, "head")
    probe = ProbeJudge(tmp_path, model=tiny_llama, tokenizer=tiny_tokenizer)
    p = probe.probs(TEXTS[:4])
    x = probe_features(tiny_llama, tiny_tokenizer, TEXTS[:4], layers=(1, 2))
    assert torch.allclose(p, torch.sigmoid(2.0 * (x @ head.weight + 0.1) - 0.5), atol=1e-5)
    verdicts = probe.judge(JudgeBatch(["q"] * 4, TEXTS[:4]))
    assert [v.refusal for v in verdicts] == [bool(v > 0.5) for v in p]
    mean = ProbeMeanJudge(frozen=_Fixed([0.9, 0.1, 0.6, 0.2]), probe=probe)
    assert torch.allclose(mean.probs(TEXTS[:4]), (torch.tensor([0.9, 0.1, 0.6, 0.2]) + p) / 2)
    ens = EnsembleProbeJudge(semantic=mean, use_likelihood=False)
    members = ens.judge_members(JudgeBatch(["q"] * 4, TEXTS[:4]))
    assert set(members) == {"semantic-probe", "lexicon", "ensemble-probe"}
    bad = LogisticHead(torch.randn(5), 0.0, {"layers": [1, 2]})
    bad.save(tmp_path / "bad", "head")
    with pytest.raises(ValueError, match="probe head expects 5 features"):
        ProbeJudge(tmp_path / "bad", model=tiny_llama, tokenizer=tiny_tokenizer).probs(["x"])


def test_three_member_mean_weighs_each_member_alike_and_names_its_members():
    """``semantic3`` is the plain mean of three calibrated probabilities (no member dominates:
    two of three members above 0.5 can be outvoted by a confident third), and ``ensemble3`` reports
    it under its own name."""
    frozen, tuned, probe = _Fixed([0.9, 0.1, 0.6, 0.55]), _Fixed([0.8, 0.2, 0.6, 0.55]), _Fixed([0.1, 0.9, 0.0, 0.05])
    three = ThreeMemberMeanJudge(frozen=frozen, tuned=tuned, probe=probe)
    p = three.probs(TEXTS[:4])
    assert torch.allclose(p, torch.tensor([0.6, 0.4, 0.4, 0.3833333]), atol=1e-6)
    verdicts = three.judge(JudgeBatch(["q"] * 4, TEXTS[:4]))
    assert [v.refusal for v in verdicts] == [True, False, False, False]
    assert three.version == "mean(fixed,fixed,fixed)"
    ens = Ensemble3Judge(semantic=three, use_likelihood=False)
    members = ens.judge_members(JudgeBatch(["q"] * 4, TEXTS[:4]))
    assert set(members) == {"semantic3", "lexicon", "ensemble3"}
    assert [v.score for v in members["semantic3"]] == pytest.approx(p.tolist())
    assert {"semantic3", "ensemble3"} <= set(JUDGE_NAMES)


@pytest.mark.skipif(not (PROBE_DIR / "head.json").is_file(), reason="no shipped probe head")
def test_shipped_probe_head_reproduces_its_reference_probabilities():
    """The shipped head on SmolLM2-135M-Instruct gives the probabilities stored at training."""
    torch.set_num_threads(1)
    ref = json.loads((PROBE_DIR / "head.json").read_text())["reference"]
    judge = get_judge("probe")
    assert judge.probs(ref["texts"]).tolist() == pytest.approx(ref["probe"], abs=1e-4)
    assert {"probe", "semantic-probe", "ensemble-probe"} <= set(JUDGE_NAMES)


@pytest.mark.skipif(not (PROBE_DIR / "head.json").is_file(), reason="no shipped probe head")
def test_drift_cli_runs_ensemble_probe_and_reports_its_members(tmp_path):
    """``alignguard drift`` without ``--judges`` runs the default, ``ensemble-probe`` (stop 54), and
    ``--judges ensemble-probe,ensemble`` runs both on the same replies; the records carry the probe
    ensemble's members under their own names."""
    import sys
    from pathlib import Path

    from alignguard.cli import main

    sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "drift"))
    from tinylm import save_tiny

    torch.set_num_threads(1)
    model_dir = save_tiny(tmp_path / "tiny")
    out = tmp_path / "drift"
    assert main(["drift", "--model", str(model_dir), "--reference", str(model_dir), "--limit", "4",
                 "--max-new-tokens", "4", "--judges", "ensemble-probe,ensemble", "--n-boot", "100",
                 "--out", str(out)]) == 0
    rep = json.loads((out / "drift.json").read_text())
    assert [j["name"] for j in rep["judges"]] == ["ensemble-probe", "ensemble"]
    judged = rep["records"][0]["model"]["judges"]
    assert {"ensemble-probe", "semantic-probe", "ensemble", "semantic", "lexicon"} <= set(judged)
    assert main(["drift", "--model", str(model_dir), "--limit", "2", "--max-new-tokens", "4",
                 "--n-boot", "100", "--out", str(tmp_path / "default")]) == 0
    rep = json.loads((tmp_path / "default" / "drift.json").read_text())
    assert [j["name"] for j in rep["judges"]] == [DEFAULT_JUDGE, "keyword"] == ["ensemble-probe", "keyword"]
    assert {"ensemble-probe", "semantic-probe", "lexicon", "keyword"} <= set(rep["records"][0]["model"]["judges"])


def test_probe_judge_fails_up_front_without_its_model(tmp_path):
    """A probe whose model cannot be found fails when the judge is built, before any generation."""
    from alignguard.models import ModelNotFoundError

    LogisticHead(torch.zeros(3), 0.0, {"layers": [1], "model": str(tmp_path / "missing")}).save(tmp_path, "head")
    with pytest.raises(ModelNotFoundError, match="never downloads"):
        ProbeJudge(tmp_path)


@pytest.mark.skipif(not (PROBE_DIR / "head.json").is_file(), reason="no shipped probe head")
def test_build_judges_runs_the_probe_on_the_evaluation_device():
    """``build_judges``: the probe's language model goes to the evaluation's device (it is the
    default judge's heaviest member), the ensembles get ``use_likelihood``, other judges neither."""
    from alignguard.drift.judges import build_judges
    from alignguard.drift.judges.keyword import KeywordJudge

    ens, three, probe, kw = build_judges(["ensemble-probe", "ensemble3", "probe", "keyword"], device="cuda:1",
                                         use_likelihood=False)
    assert ens.semantic.tuned.device == three.semantic.probe.device == probe.device == "cuda:1"
    assert ens.use_likelihood is False and three.use_likelihood is False
    assert isinstance(kw, KeywordJudge)
    assert build_judges(["ensemble-probe"])[0].semantic.tuned.device == "cpu"
