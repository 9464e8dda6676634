"""From sweep records to scaling-law fits and method comparisons (method.md section 5).

Per method (plain LoRA, AGL, ...) :func:`analyse` fits

* the Bethune et al. (2025) form per LoRA rank, ``F(D) = A * D**beta / N**alpha + E`` with ``D``
  the fine-tuning amount (``N``, the base model size, is constant in one sweep, so ``alpha`` is
  fixed at 0), and
* the Kalajdzievski (2024) form over all ranks and amounts, ``F(P, t) = A * P**alpha * t**beta +
  E`` with ``P`` the trainable parameters,

to the chosen target (forgetting of alignment data or pre-training text: ``L_post - L0``;
refusal drift; or task loss), with bootstrap 95% intervals and an extrapolation check. All
methods share one reference point ``x_ref`` so that amplitudes ``A`` (at ``x_ref``) compare
directly: a "flatter" law (AlignGuard-LoRA, arXiv 2508.02079) has a smaller amplitude and residual.
It also compares methods point by point (paired by rank, amount and seed): the mean difference of
the target and of the task loss with bootstrap intervals ("adaptation preserved" when the task
loss differs by less than ``tolerance`` relative).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alignguard.artifacts import read_jsonl
from alignguard.scaling.fit import bootstrap_intervals, extrapolation_error, fit_law
from alignguard.scaling.laws import BETHUNE, KALAJDZIEVSKI, ScalingFitError

log = logging.getLogger(__name__)

# target -> (record key of the offset added before the log, or a constant; decreasing in amount)
TARGETS: dict[str, tuple[str | float, bool]] = {
    "forgetting_align": ("align_loss_base", False),
    "forgetting_pretrain": ("pretrain_loss_base", False),
    "refusal_drift": (1.0, False),
    "task_loss": (0.0, True),
}
AMOUNTS = ("steps", "tokens_seen")
BASELINE = "lora"


def read_records(path: str | Path) -> list[dict]:
    """Read sweep records (JSONL); raises :class:`ScalingFitError` on a missing/empty file."""
    records = [row for _, row in read_jsonl(
        path, error=ScalingFitError,
        missing="sweep results {path} do not exist; run `alignguard scaling sweep`")]
    if not records:
        raise ScalingFitError(f"sweep results {path} are empty")
    return records


def _columns(records: Sequence[dict], target: str, amount: str):
    """(amount, trainable params, target, offset) arrays for the records."""
    key, _ = TARGETS[target]
    d = np.array([r[amount] for r in records], dtype=float)
    p = np.array([r["trainable_params"] for r in records], dtype=float)
    y = np.array([r[target] for r in records], dtype=float)
    off = (np.full_like(y, float(key)) if not isinstance(key, str)
           else np.array([r[key] for r in records], dtype=float))
    return d, p, y, off


def _bounds(decreasing: bool) -> dict[str, tuple[float, float]]:
    return {"beta": (-3.0, 0.0)} if decreasing else {}


def _fit_one(law, x, y, off, *, bounds, x_ref, amount_col, n_boot, seed) -> dict:
    """Point fit + bootstrap + extrapolation as a dict; an ``error`` key if the fit failed."""
    try:
        fit = fit_law(law, x, y, offset=off, bounds=bounds, x_ref=x_ref)
        bootstrap_intervals(law, x, y, fit, n_boot=n_boot, seed=seed, offset=off, bounds=bounds)
    except ScalingFitError as exc:
        return {"error": str(exc)}
    out = fit.to_dict()
    try:
        out["extrapolation"] = extrapolation_error(law, x, y, amount_col=amount_col, offset=off,
                                                   fixed=fit.fixed, bounds=bounds)
    except ScalingFitError as exc:
        out["extrapolation"] = {"error": str(exc)}
    return out


def fit_method(records: Sequence[dict], *, target: str, amount: str, x_ref: dict[str, float],
               n_boot: int, seed: int) -> dict:
    """Bethune fits per rank and one Kalajdzievski fit for one method's records."""
    _, decreasing = TARGETS[target]
    bounds = _bounds(decreasing)
    d, p, y, off = _columns(records, target, amount)
    ranks = np.array([r["rank"] for r in records])
    n_model = np.array([float(r.get("model_params", 1.0)) for r in records])
    bethune = {}
    for rank in sorted(set(ranks.tolist())):
        m = ranks == rank
        x = np.stack([d[m], n_model[m]], axis=1)
        ref = [x_ref["D"], float(np.exp(np.log(n_model[m]).mean()))]
        bethune[str(rank)] = _fit_one(BETHUNE, x, y[m], off[m], bounds=bounds, x_ref=ref,
                                      amount_col=0, n_boot=n_boot, seed=seed)
    kal = _fit_one(KALAJDZIEVSKI, np.stack([p, d], axis=1), y, off, bounds=bounds,
                   x_ref=[x_ref["P"], x_ref["D"]], amount_col=1, n_boot=n_boot, seed=seed)
    return {"bethune": bethune, "kalajdzievski": kal}


