"""Plots of forgetting scaling-law fits: observed points and fitted curves, methods overlaid.

One panel per LoRA rank; x is the fine-tuning amount (log scale). Per method: seed means with
min-max bars (markers), the Bethune et al. 2025 fit of that rank (solid) and the Kalajdzievski
2024 fit evaluated at that rank's trainable-parameter count (dashed). Figures are drawn with
``matplotlib.figure.Figure`` (no pyplot global state) and written atomically as PNG.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alignguard.artifacts import atomic_write_bytes
from alignguard.scaling.laws import BETHUNE, KALAJDZIEVSKI

COLORS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def _cells(records: Sequence[dict], key: str, amount: str):
    """{(method, rank): (amounts, means, mins, maxs, trainable params)} over seeds."""
    acc: dict = defaultdict(lambda: defaultdict(list))
    params: dict = {}
    for r in records:
        if r.get(amount, 0) > 0 and key in r:
            acc[(r["method"], r["rank"])][r[amount]].append(float(r[key]))
            params[(r["method"], r["rank"])] = float(r["trainable_params"])
    out = {}
    for cell, by_amount in acc.items():
        xs = np.array(sorted(by_amount), dtype=float)
        vals = [np.array(by_amount[x]) for x in sorted(by_amount)]
        out[cell] = (xs, np.array([v.mean() for v in vals]), np.array([v.min() for v in vals]),
                     np.array([v.max() for v in vals]), params[cell])
    return out


def _figure(n_panels: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * n_panels, 3.6), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, axes


def _save(fig, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write_bytes(path, buf.getvalue())


def _curve(fit: dict, law, grid: np.ndarray, other: float, amount_first: bool) -> np.ndarray:
    x = np.stack([grid, np.full_like(grid, other)] if amount_first else
                 [np.full_like(grid, other), grid], axis=1)
    return law.predict(x, fit["params"], np.array(list(fit["x_ref"].values())))


def plot_fits(records: Sequence[dict], report: dict, path: str | Path) -> Path:
    """Observed target vs amount with both fitted laws, all methods on each rank's panel."""
    target, amount = report["target"], report["amount"]
    cells = _cells(records, target, amount)
    methods = sorted({m for m, _ in cells})
    ranks = sorted({r for _, r in cells})
    fig, axes = _figure(max(len(ranks), 1))
    for ax, rank in zip(axes, ranks, strict=False):
        for color, method in zip(COLORS * 4, methods, strict=False):
            if (method, rank) not in cells:
                continue
            xs, mean, lo, hi, n_params = cells[(method, rank)]
            ax.errorbar(xs, mean, yerr=[mean - lo, hi - mean], fmt="o", color=color, ms=4,
                        capsize=2, label=f"{method} observed")
            grid = np.geomspace(xs.min(), xs.max(), 64)
            fits = report["methods"].get(method, {})
            beth = fits.get("bethune", {}).get(str(rank), {})
            if "params" in beth:
                n_model = beth["x_ref"]["N"]
                ax.plot(grid, _curve(beth, BETHUNE, grid, n_model, True), "-", color=color,
                        label=f"{method} Bethune (R2 {beth['r2']:.2f})")
            kal = fits.get("kalajdzievski", {})
            if "params" in kal:
                ax.plot(grid, _curve(kal, KALAJDZIEVSKI, grid, n_params, False), "--",
                        color=color, alpha=0.7, label=f"{method} Kalajdzievski")
        ax.set_xscale("log")
        ax.set_xlabel(amount)
        ax.set_title(f"LoRA rank {rank}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(target)
    fig.suptitle(f"{target}: observed (seed mean, min-max) and fitted laws")
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def plot_task_loss(records: Sequence[dict], path: str | Path, amount: str = "steps") -> Path:
    """Task loss vs amount per rank, methods overlaid (is adaptation preserved?)."""
    cells = _cells(records, "task_loss", amount)
    methods = sorted({m for m, _ in cells})
    ranks = sorted({r for _, r in cells})
    fig, axes = _figure(max(len(ranks), 1))
    for ax, rank in zip(axes, ranks, strict=False):
        for color, method in zip(COLORS * 4, methods, strict=False):
            if (method, rank) in cells:
                xs, mean, lo, hi, _ = cells[(method, rank)]
                ax.plot(xs, mean, "o-", color=color, ms=4, label=method)
                ax.fill_between(xs, lo, hi, color=color, alpha=0.15)
        ax.set_xscale("log")
        ax.set_xlabel(amount)
        ax.set_title(f"LoRA rank {rank}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("task loss")
    axes[0].legend(fontsize=7)
    return _save(fig, path)
