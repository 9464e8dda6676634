"""Robust fitting of forgetting scaling laws: point fit, bootstrap intervals, extrapolation.

The fit minimises a robust loss (``scipy.optimize.least_squares``, ``loss="soft_l1"`` by
default) of log residuals

    r_i = log(offset_i + F(x_i)) - log(offset_i + y_i),

over ``A, E >= 0`` and bounded exponents, from several starts (a grid of exponents, each with
``A`` and ``E`` initialised by non-negative linear least squares). ``offset = 0`` gives plain
log residuals of the target; for forgetting targets the sweep passes the base loss ``L0`` so the
residual is taken on the post-fine-tuning loss ``L_post = L0 + F`` and stays defined when the
measured forgetting is zero or slightly negative (Bethune et al. 2025's ``L_post`` form).

Held-in R^2 is reported on the observed (target) scale, both over all points and over the means
of points that share an input (seed averages: the law models the expected forgetting, seed noise
is irreducible). Bootstrap intervals resample points with replacement (seeded) and refit; the
95% interval is the 2.5/97.5 percentile. The extrapolation check fits on the points whose
fine-tuning amount is below the largest one and predicts the largest. Forms: see
:mod:`alignguard.scaling.laws` (Bethune et al. 2025; Kalajdzievski 2024; arXiv 2508.02079
section "scaling law of forgetting").
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import least_squares, nnls

from alignguard.scaling.laws import PowerLaw, ScalingFitError, validate_inputs

log = logging.getLogger(__name__)

EXPONENT_STARTS = (0.1, 0.5, 1.5)


@dataclass
class FitResult:
    """A fitted law: parameters (amplitude at ``x_ref``), raw amplitude, fit quality."""

    law: str
    formula: str
    params: dict[str, float]
    A_raw: float
    x_ref: dict[str, float]
    fixed: dict[str, float]
    r2: float
    r2_points: float
    n_points: int
    n_inputs: int
    cost: float
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    n_bootstrap_ok: int = 0
    extrapolation: dict[str, float] | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - pred) ** 2))
    if ss_tot <= 0.0:
        return 1.0 if ss_res <= 1e-24 else float("-inf")
    return 1.0 - ss_res / ss_tot


def _group_means(x: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique rows of ``x`` and the per-row mean of each column in ``cols``."""
    ux, inv = np.unique(x, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    counts = np.bincount(inv, minlength=len(ux))
    return (ux, *(np.bincount(inv, weights=c, minlength=len(ux)) / counts for c in cols))


class _Problem:
    """One fit problem: data, offset, free/fixed parameters, bounds, reference point."""

    def __init__(self, law: PowerLaw, x, y, offset, fixed, bounds, x_ref) -> None:
        self.law = law
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float).reshape(-1)
        off = np.zeros_like(self.y) if offset is None else np.asarray(offset, dtype=float)
        self.offset = np.broadcast_to(off, self.y.shape).astype(float)
        self.fixed = dict(fixed or {})
        for j, (name, _) in enumerate(law.exponents):  # a constant variable: exponent not identifiable
            if self.x.ndim == 2 and self.x.shape[1] == len(law.variables) and name not in self.fixed \
                    and np.ptp(self.x[:, j]) == 0:
                self.fixed[name] = 0.0
        self.free = [p for p in law.params if p not in self.fixed]
        validate_inputs(law, self.x, self.y, self.offset, len(self.free))
        b = law.default_bounds() | dict(bounds or {})
        self.lo = np.array([b[p][0] for p in self.free])
        self.hi = np.array([b[p][1] for p in self.free])
        ref = np.exp(np.log(self.x).mean(axis=0)) if x_ref is None else np.asarray(x_ref, float)
        self.x_ref = ref

    def theta(self, vec: np.ndarray) -> dict[str, float]:
        return {**self.fixed, **dict(zip(self.free, map(float, vec), strict=True))}

    def residuals(self, vec: np.ndarray, idx: np.ndarray) -> np.ndarray:
        pred = self.law.predict(self.x[idx], self.theta(vec), self.x_ref)
        return np.log(np.maximum(self.offset[idx] + pred, 1e-300)) - np.log(self.offset[idx] + self.y[idx])

    def starts(self, idx: np.ndarray) -> list[np.ndarray]:
        """Exponent grid; ``A``/``E`` from non-negative least squares at each grid point."""
        names = [p for p in self.free if p not in ("A", "E")]
        grids = []
        for p in names:
            lo, hi = self.lo[self.free.index(p)], self.hi[self.free.index(p)]
            cand = {float(np.clip(v, lo, hi)) for v in (*EXPONENT_STARTS, *(-v for v in EXPONENT_STARTS))}
            grids.append(sorted(cand))
        out = []
        for combo in itertools.product(*grids):
            theta = {**self.fixed, **dict(zip(names, combo, strict=True)), "A": 1.0, "E": 0.0}
            z = self.law.basis(self.x[idx], theta, self.x_ref)
            cols = [c for c, p in ((z, "A"), (np.ones_like(z), "E")) if p in self.free]
            coef = nnls(np.stack(cols, axis=1), np.maximum(self.y[idx], 0.0))[0] if cols else []
            theta.update(dict(zip([p for p in ("A", "E") if p in self.free], coef, strict=True)))
            vec = np.array([theta[p] for p in self.free])
            out.append(np.clip(vec, self.lo, np.minimum(self.hi, 1e12)))
        return out

    def solve(self, idx: np.ndarray, starts: list[np.ndarray], loss: str, f_scale: float):
        best = None
        for x0 in starts:
            x0 = np.clip(x0, self.lo, self.hi)
            try:
                res = least_squares(self.residuals, x0, args=(idx,), bounds=(self.lo, self.hi),
                                    loss=loss, f_scale=f_scale, x_scale="jac", max_nfev=2000)
            except (ValueError, FloatingPointError) as exc:
                log.debug("start %s failed: %s", x0, exc)
                continue
            if np.isfinite(res.cost) and (best is None or res.cost < best.cost):
                best = res
        return best


