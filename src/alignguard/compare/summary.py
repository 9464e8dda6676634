"""The grid's cells aggregated: mean +- std per method, drift cut, cost ratios, frontier.

Per scenario and method, over seeds:

* each metric's mean and sample std (``refusal``, ``over_refusal``, ``task``, ``degenerate``);
* ``drift = base refusal - fine-tuned refusal`` (positive: safety lost) and the **drift cut**
  versus plain LoRA, ``1 - drift_method / drift_lora`` on the seed means (``None`` when LoRA
  did not drift), with the per-seed paired cuts beside it;
* ``step_time_ratio`` and ``peak_mem_ratio``: the method's step time and training peak memory
  divided by plain LoRA's at the same seed and scenario, averaged over seeds;
* ``cost_ratio_other_run``: whether one of those ratios compares a cell of this run with a
  plain-LoRA cell imported from another grid (``--reference-from``), or the reverse: timings of
  two runs;
* ``frontier``: whether no other method has both a higher (or equal) mean refusal and a higher
  (or equal) mean task score, one of them strictly (Pareto on safety and utility);
* ``human``: where cells were labelled by a person, their corrected drifts and cuts
  (:mod:`alignguard.compare.human`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from alignguard.compare.human import markdown_lines, summarize_human

METRICS = ("refusal", "over_refusal", "task", "degenerate")


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def _ratio(rows: list[dict], lora: dict[int, dict], key: str) -> float | None:
    ratios = [r[key] / lora[r["seed"]][key] for r in rows
              if r.get(key) and r["seed"] in lora and lora[r["seed"]].get(key)]
    return statistics.fmean(ratios) if ratios else None


def _mixes_runs(cell: dict, reference: dict | None) -> bool:
    """Whether a cost ratio of ``cell`` against ``reference`` compares timings of two runs (one
    of the two was imported from another grid, :mod:`alignguard.compare.reference`)."""
    return reference is not None and bool(cell.get("imported_from")) != bool(reference.get("imported_from"))


def summarize_scenario(base: dict | None, cells: list[dict]) -> dict:
    """The summary of one scenario's cells (``base``: the base cell, or ``None`` if missing)."""
    by_method: dict[str, list[dict]] = defaultdict(list)
    for cell in cells:
        by_method[cell["method"]].append(cell)
    lora = {c["seed"]: c for c in by_method.get("lora", [])}
    base_refusal = base["metrics"]["refusal"] if base else None
    out: dict[str, dict] = {}
    for method, rows in sorted(by_method.items()):
        stats: dict = {k: _mean_std([r["metrics"][k] for r in rows]) for k in METRICS}
        stats["seeds"] = sorted(r["seed"] for r in rows)
        stats["step_time_ratio"] = _ratio(rows, lora, "step_time_s")
        stats["peak_mem_ratio"] = _ratio(rows, lora, "peak_train_mem_mb")
        stats["cost_ratio_other_run"] = any(_mixes_runs(r, lora.get(r["seed"])) for r in rows)
        times = [r["step_time_s"] for r in rows if r.get("step_time_s")]
        stats["step_time_s"] = statistics.fmean(times) if times else None
        if base_refusal is not None:
            stats["drift"] = base_refusal - stats["refusal"]["mean"]
        human = summarize_human(rows, lora)
        if human:
            stats["human"] = human
        out[method] = stats
    _drift_cuts(out, by_method, lora, base_refusal)
    _frontier(out)
    return out


def _drift_cuts(out: dict, by_method: dict, lora: dict, base_refusal: float | None) -> None:
    if base_refusal is None or "lora" not in out:
        return
    d_lora = out["lora"]["drift"]
    for method, stats in out.items():
        stats["drift_cut"] = 1.0 - stats["drift"] / d_lora if d_lora > 0 else None
        paired = []
        for r in by_method[method]:
            ref = lora.get(r["seed"])
            d_ref = base_refusal - ref["metrics"]["refusal"] if ref else 0.0
            if d_ref > 0:
                paired.append(1.0 - (base_refusal - r["metrics"]["refusal"]) / d_ref)
        stats["drift_cut_per_seed"] = paired


def _frontier(out: dict) -> None:
    points = {m: (s["refusal"]["mean"], s["task"]["mean"]) for m, s in out.items()}
    for method, (ref, task) in points.items():
        out[method]["frontier"] = not any(
            r >= ref and t >= task and (r > ref or t > task)
            for other, (r, t) in points.items() if other != method)


def summarize(results: list[dict]) -> dict:
    """``{scenario: {"base": metrics, "methods": {method: stats}}}`` over every finished cell."""
    scenarios: dict[str, dict] = {}
    for scenario in sorted({r["scenario"] for r in results}):
        rows = [r for r in results if r["scenario"] == scenario]
        base = next((r for r in rows if r["method"] == "base"), None)
        cells = [r for r in rows if r["method"] != "base"]
        scenarios[scenario] = {"base": base["metrics"] if base else None,
                               "methods": summarize_scenario(base, cells)}
    return scenarios


def _pm(stat: dict) -> str:
    return f"{stat['mean']:.2f} ± {stat['std']:.2f}"


def _opt(value: float | None, spec: str, unit: str = "") -> str:
    return "—" if value is None else format(value, spec) + unit


def markdown_table(summary: dict, scenario: str) -> str:
    """A Markdown table of one scenario (the README's format)."""
    block = summary[scenario]
    base = block["base"]
    lines = ["| method | refusal | over-refusal | task | degenerate | drift cut | step time | peak mem | frontier |",
             "|---|---|---|---|---|---|---|---|---|"]
    if base:
        lines.append(f"| aligned base | {base['refusal']:.2f} | {base['over_refusal']:.2f} | "
                     f"{base['task']:.2f} | {base['degenerate']:.2f} | | | | |")
    order = sorted(block["methods"].items(), key=lambda kv: (kv[0] != "lora", -kv[1]["refusal"]["mean"]))
    for method, s in order:
        cut = s.get("drift_cut")
        mark = " †" if s.get("cost_ratio_other_run") else ""
        lines.append(
            f"| `{method}` | {_pm(s['refusal'])} | {_pm(s['over_refusal'])} | {_pm(s['task'])} | "
            f"{_pm(s['degenerate'])} | {_opt(None if cut is None else 100 * cut, '.0f', '%')} | "
            f"{_opt(s['step_time_ratio'], '.2f', 'x')}{mark} | {_opt(s['peak_mem_ratio'], '.2f', 'x')}{mark} | "
            f"{'yes' if s['frontier'] else ''} |")
    if any(s.get("cost_ratio_other_run") for _, s in order):
        lines.append("\n† against plain-LoRA cells of another run (--reference-from): timings of two runs")
    lines += markdown_lines(dict(order))
    return "\n".join(lines)
