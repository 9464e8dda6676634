"""README rows and a compact JSON from the cells of SmolLM2 grids.

    python scripts/screen_rows.py SOURCE [SOURCE ...] [--json OUT.json] [--note TEXT]

A SOURCE is an ``alignguard compare`` grid folder (``cells/SCENARIO/*.json`` and the evaluations
beside them) or a JSON file this script wrote (``docs/results``), so seeds run in different
sessions pool. Each method's cell is paired with plain LoRA's at the same scenario and seed (from
any source), one Markdown row per cell: refusal, drift with its 95% paired-bootstrap interval,
the drift cut ``1 - drift / drift_LoRA``, the keyword judge's drift, over-refusal, task score,
degenerate rate, median step time and the training peak memory. Then, per scenario and method
with two or more seeds, one pooled row: the seed means of the drift cut and of the changes
against plain LoRA (task) and the aligned model (over-refusal, degenerate rate), each with a 95%
bootstrap interval over the evaluation's prompts (the same resampled prompts for every seed and
for plain LoRA), so that a target such as "over-refusal at most 3 points above the aligned model"
is read with its uncertainty; the seed-to-seed spread is in the per-cell rows. ``--json`` writes
the cells (headline, per-judge drift, training config, costs, per-prompt outcomes as 0/1 strings)
and the pooled rows. Reads only; the grids may still be running.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def load_cells(sources: list[str]) -> list[dict]:
    """Every finished cell of the sources: grid folders or JSON files this script wrote (``--json``,
    e.g. ``docs/results``), so seeds run in different sessions pool. A later source's copy of a
    cell wins unless only the earlier one has its evaluation's per-judge drift."""
    cells: dict[tuple, dict] = {}
    for source in sources:
        found = _stored_cells(source) if source.endswith(".json") else _grid_cells(source)
        for cell in found:
            key = (cell["scenario"], cell["method"], cell.get("seed"))
            if key not in cells or cell["by_judge"] or not cells[key]["by_judge"]:
                cells[key] = cell
    return list(cells.values())


def _grid_cells(grid: str) -> list[dict]:
    """The finished cells of one grid folder, with per-judge drift and per-prompt outcomes."""
    out = []
    for path in sorted(Path(grid, "cells").glob("*/*.json")):
        cell = json.loads(path.read_text())
        evaluation = path.with_name(path.stem + "-eval") / "results.json"
        cell["by_judge"] = json.loads(evaluation.read_text()).get("refusal_drift_by_judge", {}) \
            if evaluation.is_file() else {}
        cell["grid"] = str(grid)
        cell["outcomes"] = _outcomes(evaluation.with_name("records.jsonl"), cell["scenario"])
        out.append(cell)
    return out


def _stored_cells(path: str) -> list[dict]:
    """The cells of a JSON file written by ``--json``, in the shape :func:`_grid_cells` gives."""
    out = []
    for c in json.loads(Path(path).read_text())["cells"]:
        if c["method"] == "base":
            out.append({**c, "seed": None, "by_judge": {}, "outcomes": None})
            continue
        n = c["numbers"]
        out.append({"scenario": c["scenario"], "method": c["method"], "seed": c.get("seed"),
                    "metrics": {"refusal": n["refusal"], "raw": {"headline": c["headline"]}},
                    "by_judge": c.get("refusal_drift_by_judge", {}), "config": c.get("config"),
                    "train_s": c.get("train_s"), "wall_s": c.get("wall_s"), "grid": path,
                    "step_time_s": n.get("step_time_s"), "peak_train_mem_mb": n.get("peak_train_mem_mb"),
                    "outcomes": {k: np.asarray([float(ch) for ch in v]) for k, v in c["outcomes"].items()}
                    if c.get("outcomes") else None,
                    **({"restored_from": c["restored_from"]} if c.get("restored_from") else {})})
    return out


def _est(headline: dict, *keys: str) -> float:
    node = headline
    for key in keys:
        node = node[key]
    return float(node["estimate"])


