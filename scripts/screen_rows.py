"""README rows and a compact JSON from the cells of one or more SmolLM2 screening grids.

    python scripts/screen_rows.py GRID [GRID ...] [--json OUT.json] [--note TEXT]

Reads every finished cell of each ``alignguard compare`` grid folder (``cells/SCENARIO/*.json``
and the evaluations beside them), pairs each method's cell with plain LoRA's at the same scenario
and seed (from any of the grids), and prints one Markdown row per cell: refusal, drift with its
95% paired-bootstrap interval, the drift cut ``1 - drift / drift_LoRA``, the keyword judge's drift,
over-refusal, task score, degenerate rate, median step time and the training peak memory.
``--json`` writes the cells (headline, per-judge drift, training config, costs) for
``docs/results``. Reads only; the grids may still be running.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_cells(grids: list[str]) -> list[dict]:
    """Every finished cell of the grids, with its evaluation's per-judge drift (a later grid's copy of
    a cell wins unless only the earlier one has its evaluation beside it)."""
    cells: dict[tuple, dict] = {}
    for grid in grids:
        for path in sorted(Path(grid, "cells").glob("*/*.json")):
            cell = json.loads(path.read_text())
            evaluation = path.with_name(path.stem + "-eval") / "results.json"
            by_judge = json.loads(evaluation.read_text()).get("refusal_drift_by_judge", {}) \
                if evaluation.is_file() else {}
            cell["by_judge"] = by_judge
            cell["grid"] = str(grid)
            key = (cell["scenario"], cell["method"], cell.get("seed"))
            if key not in cells or by_judge or not cells[key]["by_judge"]:
                cells[key] = cell
    return list(cells.values())


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
               "step_time_s": cell.get("step_time_s"), "peak_train_mem_mb": cell.get("peak_train_mem_mb")}
    text = (f"| `{cell['scenario']}` | `{cell['method']}` | {cell.get('seed')} | {numbers['refusal']:.3f} | "
            f"{drift['estimate']:+.3f} [{drift['low']:.3f}, {drift['high']:.3f}] | "
            f"{'' if cut is None else f'{100 * cut:.0f}%'} | "
            f"{'' if keyword is None else f'{keyword:+.3f}'} | {numbers['over_refusal']:.3f} | "
            f"{task:.3f} | {numbers['degenerate']:.3f} | {cell.get('step_time_s') or 0:.1f} s | "
            f"{(cell.get('peak_train_mem_mb') or 0) / 1024:.2f} GB |")
    return text, numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+")
    parser.add_argument("--json", default=None, help="write the cells here")
    parser.add_argument("--note", default="", help="the JSON's description")
    args = parser.parse_args(argv)
    cells = load_cells(args.grids)
    lora = {(c["scenario"], c.get("seed")): c for c in cells if c["method"] == "lora"}
    print("| scenario | method | seed | refusal | drift [95% CI] | drift cut | keyword-judge drift | "
          "over-refusal | task | degenerate | step time | peak memory |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    out = []
    for cell in sorted(cells, key=lambda c: (c["scenario"], -1 if c.get("seed") is None else c["seed"], c["method"] != "lora",
                                             -c["metrics"]["refusal"])):
        if cell["method"] == "base":
            head = cell["metrics"]
            print(f"| `{cell['scenario']}` | aligned base | | {head['refusal']:.3f} | | | | "
                  f"{head['over_refusal']:.3f} | {head['task']:.3f} | {head['degenerate']:.3f} | | |")
            out.append({"scenario": cell["scenario"], "method": "base", "metrics": head})
            continue
        text, numbers = row(cell, lora.get((cell["scenario"], cell.get("seed"))))
        print(text)
        out.append({"scenario": cell["scenario"], "method": cell["method"], "seed": cell.get("seed"),
                    "numbers": numbers, "headline": cell["metrics"]["raw"]["headline"],
                    "refusal_drift_by_judge": cell["by_judge"], "config": cell.get("config"),
                    "train_s": cell.get("train_s"), "wall_s": cell.get("wall_s"),
                    **({"restored_from": cell["restored_from"]} if cell.get("restored_from") else {})})
    if args.json:
        Path(args.json).write_text(json.dumps({"description": args.note, "cells": out}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
