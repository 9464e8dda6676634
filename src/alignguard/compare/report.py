"""The comparison's self-contained HTML report: verdict, tables, frontier plots, cost ratios."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from alignguard.artifacts import atomic_write_text
from alignguard.htmlreport import esc, figure_img, html_table, page
from alignguard.htmlreport import verdict as verdict_html


def verdict(summary: dict) -> str:
    """One line per scenario: the method with the largest drift cut and its task score."""
    parts = []
    for scenario, block in summary.items():
        methods = {m: s for m, s in block["methods"].items() if s.get("drift_cut") is not None}
        if not methods:
            parts.append(f"{scenario}: plain LoRA did not drift (or no base/LoRA cell yet)")
            continue
        best, s = max(methods.items(), key=lambda kv: kv[1]["drift_cut"])
        lora = block["methods"]["lora"]["task"]["mean"]
        parts.append(f"{scenario}: {best} cuts drift most ({100 * s['drift_cut']:.0f}%, task "
                     f"{s['task']['mean']:.2f} vs LoRA {lora:.2f})")
    return "; ".join(parts)


def frontier_figure(scenario: str, block: dict) -> Figure:
    """Task score (x) against held-out refusal (y) per method, std bars, the base as a star."""
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    placed: list[tuple[float, float]] = []
    for method, s in sorted(block["methods"].items(), key=lambda kv: -kv[1]["refusal"]["mean"]):
        x, y = s["task"]["mean"], s["refusal"]["mean"]
        color = "#d62728" if method == "lora" else ("#1f77b4" if s["frontier"] else "#7f7f7f")
        ax.errorbar(x, y, xerr=s["task"]["std"], yerr=s["refusal"]["std"], fmt="o", color=color,
                    capsize=2, ms=5)
        # a label near an earlier one (within ~0.08 task, 0.03 refusal) steps down a line
        near = sum(abs(x - px) < 0.08 and abs(y - py) < 0.03 for px, py in placed)
        placed.append((x, y))
        ax.annotate(method, (x, y), textcoords="offset points", xytext=(4, 4 - 10 * near), fontsize=8)
    base = block["base"]
    if base:
        ax.plot(base["task"], base["refusal"], "*", color="black", ms=12)
        ax.annotate("aligned base", (base["task"], base["refusal"]), textcoords="offset points",
                    xytext=(4, -10), fontsize=8)
    ax.set_xlim(-0.05, 1.1)
    ax.set_ylim(-0.05, 1.1)
    ax.set_xlabel("task score on held-out items (utility)")
    ax.set_ylabel("refusal of held-out unsafe prompts (safety)")
    ax.set_title(f"{scenario}: safety/utility frontier (blue: on the frontier, red: plain LoRA)")
    ax.grid(alpha=0.3)
    return fig


def _rows(block: dict) -> list[dict]:
    rows = []
    for method, s in sorted(block["methods"].items(), key=lambda kv: -kv[1]["refusal"]["mean"]):
        cut = s.get("drift_cut")
        rows.append({"method": method, "seeds": len(s["seeds"]),
                     "refusal": f"{s['refusal']['mean']:.3f} ± {s['refusal']['std']:.3f}",
                     "over-refusal": f"{s['over_refusal']['mean']:.3f} ± {s['over_refusal']['std']:.3f}",
                     "task": f"{s['task']['mean']:.3f} ± {s['task']['std']:.3f}",
                     "degenerate": f"{s['degenerate']['mean']:.3f}",
                     "drift cut": "—" if cut is None else f"{100 * cut:.0f}%",
                     "step time vs LoRA": s["step_time_ratio"], "peak memory vs LoRA": s["peak_mem_ratio"],
                     "frontier": "yes" if s["frontier"] else ""})
    return rows


def write_report(path: Path, results: dict) -> Path:
    """Write the report for ``results`` (see :func:`alignguard.compare.run.run_compare`)."""
    summary = results["summary"]
    body = [verdict_html(verdict(summary)),
            "<p class='note'>Mean ± std over seeds. Drift = aligned-base refusal − fine-tuned "
            "refusal; drift cut = 1 − drift(method) / drift(plain LoRA). Cost ratios are the "
            "method's median step time and training peak memory over plain LoRA's, same seed, "
            "same machine.</p>"]
    for scenario, block in summary.items():
        base = block["base"]
        body.append(f"<h2>{esc(scenario)}</h2>")
        if base:
            body.append(f"<p>aligned base: refusal {base['refusal']:.3f}, over-refusal "
                        f"{base['over_refusal']:.3f}, task {base['task']:.3f}</p>")
        body.append(html_table(_rows(block), caption=f"{scenario}: every method"))
        body.append(figure_img(frontier_figure(scenario, block), alt=f"{scenario} frontier"))
    body.append(f"<p class='note'>{results['n_cells']} cells; config in results.json.</p>")
    title = f"AlignGuard compare: {results['config']['model']}"  # page() escapes it
    return atomic_write_text(path, page(title, "\n".join(body)))
