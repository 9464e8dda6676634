"""The comparison's self-contained HTML report: verdict, tables, frontier plots, cost ratios."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from alignguard.artifacts import atomic_write_text
from alignguard.compare.human import CAPTION, table_rows
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


MARKERS = "osD^vP*Xhp<>"


def frontier_figure(scenario: str, block: dict) -> Figure:
    """Task score (x) against held-out refusal (y) per method, mean and std bars over seeds.

    Left: the whole square with the aligned base (a star; it has not learned the task, so it
    sits at the left). Right: the same points zoomed onto the task range of the methods within
    10 points of plain LoRA's task, where methods differ by a point or two, with the base's
    refusal as a dashed line. Methods
    are told apart by colour and marker in the legend (labels beside the points overlap when
    they cluster); filled markers are on the frontier, hollow ones off it, plain LoRA is red.
    """
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    full, zoom = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    methods = sorted(block["methods"].items(), key=lambda kv: -kv[1]["refusal"]["mean"])
    palette = _colours(len(methods))
    for i, (method, s) in enumerate(methods):
        x, y = s["task"]["mean"], s["refusal"]["mean"]
        colour = "#d62728" if method == "lora" else palette[i]
        style = {"fmt": MARKERS[i % len(MARKERS)], "color": colour, "capsize": 2, "ms": 7,
                 "mfc": colour if s["frontier"] or method == "lora" else "white", "mew": 1.5}
        full.errorbar(x, y, xerr=s["task"]["std"], yerr=s["refusal"]["std"], **style)
        zoom.errorbar(x, y, xerr=s["task"]["std"], yerr=s["refusal"]["std"], label=method, **style)
    tasks = _zoomed_tasks(block)
    if tasks:
        pad = max(0.01, 0.15 * (max(tasks) - min(tasks)))
        zoom.set_xlim(min(tasks) - pad, max(tasks) + pad)
    base = block["base"]
    if base:
        full.plot(base["task"], base["refusal"], "*", color="black", ms=13)
        full.annotate("aligned base", (base["task"], base["refusal"]), textcoords="offset points",
                      xytext=(6, -12), fontsize=8)
        zoom.axhline(base["refusal"], color="black", ls="--", lw=1,
                     label=f"aligned base refusal ({base['refusal']:.2f})")
    full.set_xlim(-0.05, 1.1)
    for ax in (full, zoom):
        ax.set_ylim(-0.05, 1.1)
        ax.grid(alpha=0.3)
        ax.set_xlabel("task score on held-out items (utility)")
    full.set_ylabel("refusal of held-out unsafe prompts (safety)")
    full.set_title("overview", fontsize=10)
    zoom.set_title("zoomed on task: methods within 10 points of plain LoRA's", fontsize=10)
    zoom.legend(fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.suptitle(f"{scenario}: safety/utility frontier (filled: on the frontier, hollow: off it, "
                 "red: plain LoRA)", fontsize=11)
    return fig


def _zoomed_tasks(block: dict, within: float = 0.1) -> list[float]:
    """The task scores the zoom spans: methods within ``within`` of plain LoRA's task (all
    methods when there is no LoRA cell); one that lost the task shows in the overview only."""
    tasks = {m: s["task"]["mean"] for m, s in block["methods"].items()}
    if "lora" not in tasks:
        return list(tasks.values())
    return [t for t in tasks.values() if t >= tasks["lora"] - within]


def _colours(n: int) -> list:
    """``n`` distinct colours from matplotlib's qualitative maps (red left to plain LoRA)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgb

    red = to_rgb("#d62728")
    colours = [c for c in colormaps["tab10" if n <= 9 else "tab20"].colors
               if max(abs(a - b) for a, b in zip(to_rgb(c), red, strict=True)) > 0.05]
    return [colours[i % len(colours)] for i in range(n)]


def _cost(stats: dict, key: str) -> float | str | None:
    """A cost ratio, marked when it compares timings of two runs (``--reference-from``)."""
    value = stats[key]
    if value is None or not stats.get("cost_ratio_other_run"):
        return value
    return f"{value:.2f} (another run's LoRA)"


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
                     "step time vs LoRA": _cost(s, "step_time_ratio"),
                     "peak memory vs LoRA": _cost(s, "peak_mem_ratio"),
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
    config = results["config"]
    if not str(config["model"]).startswith("organism") and config.get("judges"):
        judges = config["judges"]
        body.append(f"<p class='note'>Refusal and over-refusal are judged by <code>{esc(judges[0])}</code>"
                    + (f" (also recorded: {esc(', '.join(judges[1:]))})" if judges[1:] else "") + ".</p>")
    for scenario, block in summary.items():
        base = block["base"]
        body.append(f"<h2>{esc(scenario)}</h2>")
        if base:
            body.append(f"<p>aligned base: refusal {base['refusal']:.3f}, over-refusal "
                        f"{base['over_refusal']:.3f}, task {base['task']:.3f}</p>")
        body.append(html_table(_rows(block), caption=f"{scenario}: every method"))
        corrected = table_rows(block["methods"])
        if corrected:
            body.append(html_table(corrected, caption=f"{scenario}: {CAPTION}"))
        body.append(figure_img(frontier_figure(scenario, block), alt=f"{scenario} frontier"))
    body.append(f"<p class='note'>{results['n_cells']} cells; config in results.json.</p>")
    title = f"AlignGuard compare: {results['config']['model']}"  # page() escapes it
    return atomic_write_text(path, page(title, "\n".join(body)))