def _mean_ci(values: np.ndarray, rng: np.random.Generator, n_boot: int = 1000) -> dict:
    """Mean and percentile-bootstrap 95% interval of ``values``."""
    if len(values) == 0:
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")], "n": 0}
    boots = rng.choice(values, size=(n_boot, len(values)), replace=True).mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"mean": float(values.mean()), "ci95": [float(lo), float(hi)], "n": int(len(values))}


def paired_comparison(records: Sequence[dict], method: str, *, target: str, amount: str,
                      seed: int = 0, tolerance: float = 0.05) -> dict:
    """``method`` minus plain LoRA, paired by (rank, amount, seed): target and task loss.

    Reports mean differences with bootstrap 95% intervals over all pairs and at the largest
    amount, the relative task-loss gap ``task(method) / task(lora) - 1``, and
    ``adaptation_preserved``: the 95% interval of that gap at the largest amount lies within
    ``+-tolerance``.
    """
    key = ("rank", amount, "seed")
    base = {tuple(r[k] for k in key): r for r in records if r["method"] == BASELINE}
    pairs = [(r, base[tuple(r[k] for k in key)]) for r in records
             if r["method"] == method and tuple(r[k] for k in key) in base]
    if not pairs:
        return {"error": f"no records of {method!r} paired with {BASELINE!r} by {key}"}
    rng = np.random.default_rng(seed)
    top = max(r[amount] for r, _ in pairs)
    out: dict = {"n_pairs": len(pairs), "max_amount": top}
    for name, fn in ((target, lambda a, b: a[target] - b[target]),
                     ("task_loss", lambda a, b: a["task_loss"] - b["task_loss"]),
                     ("task_loss_rel", lambda a, b: a["task_loss"] / b["task_loss"] - 1.0)):
        out[f"diff_{name}"] = _mean_ci(np.array([fn(a, b) for a, b in pairs]), rng)
        out[f"diff_{name}_at_max"] = _mean_ci(
            np.array([fn(a, b) for a, b in pairs if a[amount] == top]), rng)
    if all(a.get("task_score") is not None and b.get("task_score") is not None for a, b in pairs):
        out["diff_task_score"] = _mean_ci(
            np.array([a["task_score"] - b["task_score"] for a, b in pairs]), rng)
        out["diff_task_score_at_max"] = _mean_ci(np.array(
            [a["task_score"] - b["task_score"] for a, b in pairs if a[amount] == top]), rng)
    lo, hi = out["diff_task_loss_rel_at_max"]["ci95"]
    out["tolerance"] = tolerance
    out["adaptation_preserved"] = bool(-tolerance <= lo and hi <= tolerance)
    return out


def analyse(records: Sequence[dict], *, target: str = "forgetting_align", amount: str = "steps",
            n_boot: int = 200, seed: int = 0) -> dict:
    """Fits per method, amplitude/residual comparison and paired comparisons (JSON-ready).

    Raises:
        ScalingFitError: unknown target/amount or records missing the needed keys.
    """
    if target not in TARGETS:
        raise ScalingFitError(f"unknown target {target!r}; choose from {sorted(TARGETS)}")
    if amount not in AMOUNTS:
        raise ScalingFitError(f"unknown amount {amount!r}; choose from {list(AMOUNTS)}")
    need = {"method", "rank", "seed", "trainable_params", amount, target, "task_loss"}
    missing = sorted(need - set(records[0])) if records else sorted(need)
    if missing:
        raise ScalingFitError(f"sweep records need keys {sorted(need)}; missing {missing}")
    # D = 0 rows are the baseline L0; a None target was not measured (e.g. --no-refusal)
    records = [r for r in records if r[amount] > 0 and r[target] is not None]
    if not records:
        raise ScalingFitError(f"no sweep record has a measured {target!r} at {amount} > 0 (a "
                              "sweep run with --no-refusal has no refusal_drift)")
    d, p, _, _ = _columns(records, target, amount)
    x_ref = {"D": float(np.exp(np.log(d).mean())), "P": float(np.exp(np.log(p).mean()))}
    by_method: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_method[r["method"]].append(r)
    report: dict = {"target": target, "amount": amount, "x_ref": x_ref, "n_bootstrap": n_boot,
                    "methods": {}, "comparison": {}}
    for method, recs in sorted(by_method.items()):
        log.info("fitting %s (%d records)", method, len(recs))
        report["methods"][method] = fit_method(recs, target=target, amount=amount, x_ref=x_ref,
                                               n_boot=n_boot, seed=seed)
    for method in sorted(by_method):
        if method != BASELINE and BASELINE in by_method:
            report["comparison"][method] = paired_comparison(records, method, target=target,
                                                             amount=amount, seed=seed)
    report["min_r2"] = _min_r2(report)
    report["flattening"] = {m: flattening(report, m) for m in report["comparison"]}
    return report