def fit_law(law: PowerLaw, x, y, *, offset=None, fixed: Mapping[str, float] | None = None,
            bounds: Mapping[str, tuple[float, float]] | None = None, x_ref=None,
            loss: str = "soft_l1", f_scale: float = 0.1) -> FitResult:
    """Fit ``law`` to ``y ~ F(x)`` with a robust loss on log residuals (multi-start).

    Args:
        law: the functional form (:data:`~alignguard.scaling.laws.BETHUNE` or ``KALAJDZIEVSKI``).
        x: inputs, shape ``(n, len(law.variables))``, all > 0.
        y: observed target (e.g. forgetting ``L_post - L0``), shape ``(n,)``.
        offset: added to prediction and observation before the log (scalar or ``(n,)``).
        fixed: parameters held at a value (exponents of constant variables are fixed at 0).
        bounds: per-parameter ``(low, high)`` overriding the law's defaults.
        x_ref: reference point for the amplitude (default: geometric mean of ``x``).
        loss: robust loss of ``least_squares`` ("soft_l1", "huber", "cauchy", "linear").
        f_scale: residual scale (log units) where the robust loss turns linear.

    Raises:
        ScalingFitError: degenerate input (see :func:`~alignguard.scaling.laws.validate_inputs`)
            or no start converged.
    """
    prob = _Problem(law, x, y, offset, fixed, bounds, x_ref)
    idx = np.arange(len(prob.y))
    res = prob.solve(idx, prob.starts(idx), loss, f_scale)
    if res is None:
        raise ScalingFitError(f"{law.name}: no start converged; check the data for outliers")
    theta = prob.theta(res.x)
    pred = law.predict(prob.x, theta, prob.x_ref)
    ux, ym, pm = _group_means(prob.x, prob.y, pred)
    return FitResult(
        law=law.name, formula=law.formula, params=theta,
        A_raw=law.amplitude_raw(theta, prob.x_ref),
        x_ref=dict(zip(law.variables, map(float, prob.x_ref), strict=True)),
        fixed=dict(prob.fixed), r2=_r2(ym, pm), r2_points=_r2(prob.y, pred),
        n_points=len(prob.y), n_inputs=len(ux), cost=float(res.cost),
    )