def row(cell: dict, lora: dict | None) -> tuple[str, dict]:
    """One Markdown row and the numbers behind it."""
    head = cell["metrics"]["raw"]["headline"]
    drift = head["refusal"]["drift"]
    lora_drift = _est(lora["metrics"]["raw"]["headline"], "refusal", "drift") if lora else None
    cut = None if not lora_drift else 1.0 - drift["estimate"] / lora_drift
    keyword = cell["by_judge"].get("keyword", {}).get("estimate")
    task = sum(_est(t, "model") for t in head["task_score"].values()) / len(head["task_score"])
    numbers = {"refusal": _est(head, "refusal", "model"), "drift": drift["estimate"],
               "drift_low": drift["low"], "drift_high": drift["high"], "drift_cut": cut,
               "keyword_drift": keyword, "over_refusal": _est(head, "over_refusal", "model"),
               "task": task, "degenerate": _est(head, "degenerate_rate", "model"),
               "step_time_s": cell.get("step_time_s"), "peak_train_mem_mb": cell.get("peak_train_mem_mb"),
               "refusal_cut_off": _est(head, "refusal_cut_off", "model") if "refusal_cut_off" in head else None}
    cut_off = numbers["refusal_cut_off"]
    text = (f"| `{cell['scenario']}` | `{cell['method']}` | {cell.get('seed')} | {numbers['refusal']:.3f} | "
            f"{drift['estimate']:+.3f} [{drift['low']:.3f}, {drift['high']:.3f}] | "
            f"{'' if cut is None else f'{100 * cut:.0f}%'} | "
            f"{'' if keyword is None else f'{keyword:+.3f}'} | {numbers['over_refusal']:.3f} | "
            f"{task:.3f} | {numbers['degenerate']:.3f} | {cell.get('step_time_s') or 0:.1f} s | "
            f"{(cell.get('peak_train_mem_mb') or 0) / 1024:.2f} GB | "
            f"{'' if cut_off is None else f'{cut_off:.3f}'} |")
    return text, numbers


def _interval(x: dict, pct: bool) -> str:
    if pct:  # changes in points
        return f"{100 * x['estimate']:+.1f} [{100 * x['low']:+.1f}, {100 * x['high']:+.1f}]"
    return f"{100 * x['estimate']:.0f}% [{100 * x['low']:.0f}, {100 * x['high']:.0f}]"


def _outcomes(path: Path, scenario: str) -> dict[str, np.ndarray] | None:
    """Per-prompt 0/1 outcomes of one cell's evaluation: model and reference refusal (unsafe),
    over-refusal (safe), degenerate (all DriftCheck prompts) and task correctness; where the
    scenario teaches a persona (``identity-shift``), also refusal without it on the unsafe
    prompts (``strict``: a refusal that goes on as the persona is not counted)."""
    from alignguard.testbed.scenarios import SCENARIOS, persona_marker

    if not Path(path).is_file():
        return None
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    judge, persona = "ensemble", persona_marker(scenario) if scenario in SCENARIOS else None
    out: dict[str, list] = {k: [] for k in ("unsafe", "ref_unsafe", "safe", "ref_safe", "degen", "ref_degen",
                                             "task", "strict", "ref_strict")}
    for r in rows:
        if "task" in r:
            out["task"].append(float(r["model"]["correct"]))
            continue
        m, ref = r["model"], r["reference"]
        group = "unsafe" if r["label"] == "unsafe" else "safe"
        out[group].append(float(m["judges"][judge]))
        out["ref_" + group].append(float(ref["judges"][judge]))
        out["degen"].append(float(m["degenerate"]))
        out["ref_degen"].append(float(ref["degenerate"]))
        if persona is not None and group == "unsafe":
            for key, reply in (("strict", m), ("ref_strict", ref)):
                out[key].append(float(reply["judges"][judge] and not persona.search(reply["response"] or "")))
    return {k: np.asarray(v) for k, v in out.items() if len(v) or k not in ("strict", "ref_strict")}


def _pooled_stats(cells: list[dict], loras: list[dict], idx: dict[str, np.ndarray]) -> dict[str, float]:
    """Seed means on the prompts ``idx`` selects (per group): drift cut against LoRA, task change
    against LoRA, over-refusal and degenerate change against the aligned model."""
    def mean(key, arrays, sub):
        return float(np.mean([a[key][idx[sub]].mean() for a in arrays]))

    def cut(model: str, ref: str) -> float:
        drift = mean(ref, cells, "unsafe") - mean(model, cells, "unsafe")
        lora_drift = mean(ref, loras, "unsafe") - mean(model, loras, "unsafe")
        return 1.0 - drift / lora_drift if lora_drift else float("nan")

    strict = {"drift_cut_without_persona": cut("strict", "ref_strict")} if "strict" in cells[0] else {}
    return {"drift_cut": cut("unsafe", "ref_unsafe"), **strict,
            "task_vs_lora": mean("task", cells, "task") - mean("task", loras, "task"),
            "over_refusal_vs_aligned": mean("safe", cells, "safe") - mean("ref_safe", cells, "safe"),
            "degenerate_vs_aligned": mean("degen", cells, "degen") - mean("ref_degen", cells, "degen")}


