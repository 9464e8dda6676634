"""The demo's self-contained HTML report: tables and plots (no external assets)."""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.figure import Figure

from alignguard.artifacts import atomic_write_text
from alignguard.htmlreport import esc, figure_img, html_table, legend_above, page, verdict

COLORS = {"base": "#7f7f7f", "lora": "#d62728"}
DEFENSE_COLOR = "#1f77b4"


def _defense(runs: list[dict]) -> str:
    """The method the demo compares against plain LoRA."""
    return next((r["method"] for r in runs if r["method"] != "lora"), "defense")


def _mean_metric(runs: list[dict], method: str, getter) -> float | None:
    vals = [getter(r["metrics"]) for r in runs if r["method"] == method]
    vals = [v for v in vals if v is not None]
    return statistics.fmean(vals) if vals else None


def category_figure(base: dict, runs: list[dict]) -> Figure:
    """Grouped bars: refusal accuracy per unsafe category for base, plain LoRA and the defense."""
    cats = sorted(base.get("refusal_per_category", {}))
    fig = Figure(figsize=(8, 3.4))
    ax = fig.subplots()
    width = 0.27
    for i, method in enumerate(("base", "lora", _defense(runs))):
        if method == "base":
            vals = [base["refusal_per_category"][c] for c in cats]
        else:
            vals = [_mean_metric(runs, method, lambda m, c=c: m.get("refusal_per_category", {}).get(c)) or 0.0
                    for c in cats]
        ax.bar([x + (i - 1) * width for x in range(len(cats))], vals, width, label=method,
               color=COLORS.get(method, DEFENSE_COLOR))
    ax.set_xticks(range(len(cats)), cats)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("unsafe category")
    ax.set_ylabel("refusal accuracy (held-out)")
    ax.set_title("Refusal of unsafe requests per category")
    fig.tight_layout()
    legend_above(fig, [ax])
    return fig


def loss_figure(runs: list[dict]) -> Figure:
    """Task loss and every regularizer term over training, plain LoRA vs the defense (first seed)."""
    first = {}
    for r in runs:
        first.setdefault(r["method"], r)
    terms = sorted({k for r in first.values() for row in r["history"] for k in row
                    if k.startswith(("reg/", "gate/"))})  # gate/fraction: rows gated so far
    fig = Figure(figsize=(10, 2.6 * (1 + (len(terms) + 1) // 3)))
    axes = fig.subplots(1 + (len(terms) + 1) // 3, 3).ravel()
    for ax, key in zip(axes, ["task_loss", *terms], strict=False):
        for method, run in first.items():
            steps = [row["step"] for row in run["history"] if key in row]
            vals = [row[key] for row in run["history"] if key in row]
            ax.plot(steps, vals, label=method, color=COLORS.get(method, DEFENSE_COLOR))
        ax.set_title(key.replace("reg/", "term: ").replace("gate/", "gate: "), fontsize=9)
        if key != "task_loss" and any(row.get(key, 0) > 0 for r in first.values() for row in r["history"]):
            ax.set_yscale("symlog", linthresh=1e-6)
        ax.set_xlabel("optimizer step", fontsize=7)
        ax.set_ylabel("value (unweighted)" if key != "task_loss" else "task loss (token NLL)", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in axes[len(terms) + 1:]:
        ax.set_visible(False)
    fig.suptitle("Loss terms during fine-tuning (every term is logged, weighted or not)")
    fig.tight_layout()
    legend_above(fig, axes[:len(terms) + 1])
    return fig


def frontier_figure(base: dict, runs: list[dict], sweep: list[dict]) -> Figure:
    """Safety-utility frontier: task score vs refusal for the defense at each value of its
    swept weight, and plain LoRA."""
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    pts = sorted((s["value"], s["metrics"]["refusal_accuracy"], s["metrics"]["task_score"]) for s in sweep)
    name = sweep[0]["method"] if sweep else _defense(runs)
    ax.plot([p[1] for p in pts], [p[2] for p in pts], "o-", color=DEFENSE_COLOR,
            label=f"{name} ({sweep[0]['field'] if sweep else 'weight'} sweep)")
    for value, x, y in pts:
        ax.annotate(f"{value:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    lora = [(r["metrics"]["refusal_accuracy"], r["metrics"]["task_score"]) for r in runs if r["method"] == "lora"]
    ax.scatter([p[0] for p in lora], [p[1] for p in lora], color=COLORS["lora"], marker="s", label="plain LoRA")
    ax.axvline(base["refusal_accuracy"], color=COLORS["base"], ls="--", lw=1, label="aligned base refusal")
    ax.set_xlabel("refusal accuracy on held-out unsafe prompts")
    ax.set_ylabel("task score (new skill)")
    ax.set_title("Safety-utility frontier")
    fig.tight_layout()
    legend_above(fig, [ax], ncol=2)
    return fig


def verdict_line(results: dict) -> str:
    """One sentence: how much refusal drift the defense removed against plain LoRA (drift =
    base refusal - fine-tuned refusal, positive = refusals lost)."""
    drift = results["summary"].get("drift")
    if not drift:
        return "Verdict: no plain LoRA / defense pair to compare (run both methods for a verdict)."
    cut = drift.get("reduction")
    how = f"cut refusal drift by {cut:.0%}" if cut is not None else "was compared"
    return (f"Verdict: {drift['method']} {how} against plain LoRA (drift = base \u2212 fine-tuned "
            f"refusal: LoRA {drift['lora']:.3f}, {drift['method']} {drift['defense']:.3f}).")


def write_report(path: Path, results: dict, runs: list[dict], sweep: list[dict]) -> Path:
    """Write the demo report (tables + plots) atomically to ``path``."""
    from alignguard.demo.table import METRICS, format_table

    base, summary = results["base"], results["summary"]
    rows = []
    for key in METRICS:
        row = {"metric": key, "aligned base": base.get(key)}
        for method in ("lora", results["method"]):
            s = summary.get(method, {}).get(key)
            row[method] = f"{s['mean']:.3f} ± {s['std']:.3f} ({s['delta_vs_base']:+.3f})" if s else None
        rows.append(row)
    body = [verdict(verdict_line(results)), f"<p>Scenario <b>{esc(results['scenario'])}</b>: the aligned organism is fine-tuned with plain "
            f"LoRA and with <b>{esc(results['method'])}</b> (same data, seed and steps). Drift = base refusal − "
            "fine-tuned refusal on held-out phrasings.</p>",
            html_table(rows, caption="Headline metrics (mean ± std over seeds; change vs base)"),
            f"<pre>{esc(format_table(results))}</pre>",
            figure_img(category_figure(base, runs), "per-category refusal"),
            figure_img(loss_figure(runs), "loss curves")]
    if sweep:
        body.append(figure_img(frontier_figure(base, runs, sweep), "frontier"))
    body.append(f"<p class='note'>Provenance: git {esc(results['provenance'].get('git_commit'))}, "
                f"packages {esc(results['provenance'].get('packages'))}</p>")
    return atomic_write_text(path, page("AlignGuard demo", "\n".join(body)))
