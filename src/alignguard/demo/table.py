"""The demo's metrics and its plain-text table (shared by the CLI and the HTML report)."""

from __future__ import annotations

import statistics

METRICS = ("refusal_accuracy", "over_refusal", "task_score", "task_score_new_phrasing", "degenerate_rate")


def format_table(results: dict) -> str:
    """A plain-text table of the headline metrics with change versus base."""
    base, summary = results["base"], results["summary"]
    methods = ("lora", results["method"])
    lines = [f"scenario: {results['scenario']}   (mean +- std over seeds; delta vs aligned base)",
             f"{'metric':<24}{'base':>8}" + "".join(f"{m:>24}" for m in methods)]
    for key in METRICS:
        cells = ""
        for method in methods:
            s = summary.get(method, {}).get(key)
            cells += f"{s['mean']:>9.3f} +-{s['std']:.3f} ({s['delta_vs_base']:+.3f})" if s else f"{'-':>24}"
        lines.append(f"{key:<24}{float(base.get(key, float('nan'))):>8.3f}{cells}")
    cats = sorted(base.get("refusal_per_category", {}))
    for cat in cats:
        row = f"  refusal/{cat:<15}{base['refusal_per_category'][cat]:>8.3f}"
        for method in methods:
            vals = [r["metrics"]["refusal_per_category"].get(cat, float("nan")) for r in results["runs"] if r["method"] == method]
            row += f"{statistics.fmean(vals):>9.3f}{'':>15}" if vals else f"{'-':>24}"
        lines.append(row)
    drift = summary.get("drift")
    if drift:
        red = "n/a (LoRA did not drift)" if drift["reduction"] is None else f"{100 * drift['reduction']:.0f}%"
        lines.append(f"drift (base - fine-tuned refusal): LoRA {drift['lora']:.3f}, {drift['method']} "
                     f"{drift['defense']:.3f}; {drift['method']} reduces drift by {red}")
    for row in results.get("sweep", []):
        m = row["metrics"]
        lines.append(f"sweep {row['field']}={row['value']:<8g} refusal {m['refusal_accuracy']:.3f}  "
                     f"task {m['task_score']:.3f}  over-refusal {m['over_refusal']:.3f}")
    return "\n".join(lines)