def bootstrap_intervals(law: PowerLaw, x, y, fit: FitResult, *, n_boot: int = 200, seed: int = 0,
                        offset=None, bounds=None, loss: str = "soft_l1", f_scale: float = 0.1,
                        level: float = 0.95) -> FitResult:
    """Add percentile bootstrap intervals (resampling points, seeded) to ``fit`` in place.

    Resamples that leave fewer distinct inputs than free parameters are skipped; each refit
    starts from the point estimate and from the exponent grid's first start. Intervals are given
    for every free parameter and for the raw-unit amplitude ``A_raw``.
    """
    if n_boot < 1:
        return fit
    prob = _Problem(law, x, y, offset, fit.fixed, bounds, list(fit.x_ref.values()))
    rng = np.random.default_rng(seed)
    n = len(prob.y)
    point = np.array([fit.params[p] for p in prob.free])
    draws: list[dict[str, float]] = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if len({tuple(r) for r in prob.x[idx]}) < len(prob.free):
            continue
        res = prob.solve(idx, [point, *prob.starts(idx)[:1]], loss, f_scale)
        if res is not None:
            theta = prob.theta(res.x)
            draws.append({**theta, "A_raw": law.amplitude_raw(theta, prob.x_ref)})
    fit.n_bootstrap_ok = len(draws)
    if len(draws) < 2:
        log.warning("%s: only %d bootstrap refits succeeded; no intervals", law.name, len(draws))
        return fit
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
    for key in draws[0]:
        vals = np.array([d[key] for d in draws])
        lo, hi = np.percentile(vals, q)
        fit.intervals[key] = (float(lo), float(hi))
    return fit


def extrapolation_error(law: PowerLaw, x, y, *, amount_col: int, offset=None, fixed=None,
                        bounds=None, loss: str = "soft_l1", f_scale: float = 0.1) -> dict[str, float]:
    """Fit on points with amount < max amount, predict the max-amount points.

    Returns:
        ``{"amount": max amount, "predicted": mean prediction, "observed": mean observation,
        "abs_err": |pred - obs|, "rel_err": |pred - obs| / |obs|, "rel_err_loss": the same on
        the ``offset + y`` scale (e.g. relative error of the predicted post-fine-tuning loss)}``,
        means taken over the held-out points.

    Raises:
        ScalingFitError: too few smaller amounts to fit.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    off = np.broadcast_to(np.zeros(1) if offset is None else np.asarray(offset, float), y.shape)
    top = x[:, amount_col].max()
    held = x[:, amount_col] == top
    if held.all():
        raise ScalingFitError(f"{law.name}: extrapolation needs more than one fine-tuning amount")
    fit = fit_law(law, x[~held], y[~held], offset=off[~held], fixed=fixed, bounds=bounds,
                  loss=loss, f_scale=f_scale)
    pred = law.predict(x[held], fit.params, np.array(list(fit.x_ref.values())))
    p, o, base = float(pred.mean()), float(y[held].mean()), float(off[held].mean())
    return {
        "amount": float(top), "predicted": p, "observed": o, "abs_err": abs(p - o),
        "rel_err": abs(p - o) / abs(o) if o != 0 else float("inf"),
        "rel_err_loss": abs(p - o) / abs(base + o) if base + o != 0 else float("inf"),
        "fit_r2": fit.r2,
    }
