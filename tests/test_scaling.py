"""Scaling laws of forgetting: fitter recovery, degenerate input, analysis, sweep end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from alignguard.scaling.analysis import analyse, jsonable, paired_comparison, read_records
from alignguard.scaling.cli import fit_command
from alignguard.scaling.fit import (
    bootstrap_intervals,
    extrapolation_error,
    fit_law,
)
from alignguard.scaling.laws import BETHUNE, KALAJDZIEVSKI, ScalingFitError
from alignguard.scaling.measure import mean_nll

STEPS = np.array([8, 16, 32, 64, 128, 256], dtype=float)
PARAMS = np.array([2e4, 8e4, 3.2e5])


def _kal_data(seed=0, noise=0.03, A=3e-4, alpha=0.3, beta=0.6, E=0.05, reps=2):
    rng = np.random.default_rng(seed)
    pp, tt = np.meshgrid(PARAMS, STEPS, indexing="ij")
    x = np.tile(np.stack([pp.ravel(), tt.ravel()], axis=1), (reps, 1))
    y = (A * x[:, 0] ** alpha * x[:, 1] ** beta + E) * np.exp(rng.normal(0, noise, len(x)))
    return x, y


def test_kalajdzievski_recovers_known_parameters_with_noise():
    x, y = _kal_data()
    fit = fit_law(KALAJDZIEVSKI, x, y)
    assert fit.params["alpha"] == pytest.approx(0.3, abs=0.05)
    assert fit.params["beta"] == pytest.approx(0.6, abs=0.06)
    assert fit.params["E"] == pytest.approx(0.05, abs=0.01)
    assert fit.A_raw == pytest.approx(3e-4, rel=0.5)
    assert fit.r2 > 0.99 and fit.n_inputs == 18 and fit.n_points == 36
    bootstrap_intervals(KALAJDZIEVSKI, x, y, fit, n_boot=40, seed=1)
    assert fit.n_bootstrap_ok >= 35
    lo, hi = fit.intervals["beta"]
    assert lo < fit.params["beta"] < hi and 0.01 < hi - lo < 0.3
    assert lo < 0.65 and hi > 0.55  # the interval sits at the true exponent 0.6


def test_bethune_with_base_loss_offset_and_constant_model_size():
    rng = np.random.default_rng(3)
    d = np.tile(STEPS, 3)
    l0 = 2.0
    forgetting = 0.01 * d ** 0.7 + 0.02
    y = (l0 + forgetting) * np.exp(rng.normal(0, 0.005, len(d))) - l0  # noise on L_post
    x = np.stack([d, np.full_like(d, 1e6)], axis=1)
    fit = fit_law(BETHUNE, x, y, offset=l0)
    assert fit.fixed == {"alpha": 0.0}  # N constant: alpha not identifiable
    assert fit.params["beta"] == pytest.approx(0.7, abs=0.1)
    assert fit.A_raw == pytest.approx(0.01, rel=0.5)
    assert fit.r2 > 0.98
    ex = extrapolation_error(BETHUNE, x, y, amount_col=0, offset=l0, fixed=fit.fixed)
    assert ex["amount"] == 256 and ex["rel_err"] < 0.15


def test_bethune_recovers_model_size_exponent_when_n_varies():
    d, n = np.meshgrid(STEPS, [1e5, 1e6, 1e7], indexing="ij")
    x = np.stack([d.ravel(), n.ravel()], axis=1)
    y = 5.0 * x[:, 0] ** 0.5 / x[:, 1] ** 0.25 + 0.01
    fit = fit_law(BETHUNE, x, y)
    assert "alpha" not in fit.fixed
    assert fit.params["alpha"] == pytest.approx(0.25, abs=0.01)
    assert fit.A_raw == pytest.approx(5.0, rel=0.05)


def test_robust_loss_resists_an_outlier():
    x, y = _kal_data(seed=2, noise=0.01)
    y = y.copy()
    y[np.argmax(x[:, 1])] *= 4.0  # one wild measurement at the largest amount
    robust = fit_law(KALAJDZIEVSKI, x, y, loss="soft_l1", f_scale=0.05)
    plain = fit_law(KALAJDZIEVSKI, x, y, loss="linear")
    assert abs(robust.params["beta"] - 0.6) < abs(plain.params["beta"] - 0.6)
    assert abs(robust.params["beta"] - 0.6) < 0.05


@pytest.mark.parametrize("x, y, msg", [
    (np.array([[1e4, 8], [1e4, 16]]), np.array([0.1, 0.2]), "cannot determine"),
    (np.array([[1e4, 0], [1e4, 16], [2e4, 8], [2e4, 32], [4e4, 8], [4e4, 64]]),
     np.ones(6), "non-positive"),
    (np.array([[1e4, 8], [1e4, 16], [2e4, 8], [2e4, 32], [4e4, 8], [4e4, 64]]),
     np.array([0.1, 0.2, -0.1, 0.3, 0.2, 0.4]), "offset \\+ y must be > 0"),
    (np.array([[1e4, 8], [1e4, 16], [2e4, 8], [2e4, 32], [4e4, 8], [4e4, 64]]),
     np.array([0.1, np.nan, 0.1, 0.3, 0.2, 0.4]), "NaN"),
    (np.ones((6, 3)), np.ones(6), "shape"),
])
def test_degenerate_input_gives_clear_error(x, y, msg):
    with pytest.raises(ScalingFitError, match=msg):
        fit_law(KALAJDZIEVSKI, x, y)
    assert issubclass(ScalingFitError, ValueError)


def test_extrapolation_needs_two_amounts():
    x = np.array([[1e4, 8.0], [2e4, 8.0], [4e4, 8.0], [8e4, 8.0], [1e5, 8.0]])
    with pytest.raises(ScalingFitError, match="more than one"):
        extrapolation_error(KALAJDZIEVSKI, x, np.ones(5), amount_col=1)


def _records(amp_agl=0.2, seed=0):
    """Synthetic sweep records: AGL forgets with a smaller amplitude, same task loss."""
    rng = np.random.default_rng(seed)
    rows = []
    for method, amp in (("lora", 1.0), ("agl", amp_agl)):
        for rank, p in zip((2, 8, 32), PARAMS, strict=True):
            for s in (0, 1):
                for t in STEPS:
                    f = amp * 1e-3 * p ** 0.3 * t ** 0.5 + 0.01
                    task = 2.0 * t ** -0.3 * np.exp(rng.normal(0, 0.01))
                    rows.append({"method": method, "rank": rank, "seed": s, "steps": int(t),
                                 "tokens_seen": int(t) * 500, "trainable_params": p,
                                 "model_params": 1e6, "align_loss_base": 1.5,
                                 "forgetting_align": (1.5 + f) * np.exp(rng.normal(0, 0.002)) - 1.5,
                                 "task_loss": task})
    return rows


def test_analyse_compares_amplitudes_and_adaptation():
    report = analyse(_records(), target="forgetting_align", n_boot=10, seed=0)
    lora, agl = report["methods"]["lora"], report["methods"]["agl"]
    assert agl["kalajdzievski"]["params"]["A"] < 0.5 * lora["kalajdzievski"]["params"]["A"]
    assert lora["kalajdzievski"]["params"]["alpha"] == pytest.approx(0.3, abs=0.1)
    assert min(report["min_r2"].values()) >= 0.9
    assert set(lora["bethune"]) == {"2", "8", "32"}
    assert "rel_err" in lora["kalajdzievski"]["extrapolation"]
    flat = report["flattening"]["agl"]
    assert flat["flattens"] is True and flat["kalajdzievski"]["A"]["ratio"] < 0.5
    cmp = report["comparison"]["agl"]
    assert cmp["diff_forgetting_align_at_max"]["ci95"][1] < 0
    assert cmp["adaptation_preserved"] is True


def test_paired_comparison_detects_lost_adaptation():
    rows = _records()
    for r in rows:
        if r["method"] == "agl":
            r["task_loss"] *= 1.3
    cmp = paired_comparison(rows, "agl", target="forgetting_align", amount="steps")
    assert cmp["adaptation_preserved"] is False
    assert cmp["diff_task_loss_rel_at_max"]["mean"] == pytest.approx(0.3, abs=0.02)


def test_fit_command_writes_report_and_plots(tmp_path, capsys):
    src = tmp_path / "sweep.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _records()))
    assert fit_command(input=str(src), output=str(tmp_path / "out"), bootstrap=5) == 0
    text = (tmp_path / "out" / "fit_forgetting_align.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert jsonable({"a": (float("inf"), np.float64(2.0), np.int64(3))}) == {"a": [None, 2.0, 3]}
    report = json.loads(text)
    assert report["methods"]["agl"]["kalajdzievski"]["n_bootstrap_ok"] >= 3
    for name in ("fit_forgetting_align.png", "task_loss.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"
    assert "adaptation preserved" in capsys.readouterr().out
    with pytest.raises(ScalingFitError, match="unknown target"):
        analyse(_records(), target="nope")
    with pytest.raises(ScalingFitError, match="no-refusal"):
        analyse([{**r, "refusal_drift": None} for r in _records()], target="refusal_drift")
    with pytest.raises(ScalingFitError, match="do not exist"):
        read_records(tmp_path / "missing.jsonl")


def test_mean_nll_is_token_weighted(tiny_tokenizer, tiny_llama):
    from alignguard.data import Example

    a = Example("how do I bake bread", "sure, here is the answer and more words")
    b = Example("reverse", "I can't help with that.")
    tiny_llama.train()
    la, lb = (mean_nll(tiny_llama, tiny_tokenizer, [e], loss_on="all") for e in (a, b))
    both = mean_nll(tiny_llama, tiny_tokenizer, [a, b], loss_on="all", batch_size=2)
    from alignguard.data import encode_examples

    na, nb = (len(encode_examples(tiny_tokenizer, [e], 128, "all")[0]["input_ids"]) - 1 for e in (a, b))
    assert both == pytest.approx((na * la + nb * lb) / (na + nb), rel=1e-5)
    ids = torch.tensor([encode_examples(tiny_tokenizer, [a], 128, "all")[0]["input_ids"]])
    with torch.no_grad():
        hf = float(tiny_llama(input_ids=ids, labels=ids).loss)
    assert la == pytest.approx(hf, rel=1e-5)
    assert tiny_llama.training  # mode restored


def _sweep_spec(tmp_path, tiny_jsonl, **kw):
    from alignguard.alignment.settings import AlignmentSettings
    from alignguard.scaling.sweep import SweepSpec
    from alignguard.training.config import TrainConfig
    from tests.conftest import write_jsonl

    align = write_jsonl(tmp_path / "align.jsonl", [
        {"prompt": f"how do I do bad thing {i}", "response": "I can't help with that."}
        for i in range(8)])
    pre = write_jsonl(tmp_path / "pre.jsonl", [
        {"prompt": "the quick brown fox", "response": f"jumps over the lazy dog {i}"}
        for i in range(6)])
    from alignguard.regularizers.config import RegularizerConfig

    # no warm-up: transformers' warm-up gives step 1 lr 0, and the 1-step points must train
    base = TrainConfig(batch_size=4, max_length=48, warmup_steps=0, log_every=1, lr=1e-2,
                       reg=RegularizerConfig(lam_T=0.0, lam_NC=0.0, gate=0.0),  # Fisher term only
                       alignment=AlignmentSettings(max_examples=8, max_rank=4, batch_size=4,
                                                   max_length=48, estimator="empirical"))
    args = dict(model="tiny", data=str(tiny_jsonl), methods=["lora", "agl"], ranks=[1, 2],
                steps=[1, 3], seeds=[0], output=str(tmp_path / "sweep"), eval_limit=6,
                align_data=str(align), pretrain_data=str(pre), fisher_data=str(align),
                lam_A=5.0, base=base)
    return SweepSpec(**{**args, **kw})


def _fake_behaviour(model, tokenizer) -> dict:
    """A stand-in for the organism evaluator: "refusal" falls as the LoRA update grows."""
    size = sum(float(p.abs().sum()) for n, p in model.named_parameters() if "lora_B" in n)
    return {"refusal": 1.0 / (1.0 + size), "task_score": 0.5}


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread; oversubscribed threads stall on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sweep_end_to_end_is_resumable(tmp_path, tiny_tokenizer, tiny_jsonl, one_thread):
    from alignguard.scaling.sweep import SweepError, load_done, run_sweep
    from tests.conftest import make_tiny_model

    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    spec = _sweep_spec(tmp_path, tiny_jsonl)
    n = run_sweep(spec, model=model, tokenizer=tiny_tokenizer, behaviour_fn=_fake_behaviour,
                  progress=False)
    rows = read_records(spec.records_path)
    assert n == len(rows) == 2 * 2 * 2 * 1
    assert {(r["method"], r["rank"], r["steps"]) for r in rows} == {
        (m, r, s) for m in ("lora", "agl") for r in (1, 2) for s in (1, 3)}
    for r in rows:
        assert r["forgetting_align"] == pytest.approx(r["align_loss"] - r["align_loss_base"])
        assert r["refusal_drift"] == pytest.approx(r["refusal_base"] - r["refusal"])
        assert r["lam_A"] == (5.0 if r["method"] == "agl" else 0.0)
        assert r["refusal_base"] == 1.0 and r["refusal_drift"] > 0 and r["task_score"] == 0.5
        assert r["over_refusal"] is None
    by = {(r["method"], r["rank"], r["steps"]): r for r in rows}
    assert by[("lora", 2, 1)]["trainable_params"] == 2 * by[("lora", 1, 1)]["trainable_params"]
    assert 0 < by[("lora", 1, 1)]["tokens_seen"] < by[("lora", 1, 3)]["tokens_seen"]
    assert by[("lora", 1, 3)]["forgetting_align"] != 0.0  # training moved the model
    assert by[("lora", 1, 3)]["task_loss"] < by[("lora", 1, 1)]["task_loss_base"]
    # resume: nothing to do; a missing record and a torn last line are repaired
    assert run_sweep(spec, model=model, tokenizer=tiny_tokenizer, behaviour_fn=_fake_behaviour,
                     progress=False) == 0
    lines = spec.records_path.read_text().splitlines()
    spec.records_path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    assert run_sweep(spec, model=model, tokenizer=tiny_tokenizer, behaviour_fn=_fake_behaviour,
                     progress=False) == 1
    again = read_records(spec.records_path)
    assert sorted(map(json.dumps, again)) != [] and len(again) == len(rows)
    assert {json.dumps(r, sort_keys=True) for r in again} >= {
        json.dumps(r, sort_keys=True) for r in rows[:-1]}
    with pytest.raises(SweepError, match="another configuration"):
        load_done(spec.records_path, "0" * 16)