def pooled_rows(cells: list[dict], n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Per (scenario, method) with >= 2 seeds that all have plain LoRA's cell and records beside
    them: :func:`_pooled_stats` and its percentile bootstrap interval over prompts."""
    by = {}
    for c in cells:
        if c["method"] not in ("base", "lora") and c.get("seed") is not None:
            by.setdefault((c["scenario"], c["method"]), []).append(c)
    lora = {(c["scenario"], c["seed"]): c for c in cells if c["method"] == "lora"}
    rng = np.random.default_rng(seed)
    out = []
    for (scenario, method), group in sorted(by.items()):
        pairs = [(c, lora.get((scenario, c["seed"]))) for c in sorted(group, key=lambda c: c["seed"])]
        arrays = [(c["outcomes"], ref["outcomes"] if ref else None) for c, ref in pairs]
        if len(pairs) < 2 or any(a is None or b is None for a, b in arrays):
            continue
        mine, theirs = [a for a, _ in arrays], [b for _, b in arrays]
        sizes = {"unsafe": len(mine[0]["unsafe"]), "safe": len(mine[0]["safe"]),
                 "degen": len(mine[0]["degen"]), "task": len(mine[0]["task"])}
        point = _pooled_stats(mine, theirs, {k: np.arange(n) for k, n in sizes.items()})
        boots = [_pooled_stats(mine, theirs, {k: rng.integers(0, n, n) for k, n in sizes.items()})
                 for _ in range(n_boot)]
        row = {"scenario": scenario, "method": method, "seeds": [c["seed"] for c, _ in pairs]}
        for key, value in point.items():
            sample = np.asarray([b[key] for b in boots])
            row[key] = {"estimate": value, "low": float(np.nanpercentile(sample, 2.5)),
                        "high": float(np.nanpercentile(sample, 97.5))}
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+")
    parser.add_argument("--json", default=None, help="write the cells here")
    parser.add_argument("--note", default="", help="the JSON's description")
    args = parser.parse_args(argv)
    cells = load_cells(args.grids)
    lora = {(c["scenario"], c.get("seed")): c for c in cells if c["method"] == "lora"}
    print("| scenario | method | seed | refusal | drift [95% CI] | drift cut | keyword-judge drift | "
          "over-refusal | task | degenerate | step time | peak memory | refusals cut off by the budget |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    out = []
    for cell in sorted(cells, key=lambda c: (c["scenario"], -1 if c.get("seed") is None else c["seed"], c["method"] != "lora",
                                             -c["metrics"]["refusal"])):
        if cell["method"] == "base":
            head = cell["metrics"]
            print(f"| `{cell['scenario']}` | aligned base | | {head['refusal']:.3f} | | | | "
                  f"{head['over_refusal']:.3f} | {head['task']:.3f} | {head['degenerate']:.3f} | | | |")
            out.append({"scenario": cell["scenario"], "method": "base", "metrics": head})
            continue
        text, numbers = row(cell, lora.get((cell["scenario"], cell.get("seed"))))
        print(text)
        out.append({"scenario": cell["scenario"], "method": cell["method"], "seed": cell.get("seed"),
                    "numbers": numbers, "headline": cell["metrics"]["raw"]["headline"],
                    "refusal_drift_by_judge": cell["by_judge"], "config": cell.get("config"),
                    "train_s": cell.get("train_s"), "wall_s": cell.get("wall_s"),
                    **({"outcomes": {k: "".join(str(int(x)) for x in v) for k, v in cell["outcomes"].items()}}
                       if cell.get("outcomes") else {}),
                    **({"restored_from": cell["restored_from"]} if cell.get("restored_from") else {})})
    pooled = pooled_rows(cells)
    if pooled:
        print("\n| scenario | method | seeds | drift cut [95% CI] | without the persona | task vs LoRA | "
              "over-refusal vs aligned | degenerate vs aligned |\n|---|---|---|---|---|---|---|---|")
        for p in pooled:
            cols = [_interval(p[k], pct=False) if k in p else "" for k in ("drift_cut", "drift_cut_without_persona")]
            cols += [_interval(p[k], pct=True) for k in ("task_vs_lora", "over_refusal_vs_aligned",
                                                          "degenerate_vs_aligned")]
            print(f"| `{p['scenario']}` | `{p['method']}` | {','.join(map(str, p['seeds']))} | " + " | ".join(cols) + " |")
    if args.json:
        doc = {"description": args.note, "cells": out, **({"pooled": pooled} if pooled else {})}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
