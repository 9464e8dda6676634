"""The judges' per-reply accuracy on the hand-labelled random samples of stops 59-60.

    GRID=/work/grids/h59/main python docs/results/human-labels-stop60/judge_per_reply.py

Every labelled row of the four cell pairs (`benign-similar` seeds 0-1, `poisoned` seed 0,
`identity-shift` seed 0; 50 unsafe and 50 safe prompts drawn at random per cell, both roles'
replies) is scored against each annotator's label, once per distinct (request, reply) pair, with
the verdict the judge gave in that cell's evaluation (`records.jsonl`, so the likelihood member's
vote is included where the scenario has no system prompt). Unlike the fine-tuned sets of
docs/judges.md, nothing here is over-sampled where judges disagree: these are replies as they occur
(within each cell's unsafe and safe prompts). Prints accuracy, refusal precision and recall with
their counts, per reading and per role group.
"""
import json
import os
from pathlib import Path

from alignguard.artifacts import read_jsonl
from alignguard.drift.judges.evaluate import binary_metrics

HERE = Path(__file__).parent
FIRST = HERE.parent / "human-labels-stop59"
GRID = Path(os.environ.get("GRID", "/work/grids/h59/main")) / "cells"
PAIRS = [("benign-similar", "0"), ("poisoned", "0"), ("benign-similar", "1")]
JUDGES = ("ensemble-probe", "keyword")


def verdicts(scenario: str, method: str, seed: str) -> dict[tuple[str, str], dict]:
    """``{(id, role): {judge: bool}}`` of a cell's evaluation."""
    out = {}
    for _, r in read_jsonl(GRID / scenario / f"{method}-seed{seed}-eval" / "records.jsonl"):
        for role in ("model", "reference"):
            if role in r and "judges" in r[role]:
                out[r["id"], role] = r[role]["judges"]
    return out


def rows_of(reading: str) -> list[dict]:
    """Distinct (request, reply) rows with the label of ``reading`` and the cell's verdicts."""
    second = {}
    blind = {r["key"]: r for _, r in read_jsonl(HERE / "blind.jsonl")}
    for _, r in read_jsonl(HERE / "annotator2.jsonl"):
        second[blind[r["key"]]["prompt"], blind[r["key"]]["response"]] = r["refusal"]
    files = []
    for sc, seed in PAIRS:
        for m in ("lora", "alignguard"):
            files.append((sc, m, seed, FIRST / f"{sc}-{m}-seed{seed}.jsonl"))
    for m in ("lora", "alignguard"):
        files.append(("identity-shift", m, "0", HERE / f"identity-shift-{m}-seed0-annotator{reading[-1]}.jsonl"
                      if reading in ("A", "B") else HERE / f"identity-shift-{m}-seed0-annotatorA.jsonl"))
    seen, out = set(), []
    for sc, m, seed, path in files:
        v = verdicts(sc, m, seed)
        for _, r in read_jsonl(path):
            key = (r["prompt"], r["response"])
            if key in seen:
                continue
            seen.add(key)
            label = second[key] if reading == "B" and key in second else r["refusal"]
            group = "reference" if r["role"] == "reference" else ("plain LoRA" if m == "lora" else "default")
            out.append({"refusal": label, "group": group, "label": r["label"], **v[r["id"], r["role"]]})
    return out


def main() -> None:
    for reading in ("A", "B"):
        rows = rows_of(reading)
        print(f"reading {reading} (A: the project's stop-59 labels and identity-shift annotator A; "
              f"B: the second annotation and identity-shift annotator B): {len(rows)} distinct replies, "
              f"{sum(r['refusal'] for r in rows)} refusals")
        for group in ("all", "reference", "default", "plain LoRA"):
            part = [r for r in rows if group == "all" or r["group"] == group]
            for judge in JUDGES:
                m = binary_metrics([r["refusal"] for r in part], [r[judge] for r in part])
                tp = sum(r[judge] and r["refusal"] for r in part)
                fp = sum(r[judge] and not r["refusal"] for r in part)
                fn = sum(r["refusal"] and not r[judge] for r in part)
                print(f"  {group:10s} {judge:15s} n={m['n']:3d} accuracy {m['accuracy']:.3f} "
                      f"precision {m['precision'] if m['precision'] is None else round(m['precision'], 3)} "
                      f"recall {m['recall'] if m['recall'] is None else round(m['recall'], 3)} "
                      f"(false refusals {fp}, missed refusals {fn}, right refusals {tp})")
    print(json.dumps({"pairs": PAIRS + [("identity-shift", "0")]}))


if __name__ == "__main__":
    main()
