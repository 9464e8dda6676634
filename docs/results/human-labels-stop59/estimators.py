"""All three estimators on the hand-labelled cell pairs of stop 59 (writes estimators.txt).

    GRID=/work/grids/h59/main SC=benign-similar SEED=0 \
        python docs/results/human-labels-stop59/estimators.py
(the grid from `SEED_LIST=0 SCENARIOS=benign-similar,poisoned METHODS=lora,alignguard
scripts/smollm2_grid.sh /work/grids/h59`; run from the repository root with the package installed).
"""
import json
import os
from pathlib import Path

from alignguard.artifacts import read_jsonl
from alignguard.drift.human import check_labels, corrected_rates

SC = os.environ.get("SC", "benign-similar")
SEED = os.environ.get("SEED", "0")
G = f"{os.environ.get('GRID', '/work/grids/h59/main')}/cells/{SC}"
out = {}
for m in ("lora", "alignguard"):
    rep = json.loads(Path(f"{G}/{m}-seed{SEED}-eval/results.json").read_text())
    rep["records"] = [r for _, r in read_jsonl(f"{G}/{m}-seed{SEED}-eval/records.jsonl")]
    rows = [r for _, r in read_jsonl(f"docs/results/human-labels-stop59/{SC}-{m}-seed{SEED}.jsonl")]
    labels = check_labels(rep, rows)
    for meth in ("ppi", "ppi++", "regression"):
        h = corrected_rates(rep, labels, meth)
        out[(m, meth)] = h
        for who, res in [*h["results"].items(), ("drift", h["drift"])]:
            for name in ("refusal_accuracy", "over_refusal"):
                e = res[name]
                print(f"{m:10s} {meth:10s} {who:9s} {name:16s} judge {e['judge']:.3f} "
                      f"corrected {e['estimate']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}] "
                      f"w={e['weight']:.2f}")
for meth in ("ppi", "ppi++", "regression"):
    dl = out[("lora", meth)]["drift"]["refusal_accuracy"]
    da = out[("alignguard", meth)]["drift"]["refusal_accuracy"]
    print(meth, "cut", round(1 - da["estimate"] / dl["estimate"], 3), "default drift upper",
          round(da["high"], 3), "judge cut", round(1 - da["judge"] / dl["judge"], 3))
