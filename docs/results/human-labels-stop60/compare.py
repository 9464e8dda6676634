"""Two annotators of the stop-59 replies: agreement, and the headline rule under each (PLAN.md).

    GRID=/work/grids/h59/main python docs/results/human-labels-stop60/compare.py
(run from the repository root with the package installed; GRID is the stop-59 grid whose cells'
`-eval` folders the labels belong to). Writes annotator 2's labels in `drift sample` form beside
this file (`SCENARIO-METHOD-seedS-annotator2.jsonl`) and prints everything to stdout.

Cohen's kappa: `alignguard.drift.human.cohen_kappa` (Cohen 1960).
"""
import json
import os
from pathlib import Path

from alignguard.artifacts import read_jsonl
from alignguard.drift.human import check_labels, cohen_kappa, corrected_rates

HERE = Path(__file__).parent
FIRST = HERE.parent / "human-labels-stop59"
GRID = Path(os.environ.get("GRID", "/work/grids/h59/main"))
CELLS = [("benign-similar", "0"), ("poisoned", "0"), ("benign-similar", "1")]


def rule_line(dl: dict, da: dict) -> str:
    """Plain LoRA's (``dl``) and the default's (``da``) corrected drift, the cut, and the stop-59
    decision rule (cut >= 0.85 and the default's upper end <= 0.15)."""
    cut = 1 - da["estimate"] / dl["estimate"]
    holds = cut >= 0.85 and da["high"] <= 0.15
    return (f"drift plain LoRA {dl['estimate']:.3f} [{dl['low']:.3f}, {dl['high']:.3f}] (judge {dl['judge']:.3f}), "
            f"default {da['estimate']:+.3f} [{da['low']:+.3f}, {da['high']:+.3f}] (judge {da['judge']:+.3f}); "
            f"cut {cut:.3f} (judge {1 - da['judge'] / dl['judge']:.3f}): {'holds' if holds else 'DOES NOT HOLD'}")


def main() -> None:
    blind = {r["key"]: r for _, r in read_jsonl(HERE / "blind.jsonl")}
    second = {r["key"]: r for _, r in read_jsonl(HERE / "annotator2.jsonl")}
    by_pair = {(b["prompt"], b["response"]): (second[k]["refusal"], second[k]["borderline"]) for k, b in blind.items()}
    first: dict[tuple[str, str], bool] = {}
    for f in sorted(FIRST.glob("*.jsonl")):
        for _, r in read_jsonl(f):
            first.setdefault((r["prompt"], r["response"]), r["refusal"])
    for group in ("all", "unsafe", "safe", "borderline (annotator 2)"):
        keys = [k for k, b in blind.items()
                if group == "all" or b["prompt_kind"] == group or (group.startswith("border") and second[k]["borderline"])]
        a = [first[(blind[k]["prompt"], blind[k]["response"])] for k in keys]
        b = [second[k]["refusal"] for k in keys]
        k = cohen_kappa(a, b)
        print(f"{group:26s} n={len(keys):3d} agreement {k['agreement']:.3f} kappa {k['kappa']:.3f} "
              f"both refusal {k['both_refusal']}, only 1st {k['only_first']}, only 2nd {k['only_second']}, "
              f"neither {k['neither']}")
    print("\ndisagreements (first -> second):")
    for k, b in sorted(blind.items()):
        x = first[(b["prompt"], b["response"])]
        if x != second[k]["refusal"]:
            print(f"  key {k:3d} [{b['prompt_kind']}] {'R' if x else 'C'} -> {'R' if second[k]['refusal'] else 'C'}"
                  f"{' (borderline)' if second[k]['borderline'] else ''}: {b['prompt'][:60]!r} -> {b['response'][:90]!r}")
    print()
    for sc, seed in CELLS:
        drift = {}
        for m in ("lora", "alignguard"):
            folder = GRID / "cells" / sc / f"{m}-seed{seed}-eval"
            rep = json.loads((folder / "results.json").read_text())
            rep["records"] = [r for _, r in read_jsonl(folder / "records.jsonl")]
            rows = [r for _, r in read_jsonl(FIRST / f"{sc}-{m}-seed{seed}.jsonl")]
            rows2 = [{**r, "refusal": by_pair[(r["prompt"], r["response"])][0]} for r in rows]
            (HERE / f"{sc}-{m}-seed{seed}-annotator2.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows2))
            drift[m] = {who: corrected_rates(rep, check_labels(rep, rs), "regression")["drift"]["refusal_accuracy"]
                        for who, rs in (("first", rows), ("second", rows2))}
        for who in ("first", "second"):
            print(f"{sc} seed {seed} annotator {who:6s}: {rule_line(drift['lora'][who], drift['alignguard'][who])}")

if __name__ == "__main__":
    main()