def _ratio(fit: dict, base: dict, name: str) -> dict:
    """``name`` of ``fit`` vs ``base``: ratio, and whether the 95% intervals are disjoint."""
    a, b = fit["params"][name], base["params"][name]
    ia, ib = fit["intervals"].get(name), base["intervals"].get(name)
    return {"method": a, "baseline": b, "ratio": a / b if b > 0 else float("inf"),
            "smaller_disjoint": bool(ia and ib and ia[1] < ib[0])}


def flattening(report: dict, method: str) -> dict:
    """Amplitude and residual of ``method``'s laws relative to plain LoRA's (shared ``x_ref``).

    AGL "flattens" forgetting (arXiv 2508.02079) when its amplitude is smaller with disjoint
    95% bootstrap intervals; ``flattens`` holds when that is true of the Kalajdzievski fit.
    """
    ours, base = report["methods"][method], report["methods"].get(BASELINE)
    if base is None:
        return {}
    out: dict = {}
    pairs = [("kalajdzievski", ours["kalajdzievski"], base["kalajdzievski"])]
    pairs += [(f"bethune r={r}", f, base["bethune"].get(r, {})) for r, f in ours["bethune"].items()]
    for label, fit, ref in pairs:
        if "params" in fit and "params" in ref:
            out[label] = {"A": _ratio(fit, ref, "A"), "E": _ratio(fit, ref, "E")}
    kal = out.get("kalajdzievski")
    out["flattens"] = bool(kal and kal["A"]["smaller_disjoint"])
    return out


def jsonable(obj):
    """``obj`` with tuples as lists and non-finite floats as ``None`` (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    return obj


def _iter_fits(report: dict):
    for method, fits in report["methods"].items():
        for rank, fit in fits["bethune"].items():
            yield method, f"bethune r={rank}", fit
        yield method, "kalajdzievski", fits["kalajdzievski"]


def _min_r2(report: dict) -> dict[str, float | None]:
    """Smallest held-in R^2 (seed means) per method over its fits."""
    out: dict[str, float | None] = {}
    for method, _, fit in _iter_fits(report):
        if "r2" in fit:
            prev = out.get(method)
            out[method] = fit["r2"] if prev is None else min(prev, fit["r2"])
        else:
            out.setdefault(method, None)
    return out


def _fmt(fit: dict, name: str) -> str:
    val = fit["params"][name] if name in fit["params"] else fit.get(name)
    lo, hi = fit.get("intervals", {}).get(name, (float("nan"), float("nan")))
    return f"{name}={val:.4g} [{lo:.3g}, {hi:.3g}]"


def summary_lines(report: dict) -> list[str]:
    """Human-readable summary of :func:`analyse`'s report."""
    lines = [f"target {report['target']} vs {report['amount']} (x_ref {report['x_ref']})"]
    for method, label, fit in _iter_fits(report):
        if "error" in fit:
            lines.append(f"  {method:>6} {label:<16} fit failed: {fit['error']}")
            continue
        ex = fit.get("extrapolation") or {}
        ex_txt = f"extrap rel err {ex['rel_err']:.3g}" if "rel_err" in ex else "extrap n/a"
        terms = " ".join(_fmt(fit, p) for p in fit["params"] if p not in fit["fixed"])
        lines.append(f"  {method:>6} {label:<16} {terms} A_raw={fit['A_raw']:.3g} "
                     f"R2={fit['r2']:.3f} (points {fit['r2_points']:.3f}) {ex_txt}")
    for method, cmp in report["comparison"].items():
        if "error" in cmp:
            lines.append(f"  {method} vs {BASELINE}: {cmp['error']}")
            continue
        t = cmp[f"diff_{report['target']}_at_max"]
        g = cmp["diff_task_loss_rel_at_max"]
        lines.append(
            f"  {method} - {BASELINE} at max amount: {report['target']} {t['mean']:+.4g} "
            f"[{t['ci95'][0]:+.3g}, {t['ci95'][1]:+.3g}]; task loss rel {g['mean']:+.3%} "
            f"[{g['ci95'][0]:+.2%}, {g['ci95'][1]:+.2%}]; adaptation preserved: "
            f"{cmp['adaptation_preserved']}")
    for method, flat in report.get("flattening", {}).items():
        kal = flat.get("kalajdzievski")
        if kal:
            lines.append(f"  {method} / {BASELINE} Kalajdzievski amplitude ratio "
                         f"{kal['A']['ratio']:.3g}, residual ratio {kal['E']['ratio']:.3g}; "
                         f"flattens (smaller A, disjoint 95% intervals): {flat['flattens']}")
    lines.append(f"  min held-in R^2 per method: {report['min_r2']}")
    return lines
