"""Bootstrap intervals, judge agreement and DriftCheck metrics on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from alignguard.drift.metrics import drift_metrics, judge_agreement, rate_metrics
from alignguard.drift.records import PromptRecord
from alignguard.drift.stats import agreement, bootstrap_mean, paired_bootstrap_diff


def test_bootstrap_mean_coverage_near_nominal():
    rng = np.random.default_rng(0)
    p, hits, reps = 0.3, 0, 200
    for rep in range(reps):
        x = rng.random(150) < p
        iv = bootstrap_mean(x, n_boot=500, seed=rep)
        hits += iv.low <= p <= iv.high
    assert 0.88 <= hits / reps <= 0.99


def test_paired_diff_coverage_and_known_difference():
    rng = np.random.default_rng(1)
    hits, reps = 0, 200
    for rep in range(reps):
        base = rng.random(200) < 0.8           # reference refuses 80%
        flip = rng.random(200) < 0.25          # the model loses 25% of them
        model = base & ~flip
        true = 0.8 * 0.75 - 0.8
        iv = paired_bootstrap_diff(model, base, n_boot=500, seed=rep)
        hits += iv.low <= true <= iv.high
    assert 0.88 <= hits / reps <= 0.99
    exact = paired_bootstrap_diff(np.ones(40), np.r_[np.ones(30), np.zeros(10)])
    assert exact.estimate == pytest.approx(0.25) and exact.low <= 0.25 <= exact.high


def test_paired_interval_is_narrower_than_unpaired_for_correlated_models():
    rng = np.random.default_rng(2)
    ref = (rng.random(300) < 0.7).astype(float)
    model = ref.copy()
    model[rng.choice(300, 30, replace=False)] = 0.0
    paired = paired_bootstrap_diff(model, ref, seed=0)
    a, b = bootstrap_mean(model, seed=0), bootstrap_mean(ref, seed=1)
    unpaired_width = np.hypot(a.high - a.low, b.high - b.low)
    assert paired.high - paired.low < 0.6 * unpaired_width
    with pytest.raises(ValueError, match="same prompts"):
        paired_bootstrap_diff([1, 0], [1])


def test_agreement_and_kappa():
    assert agreement([1, 0, 1, 0], [1, 0, 1, 0]) == {"agreement": 1.0, "kappa": 1.0, "n": 4}
    opposite = agreement([1, 0, 1, 0], [0, 1, 0, 1])
    assert opposite["agreement"] == 0.0 and opposite["kappa"] == pytest.approx(-1.0)
    # p_o = 0.75, p_e = 0.5*0.25 + 0.5*0.75 = 0.5 -> kappa = 0.5
    assert agreement([1, 1, 0, 0], [1, 0, 0, 0])["kappa"] == pytest.approx(0.5)
    assert set(judge_agreement({"a": [1, 0], "b": [1, 1], "c": [0, 0]})) == {"a~b", "a~c", "b~c"}


def _records():
    recs = [PromptRecord(f"u{i}", "p", "unsafe", "violence" if i < 6 else "hate", "harmful") for i in range(10)]
    recs += [PromptRecord(f"s{i}", "p", "safe", "violence" if i < 4 else "general",
                          "overrefusal" if i < 4 else "general") for i in range(10)]
    return recs


def test_rate_and_drift_metrics_on_known_verdicts():
    recs = _records()
    ref = [True] * 10 + [False] * 10
    model = [True] * 4 + [False] * 6 + [True, True] + [False] * 8
    degenerate = [False] * 8 + [True, True] + [False] * 10
    m = rate_metrics(recs, model, degenerate)
    assert m["refusal_accuracy"]["estimate"] == pytest.approx(0.4)
    assert m["refusal_accuracy_by_category"]["violence"]["estimate"] == pytest.approx(4 / 6)
    assert m["refusal_accuracy_by_category"]["hate"]["estimate"] == 0.0
    assert m["over_refusal"]["estimate"] == pytest.approx(0.2)
    assert m["over_refusal_probes_by_category"]["violence"]["estimate"] == pytest.approx(0.5)
    assert m["harmful_compliance"]["estimate"] == pytest.approx(0.4)  # 6 complied, 2 of them degenerate
    d = drift_metrics(recs, model, ref)
    assert d["refusal_accuracy"]["estimate"] == pytest.approx(0.6)  # reference - model: lost
    assert d["refusal_accuracy"]["low"] > 0
    assert d["relative_refusal_drop"] == pytest.approx(0.6)
    assert d["flipped_to_comply"] == 6 and d["flipped_to_refuse"] == 0
    assert d["over_refusal"]["estimate"] == pytest.approx(-0.2)


def test_probe_categories_of_both_suite_styles():
    from alignguard.drift.metrics import probe_category

    assert probe_category(PromptRecord("a", "p", "safe", "violence", "overrefusal")) == "violence"
    assert probe_category(PromptRecord("b", "p", "safe", "lookalike", "overrefusal-privacy")) == "privacy"
    assert probe_category(PromptRecord("c", "p", "safe", "science", "general")) is None
    assert probe_category(PromptRecord("d", "p", "unsafe", "hate", "overrefusal")) is None
