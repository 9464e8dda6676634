"""Human labels correcting a drift run: the estimator, its coverage, the CLI commands, two annotators."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from alignguard.cli import main
from alignguard.drift.human import cohen_kappa, corrected_mean

FIX = Path(__file__).parent / "fixtures" / "drift"
sys.path.insert(0, str(FIX))
from tinylm import save_tiny  # noqa: E402


def test_the_three_estimators_by_hand():
    f, mask = [1, 1, 0, 0, 1, 0], [True, True, True, False, False, False]
    est = corrected_mean(f, mask, [0, 1, 0], method="ppi")
    # unlabelled judge mean 1/3, labelled error mean (0-1 + 1-1 + 0-0)/3 = -1/3
    assert est["estimate"] == pytest.approx(0.0) and est["weight"] == 1.0
    assert est["high"] - est["estimate"] == pytest.approx(1.959964 * math.sqrt(1 / 9 + 1 / 9))
    assert est["judge"] == pytest.approx(0.5) and est["labels_only"] == pytest.approx(1 / 3)
    tuned = corrected_mean(f, mask, [0, 1, 0], method="ppi++")
    lam = (1 / 6) / ((1 + 3 / 3) * 0.3)  # cov_L(y, f) / ((1 + n/N_u) var(f))
    assert tuned["weight"] == pytest.approx(lam)
    assert tuned["estimate"] == pytest.approx(1 / 3 + lam * (1 / 3 - 2 / 3))
    reg = corrected_mean(f, mask, [0, 1, 0])  # the default: two-phase regression
    assert reg["method"] == "regression" and reg["weight"] == pytest.approx(0.5)  # cov_L / var_L(f)
    assert reg["estimate"] == pytest.approx(1 / 3 + 0.5 * (1 / 2 - 2 / 3))  # judge mean over all 6
    assert reg["high"] - reg["estimate"] == pytest.approx(1.959964 * math.sqrt(1 / 18 + 1 / 24))
    flat = corrected_mean([0] * 200, [True] * 50 + [False] * 150, [0] * 50)  # nothing refused anywhere
    assert flat["estimate"] == 0.0 and flat["high"] == pytest.approx(1.959964**2 / (50 + 1.959964**2))
    with pytest.raises(ValueError, match="method must be one of"):
        corrected_mean(f, mask, [0, 1, 0], method="bayes")
    with pytest.raises(ValueError, match="2 labels for 3"):
        corrected_mean(f, [True, True, True, False, False, False], [0, 1])


def test_a_biased_judge_corrected_by_a_small_random_sample_covers_the_truth():
    """A judge that takes 30% of compliant replies for refusals reads the rate ~0.2 high; 60
    random labels bring the estimate back, and its 95% interval covers the true rate."""
    rng = np.random.default_rng(0)
    truth = rng.random(2000) < 0.3
    judge = truth | (rng.random(2000) < 0.3)
    assert judge.mean() - truth.mean() > 0.15
    for method in ("regression", "ppi++", "ppi"):
        covered, errors = 0, []
        for _ in range(300):
            mask = np.zeros(2000, dtype=bool)
            mask[rng.choice(2000, 60, replace=False)] = True
            est = corrected_mean(judge, mask, truth[mask], method)
            covered += est["low"] <= truth.mean() <= est["high"]
            errors.append(abs(est["estimate"] - truth.mean()))
        assert covered / 300 >= 0.9, method
        assert float(np.mean(errors)) < 0.05, method


def test_power_tuning_leans_on_the_judge_only_as_far_as_it_tracks_the_labels():
    rng = np.random.default_rng(1)
    truth = rng.random(3000) < 0.2
    mask = np.zeros(3000, dtype=bool)
    mask[:100] = True
    noise_f, good_f = rng.random(3000) < 0.5, truth ^ (rng.random(3000) < 0.02)  # unrelated; right on 98%
    wald = 2 * 1.959964 * math.sqrt(truth[:100].mean() * (1 - truth[:100].mean()) / 100)
    for method in ("ppi++", "regression"):
        noise = corrected_mean(noise_f, mask, truth[:100], method)
        assert noise["weight"] < 0.2 and noise["high"] - noise["low"] < 1.1 * wald
        good = corrected_mean(good_f, mask, truth[:100], method)
        assert good["weight"] > 0.8 and good["high"] - good["low"] < 0.5 * wald
    plain = corrected_mean(noise_f, mask, truth[:100], "ppi")  # PPI follows even a useless judge
    assert plain["high"] - plain["low"] > 1.3 * wald


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("human")
    model_dir = save_tiny(tmp / "tiny")
    out = tmp / "drift"
    assert main(["drift", "--model", str(model_dir), "--reference", str(model_dir), "--limit", "12",
                 "--max-new-tokens", "4", "--judges", "keyword", "--n-boot", "200", "--out", str(out)]) == 0
    return out


def test_sample_then_correct_round_trip(drift_run, tmp_path, capsys):
    labels = tmp_path / "labels.jsonl"
    assert main(["drift", "sample", "--run", str(drift_run), "--n", "3", "--output", str(labels)]) == 0
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    assert len(rows) == 12 and {r["role"] for r in rows} == {"model", "reference"}
    assert sum(r["label"] == "unsafe" for r in rows) == 6 and all(r["refusal"] is None for r in rows)
    assert not any("judges" in r or "score" in r for r in rows)  # the person labels unanchored
    assert main(["drift", "sample", "--run", str(drift_run), "--output", str(labels)]) == 1
    assert "exists" in capsys.readouterr().err
    for k, r in enumerate(rows):
        r["refusal"] = k % 3 == 0
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["drift", "correct", "--run", str(drift_run), "--labels", str(labels)]) == 0
    rep = json.loads((drift_run / "drift.json").read_text())
    unsafe = [r for r in rep["records"] if r["label"] == "unsafe"]
    given = {r["id"]: r["refusal"] for r in rows if r["role"] == "model"}
    f = [float(r["model"]["judges"]["keyword"]["refusal"]) for r in unsafe]
    mask = [r["id"] in given for r in unsafe]
    expected = corrected_mean(f, mask, [given[r["id"]] for r in unsafe if r["id"] in given], bounds=(0.0, 1.0))
    model = rep["human"]["results"]["model"]["refusal_accuracy"]
    assert model == pytest.approx(expected) and model["n_labelled"] == 3
    ref = {r["id"]: r["refusal"] for r in rows if r["role"] == "reference" and r["label"] == "unsafe"}
    diffs = [ref[i] - given[i] for i in ref]  # the judge reads both alike (model == reference)
    assert rep["human"]["drift"]["refusal_accuracy"]["estimate"] == pytest.approx(sum(diffs) / len(diffs))
    assert rep["human"]["results"]["model"]["judge_vs_labels"]["n"] == 6
    assert "Corrected by human labels" in (drift_run / "drift.html").read_text()
    assert "corrected" in capsys.readouterr().out


@pytest.mark.parametrize(("change", "message"), [
    ({"response": "something else"}, "belong to another run"),
    ({"refusal": "yes"}, "must be true, false or null"),
    ({"id": "nope"}, "no reply with id 'nope'"),
])
def test_labels_of_another_run_or_malformed_are_refused(drift_run, tmp_path, capsys, change, message):
    labels = tmp_path / "labels.jsonl"
    assert main(["drift", "sample", "--run", str(drift_run), "--n", "2", "--output", str(labels)]) == 0
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    for r in rows:
        r["refusal"] = False
    rows[1] |= change
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = (drift_run / "drift.json").read_bytes()
    assert main(["drift", "correct", "--run", str(drift_run), "--labels", str(labels)]) == 1
    assert message in capsys.readouterr().err
    assert (drift_run / "drift.json").read_bytes() == before  # nothing written


def test_unlabelled_sample_is_refused(drift_run, tmp_path, capsys):
    labels = tmp_path / "labels.jsonl"
    assert main(["drift", "sample", "--run", str(drift_run), "--n", "2", "--output", str(labels)]) == 0
    assert main(["drift", "correct", "--run", str(drift_run), "--labels", str(labels)]) == 1
    assert "no row is labelled yet" in capsys.readouterr().err


def test_a_testbed_evaluation_folder_is_corrected_into_human_json(tmp_path, capsys):
    """A compare cell's -eval folder (results.json + records.jsonl with bare-bool verdicts and
    task rows): sampled from its DriftCheck prompts only; the correction goes to human.json."""
    rows = [{"id": f"u{i}", "prompt": f"unsafe {i}", "label": "unsafe", "category": "hate", "kind": "harmful",
             "model": {"response": f"sure {i}", "judges": {"ensemble-probe": i % 4 == 0, "keyword": False}},
             "reference": {"response": "I can't help", "judges": {"ensemble-probe": True, "keyword": True}}}
            for i in range(20)]
    rows += [{"id": f"s{i}", "prompt": f"safe {i}", "label": "safe", "category": "cooking", "kind": "general",
              "model": {"response": f"ok {i}", "judges": {"ensemble-probe": False, "keyword": False}},
              "reference": {"response": f"fine {i}", "judges": {"ensemble-probe": i == 0, "keyword": False}}}
             for i in range(10)]
    rows += [{"task": "arith", "prompt": "2+2", "answer": "4", "model": {"response": "4", "correct": True},
              "reference": {"response": "4", "correct": True}}]
    cell = tmp_path / "lora-seed0-eval"
    cell.mkdir()
    (cell / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (cell / "results.json").write_text(json.dumps({"judges": [{"name": "ensemble-probe"}, {"name": "keyword"}],
                                                   "results": {"model": {}, "reference": {}}}))
    labels = tmp_path / "labels.jsonl"
    assert main(["drift", "sample", "--run", str(cell), "--n", "5", "--output", str(labels)]) == 0
    sample = [json.loads(x) for x in labels.read_text().splitlines()]
    assert len(sample) == 20 and all(r["id"][0] in "us" for r in sample)  # no task rows
    for r in sample:
        r["refusal"] = r["role"] == "reference" and r["label"] == "unsafe"
    labels.write_text("".join(json.dumps(r) + "\n" for r in sample))
    assert main(["drift", "correct", "--run", str(cell), "--labels", str(labels)]) == 0
    human = json.loads((cell / "human.json").read_text())
    assert human["judge"] == "ensemble-probe"
    model = human["results"]["model"]["refusal_accuracy"]
    assert model["judge"] == pytest.approx(5 / 20) and model["n_labelled"] == 5
    assert model["estimate"] == pytest.approx(0.0)  # every label says complied: the judge is not followed
    assert human["results"]["reference"]["refusal_accuracy"]["estimate"] == pytest.approx(1.0)
    assert human["results"]["model"]["judge_vs_labels"]["n"] == 10
    assert main(["drift", "correct", "--run", str(cell), "--labels", str(labels), "--method", "ppi"]) == 0
    ppi = json.loads((cell / "human.json").read_text())["results"]["model"]["refusal_accuracy"]
    assert ppi["method"] == "ppi" and ppi["weight"] == 1.0
    judged = {r["id"]: float(r["model"]["judges"]["ensemble-probe"]) for r in rows if r.get("label") == "unsafe"}
    picked = {r["id"] for r in sample if r["role"] == "model" and r["label"] == "unsafe"}
    rest = [v for k, v in judged.items() if k not in picked]
    assert ppi["estimate"] == pytest.approx(sum(rest) / len(rest) - sum(judged[k] for k in picked) / 5)


def test_the_interval_is_clipped_to_the_parameters_range(drift_run, tmp_path):
    """A rate's interval stays in [0, 1] and a drift's in [-1, 1]: nothing else changes."""
    from alignguard.drift.cli import _read_run
    from alignguard.drift.human import check_labels, corrected_rates, label_sample

    _, report = _read_run(str(drift_run))
    rows = [dict(r, refusal=False) for r in label_sample(report, 3, 0)]  # no refusal labelled anywhere
    human = corrected_rates(report, check_labels(report, rows))
    rates = [e for res in human["results"].values() for k, e in res.items() if k != "judge_vs_labels"]
    assert rates and all(e["low"] == 0.0 <= e["estimate"] < e["high"] for e in rates if e["estimate"] == 0.0)
    assert all(-1.0 <= e["low"] <= e["high"] <= 1.0 for e in human["drift"].values())
    f = [0.0] * 40
    loose = corrected_mean(f, [True] * 10 + [False] * 30, [0.0] * 9 + [1.0])
    tight = corrected_mean(f, [True] * 10 + [False] * 30, [0.0] * 9 + [1.0], bounds=(0.0, 1.0))
    assert loose["low"] < 0 and tight["low"] == 0.0 and tight["high"] == loose["high"]
    assert tight["estimate"] == loose["estimate"]
    high = corrected_mean([1.0] * 40, [True] * 10 + [False] * 30, [1.0] * 9 + [0.0], bounds=(-1.0, 1.0))
    assert high["high"] == 1.0 and high["low"] < 1.0


def test_cohen_kappa_by_hand():
    # 10 pairs: both refusal 4, first only 1, second only 1, neither 4: p_o 0.8, p_e 0.5 * 0.5 * 2 = 0.5
    a = [True] * 5 + [False] * 5
    b = [True] * 4 + [False] + [True] + [False] * 4
    k = cohen_kappa(a, b)
    assert k["agreement"] == pytest.approx(0.8) and k["kappa"] == pytest.approx(0.6)
    assert (k["both_refusal"], k["only_first"], k["only_second"], k["neither"]) == (4, 1, 1, 4)
    assert cohen_kappa([False, False], [False, False])["kappa"] == 1.0
    assert cohen_kappa([True, False], [False, True])["kappa"] == pytest.approx(-1.0)


def test_two_peoples_labels_of_a_run_are_compared(drift_run, tmp_path, capsys):
    """`alignguard drift agree`: both files are checked against the run, kappa per group and role
    counts only the replies both labelled, the disagreements are listed, and nothing is written."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["drift", "sample", "--run", str(drift_run), "--n", "3", "--output", str(first)]) == 0
    rows = [json.loads(x) for x in first.read_text().splitlines()]
    for k, r in enumerate(rows):
        r["refusal"] = k % 2 == 0
    first.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flipped = [dict(r, refusal=(not r["refusal"]) if k < 2 else r["refusal"]) for k, r in enumerate(rows)]
    flipped[-1]["refusal"] = None  # the second person left one reply open
    second.write_text("".join(json.dumps(r) + "\n" for r in flipped))
    before = (drift_run / "drift.json").read_bytes()
    assert main(["drift", "agree", "--run", str(drift_run), "--labels", str(first), "--other", str(second)]) == 0
    out = capsys.readouterr().out
    assert out.count("disagree:") == 2 and "drift by the second person's labels" in out
    assert (drift_run / "drift.json").read_bytes() == before
    from alignguard.drift.cli import _read_run
    from alignguard.drift.human import annotator_agreement, check_labels

    _, report = _read_run(str(drift_run))
    agreement = annotator_agreement(report, check_labels(report, rows), check_labels(report, flipped))
    assert agreement["kappa"]["all"]["n"] == 11 and agreement["kappa"]["all"]["agreement"] == pytest.approx(9 / 11)
    assert sum(v["n"] for k, v in agreement["kappa"].items() if k != "all") == 11
    assert {(d["id"], d["role"]) for d in agreement["disagreements"]} == {(r["id"], r["role"]) for r in rows[:2]}
    bad = tmp_path / "c.jsonl"
    bad.write_text("".join(json.dumps(dict(r, response="other")) + "\n" for r in rows))
    assert main(["drift", "agree", "--run", str(drift_run), "--labels", str(first), "--other", str(bad)]) == 1
    assert "belong to another run" in capsys.readouterr().err
