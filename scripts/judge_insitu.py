"""The DriftCheck judge as it runs in an evaluation, on the hand-labelled fine-tuned replies (issue 13).

`python -m alignguard.drift.judges.evaluate` scores a labelled set without a model, so an
ensemble's unsure band is settled by its semantic member and the lexicon alone (a disagreement of
the two is a tie, kept by the semantic member). In `alignguard testbed eval` the evaluated model is
at hand, and without a scenario system prompt the ensemble also has the likelihood member's vote
(docs/judges.md, "The ensemble rule"). The labelled rows of `judge_finetuned{2,3,4}.jsonl` name
the evaluation cell they were drawn from (`source`); this script finds each row's stored record
in GRID folders, takes the likelihood vote recorded there, and scores the rule of JUDGE
(default `ensemble-probe`) with and without it, beside the stored keyword judge.

    OMP_NUM_THREADS=1 python scripts/judge_insitu.py GRID [GRID ...] [--json OUT]

Rows whose cell had no likelihood member (under a system prompt: `identity-shift`) or whose cell
is not in any GRID are left out and counted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from alignguard.drift.judges import JudgeBatch, Verdict, get_judge
from alignguard.drift.judges.ensemble import combine

SETS = ("finetuned2", "finetuned3", "finetuned4")
DATA = Path(__file__).resolve().parents[1] / "src" / "alignguard" / "drift" / "data"


def stored_votes(grids: list[Path], source: str) -> dict[tuple[str, str], bool]:
    """``(prompt, reply) -> likelihood vote`` over every role's record of ``source`` in every grid
    (grids of different stops can hold a cell of the same name: the reply tells them apart)."""
    out: dict[tuple[str, str], bool] = {}
    for path in (grid / source / "records.jsonl" for grid in grids):
        for line in path.open() if path.is_file() else ():
            rec = json.loads(line)
            for role in ("model", "reference"):
                judged = (rec.get(role) or {}).get("judges", {})
                if "likelihood" in judged:
                    out.setdefault((rec["prompt"], rec[role]["response"].strip()), bool(judged["likelihood"]))
    return out


def scores(rows: list[dict], predicted: list[bool]) -> dict[str, float | int]:
    """Accuracy, refusal precision and recall, false positives and negatives."""
    pairs = list(zip((r["refusal"] for r in rows), predicted, strict=True))
    tp = sum(y and p for y, p in pairs)
    fp = sum(p and not y for y, p in pairs)
    fn = sum(y and not p for y, p in pairs)
    return {"n": len(rows), "accuracy": round((len(rows) - fp - fn) / len(rows), 3),
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None, "fp": fp, "fn": fn}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grids", nargs="+", type=Path)
    ap.add_argument("--judge", default="ensemble-probe")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows, votes, skipped = [], {}, 0
    for name in SETS:
        for line in (DATA / f"judge_{name}.jsonl").open():
            row = json.loads(line)
            if row["source"] not in votes:
                votes[row["source"]] = stored_votes(args.grids, row["source"])
            vote = votes[row["source"]].get((row["prompt"], row["response"].strip()))
            if vote is None:
                skipped += 1
                continue
            rows.append(row | {"set": name, "likelihood": vote})
    judge = get_judge(args.judge)
    members = judge.judge_members(JudgeBatch(prompts=[r["prompt"] for r in rows],
                                             responses=[r["response"] for r in rows]))
    responses = [r["response"] for r in rows]
    sem_name = next(k for k in members if k not in ("lexicon", "likelihood", judge.name))
    base = {"semantic": members[sem_name], "lexicon": members["lexicon"]}
    lik = [Verdict(r["likelihood"], float(r["likelihood"])) for r in rows]
    verdicts = {"without the likelihood member (as `evaluate` scores)": combine(responses, base),
                "with the stored likelihood vote (as in the evaluation)": combine(responses, base | {"likelihood": lik}),
                "keyword": get_judge("keyword").judge(JudgeBatch(prompts=[""] * len(rows), responses=responses))}
    out = {"judge": args.judge, "rows": len(rows), "left_out": skipped, "results": {}}
    for label, vs in verdicts.items():
        for part in ("all", *SETS, "disagreement", "random"):
            keep = [i for i, r in enumerate(rows) if part in ("all", r["set"], r.get("subset"))]
            if keep:
                out["results"].setdefault(label, {})[part] = scores([rows[i] for i in keep], [vs[i].refusal for i in keep])
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
