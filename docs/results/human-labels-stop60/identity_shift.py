"""The `identity-shift` cell pair labelled by two blind annotators (docs/judges.md, "A fourth cell pair").

    [SEED=1] GRID=/work/grids/h59/main python docs/results/human-labels-stop60/identity_shift.py blind
        writes each cell's sample (`alignguard drift sample --n 50 --seed 0`) and the blind file
        `identity-shift-blind.jsonl` (distinct request/reply pairs, shuffled, no labels or verdicts)
    GRID=... python docs/results/human-labels-stop60/identity_shift.py score
        reads `identity-shift-annotator{A,B}.jsonl` ({"key", "refusal", "borderline"}), fills each
        cell's sample with each annotator's labels, and prints Cohen's kappa (`drift agree`) and the
        corrected drift and cut under each (default estimator), against the fixed decision rule.
(run from the repository root with the package installed)
"""
import json
import os
import random
import sys
from pathlib import Path

from compare import rule_line  # this folder's compare.py (the script's folder is on sys.path)

from alignguard.artifacts import read_jsonl
from alignguard.drift.cli import _read_run
from alignguard.drift.human import (
    annotator_agreement,
    check_labels,
    cohen_kappa,
    corrected_rates,
    label_sample,
)

HERE = Path(__file__).parent
CELLS = Path(os.environ.get("GRID", "/work/grids/h59/main")) / "cells" / "identity-shift"
METHODS = ("lora", "alignguard")
SEED = os.environ.get("SEED", "0")  # seed 0: the file names without a seed suffix
TAG = "" if SEED == "0" else f"-seed{SEED}"


def sample_path(method: str) -> Path:
    return HERE / f"identity-shift-{method}-seed{SEED}.jsonl"


def blind() -> None:
    pairs: dict[tuple[str, str], str] = {}
    for m in METHODS:
        _, report = _read_run(str(CELLS / f"{m}-seed{SEED}-eval"))
        rows = label_sample(report, 50, 0)
        if not sample_path(m).exists():
            sample_path(m).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        for r in rows:
            pairs.setdefault((r["prompt"], r["response"]), r["label"])
    items = sorted(pairs.items())
    random.Random(2027).shuffle(items)
    (HERE / f"identity-shift{TAG}-blind.jsonl").write_text("".join(
        json.dumps({"key": i, "prompt_kind": kind, "prompt": p, "response": resp}, ensure_ascii=False) + "\n"
        for i, ((p, resp), kind) in enumerate(items)))
    print(f"{len(items)} distinct pairs -> {HERE / f'identity-shift{TAG}-blind.jsonl'}")


def score() -> None:
    blind_rows = {r["key"]: r for _, r in read_jsonl(HERE / f"identity-shift{TAG}-blind.jsonl")}
    by = {}
    for who in "AB":
        labels = {r["key"]: r["refusal"] for _, r in read_jsonl(HERE / f"identity-shift{TAG}-annotator{who}.jsonl")}
        by[who] = {(blind_rows[k]["prompt"], blind_rows[k]["response"]): v for k, v in labels.items()}
    keys = sorted(blind_rows)
    for kind in ("all", "unsafe", "safe"):
        ks = [k for k in keys if kind == "all" or blind_rows[k]["prompt_kind"] == kind]
        pair = [(blind_rows[k]["prompt"], blind_rows[k]["response"]) for k in ks]
        k = cohen_kappa([by["A"][p] for p in pair], [by["B"][p] for p in pair])
        print(f"distinct pairs {kind:7s} n={k['n']:3d} agreement {k['agreement']:.3f} kappa {k['kappa']:.3f} "
              f"({k['both_refusal']} / {k['only_first']} / {k['only_second']} / {k['neither']})")
    drift = {}
    for m in METHODS:
        _, report = _read_run(str(CELLS / f"{m}-seed{SEED}-eval"))
        rows = [r for _, r in read_jsonl(sample_path(m))]
        labelled = {}
        for who in "AB":
            filled = [{**r, "refusal": by[who][(r["prompt"], r["response"])]} for r in rows]
            (HERE / f"identity-shift-{m}-seed{SEED}-annotator{who}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in filled))
            labelled[who] = check_labels(report, filled)
            drift[m, who] = corrected_rates(report, labelled[who])["drift"]["refusal_accuracy"]
        agreement = annotator_agreement(report, labelled["A"], labelled["B"])
        for name, k in agreement["kappa"].items():
            print(f"{m:10s} {name:18s} n={k['n']:3d} agreement {k['agreement']:.3f} kappa {k['kappa']:.3f} "
                  f"({k['both_refusal']} / {k['only_first']} / {k['only_second']} / {k['neither']})")
    for who in "AB":
        print(f"annotator {who}: {rule_line(drift['lora', who], drift['alignguard', who])}")

if __name__ == "__main__":
    {"blind": blind, "score": score}[sys.argv[1]]()
