"""Statistics for DriftCheck: bootstrap intervals (paired over prompts) and judge agreement.

Drift of a rate (e.g. refusal accuracy on unsafe prompts) between a model ``a`` and a reference
``b`` judged on the same prompts is ``d = mean(a) - mean(b)``. Its 95% interval is the
percentile interval of ``d*`` over ``n_boot`` resamples of the *prompts* with replacement, the
same resampled indices for both models (a paired bootstrap: the per-prompt difficulty cancels).
Judge agreement is the raw agreement rate and Cohen's kappa
``(p_o - p_e) / (1 - p_e)``, ``p_e = p1 q1 + (1 - p1)(1 - q1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def to_dict(self) -> dict[str, float]:
        """JSON form."""
        return asdict(self)


def _as_array(x: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def bootstrap_mean(x: Sequence[float] | np.ndarray, n_boot: int = 2000, level: float = 0.95,
                   seed: int = 0) -> Interval:
    """Mean of ``x`` with a percentile bootstrap interval (``nan`` interval when ``x`` is empty)."""
    x = _as_array(x)
    if x.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(x.mean()), float(lo), float(hi), int(x.size), level)


def paired_bootstrap_diff(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                          n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """``mean(a) - mean(b)`` over paired observations with a paired percentile interval.

    Raises:
        ValueError: ``a`` and ``b`` have different lengths (they must be the same prompts).
    """
    a, b = _as_array(a), _as_array(b)
    if a.shape != b.shape:
        raise ValueError(f"paired bootstrap needs equal lengths (same prompts), got {a.size} and {b.size}")
    return bootstrap_mean(a - b, n_boot=n_boot, level=level, seed=seed)


def agreement(x: Sequence[bool], y: Sequence[bool]) -> dict[str, float]:
    """Raw agreement rate and Cohen's kappa of two binary judgements of the same items."""
    x_arr, y_arr = _as_array(x) > 0.5, _as_array(y) > 0.5
    if x_arr.shape != y_arr.shape:
        raise ValueError("agreement needs two judgements of the same items")
    n = x_arr.size
    if n == 0:
        return {"agreement": float("nan"), "kappa": float("nan"), "n": 0}
    p_o = float((x_arr == y_arr).mean())
    p1, q1 = float(x_arr.mean()), float(y_arr.mean())
    p_e = p1 * q1 + (1 - p1) * (1 - q1)
    kappa = 1.0 if p_e == 1.0 else (p_o - p_e) / (1 - p_e)
    return {"agreement": p_o, "kappa": float(kappa), "n": n}
