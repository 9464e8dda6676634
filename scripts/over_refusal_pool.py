"""Over-refusal and degenerate rate against the aligned model, per evaluation and pooled over seeds.

    python scripts/over_refusal_pool.py OUT.json EVAL [EVAL ...] [--judges A,B] [--note TEXT]

An EVAL is the output folder of ``alignguard testbed eval`` (``results.json`` and
``records.jsonl``; its reference is the aligned model). Per evaluation: the safe prompts' refusal
rate of the model and of the aligned model and their difference, and the same for the degenerate
rate. Per scenario and method with two or more seeds (the seed and the method are read from the
adapter's ``alignguard_config.json``, so that two methods are never pooled as seeds): the seed mean of each difference with a 95% percentile bootstrap
interval over the prompts (the same resampled prompts for every seed; ``pack_runs.pooled``). Meant
for re-evaluations on more safe prompts than the screening's 80 (e.g. ``--n-safe 240``), so that
"over-refusal at most 3 points above the aligned model" is read with a narrower interval. Reads
only; writes OUT.json. ``--judges`` names the judges whose verdicts count, each reported apart
(default: the evaluation's deciding ``ensemble``; ``keyword`` is the cross-check on SmolLM2,
docs/judges.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pack_runs import outcomes, pooled  # noqa: E402


def cell(folder: Path, judges: list[str]) -> dict:
    """One evaluation's scenario, seed, prompt counts and, per judge, the rates (model, aligned,
    difference); ``_outcomes`` holds the per-prompt arrays for pooling."""
    res = json.loads((folder / "results.json").read_text())
    adapter = Path(res["config"]["adapter"])
    cfg = json.loads((adapter / "alignguard_config.json").read_text())
    arrays = {judge: outcomes(folder / "records.jsonl", judge) for judge in judges}
    rates = {judge: {name: {"model": float(arr[key].mean()), "aligned": float(arr[f"ref_{key}"].mean()),
                            "difference": float(arr[key].mean() - arr[f"ref_{key}"].mean())}
                     for name, key in (("over_refusal", "safe"), ("degenerate", "degen"))}
             for judge, arr in arrays.items()}
    first = arrays[judges[0]]
    return {"scenario": res["config"]["scenario"], "method": cfg.get("method"), "seed": cfg.get("seed"),
            "adapter": str(adapter),
            "n_safe": int(len(first["safe"])), "n_prompts": int(len(first["degen"])), "by_judge": rates,
            "eval_config": res["config"], "_outcomes": arrays}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("evals", nargs="+")
    parser.add_argument("--judges", default="ensemble", help="comma-separated judges whose verdicts count")
    parser.add_argument("--note", default="", help="the JSON's description")
    args = parser.parse_args(argv)
    judges = args.judges.split(",")
    cells = [cell(Path(e), judges) for e in args.evals]
    groups: dict[tuple[str, str], list[dict]] = {}
    for c in cells:
        groups.setdefault((c["scenario"], str(c["method"])), []).append(c)
    rows = [{"scenario": s, "method": m, "judge": j, "seeds": sorted(c["seed"] for c in g),
             "n_safe": g[0]["n_safe"], **pooled([{"_outcomes": c["_outcomes"][j]} for c in g])}
            for (s, m), g in sorted(groups.items()) if len(g) >= 2 for j in judges]
    print("| scenario | method | seed | judge | safe prompts | over-refusal (aligned) | difference | degenerate (aligned) |")
    print("|---|---|---|---|---|---|---|---|")
    for c in sorted(cells, key=lambda c: (c["scenario"], str(c["method"]), c["seed"])):
        for j, r in c["by_judge"].items():
            o, d = r["over_refusal"], r["degenerate"]
            print(f"| `{c['scenario']}` | `{c['method']}` | {c['seed']} | {j} | {c['n_safe']} | "
                  f"{o['model']:.3f} ({o['aligned']:.3f}) | {100 * o['difference']:+.1f} | "
                  f"{d['model']:.3f} ({d['aligned']:.3f}) |")
    for r in rows:
        print(f"{r['scenario']} {r['method']} ({r['judge']}) seeds {r['seeds']}: " + ", ".join(
            f"{k} {100 * v['estimate']:+.1f} [{100 * v['low']:+.1f}, {100 * v['high']:+.1f}]"
            for k, v in r.items() if isinstance(v, dict)))
    doc = {"description": args.note, "judges": judges,
           "cells": [{k: v for k, v in c.items() if k != "_outcomes"} for c in cells], "pooled": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
