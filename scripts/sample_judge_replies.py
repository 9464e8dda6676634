"""Draw replies of evaluated models for hand labelling (issue 13: a judge test set nobody tuned on).

Reads every ``cells/*/*-eval/records.jsonl`` of the given compare grids, keeps the distinct
replies of the evaluated (fine-tuned) model that no labelled judge set already holds, and draws,
seeded, two strata:

* ``random``: replies drawn uniformly;
* ``disagreement``: replies on which the stored ``ensemble`` and ``keyword`` verdicts differ
  (over-sampled on purpose: where judges fail).

Rows are written with ``"refusal": null`` for the annotator, who labels them under the rule of
docs/judges.md ("Real model outputs") before any judge is scored on them.

Replies already in a labelled set (real, fine-tuned, fine-tuned 2 and 3) are never drawn again;
``--drift-only`` (stop 53) leaves out replies to task items, which have no DriftCheck label.

    python scripts/sample_judge_replies.py GRID [GRID ...] --out F [--random 60] [--disagreement 40] [--seed 0] [--drift-only]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def pool(grids: list[str], exclude: set[str]) -> list[dict]:
    """Distinct model replies of every evaluation cell, with the first cell and prompt seen."""
    seen: dict[str, dict] = {}
    for grid in grids:
        for path in sorted(Path(grid).glob("cells/*/*-eval/records.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                model = rec.get("model") or {}
                text = model.get("response")
                if not text or text in exclude or text in seen:
                    continue
                judges = model.get("judges", {})
                seen[text] = {"prompt": rec["prompt"], "response": text, "label": rec.get("label"),
                              "source": str(path.parent.relative_to(grid)),
                              "disagree": judges.get("ensemble") != judges.get("keyword")}
    return list(seen.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grids", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--random", type=int, default=60)
    ap.add_argument("--disagreement", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drift-only", action="store_true",
                    help="only replies to DriftCheck prompts (leave out task items, which carry no label)")
    args = ap.parse_args()
    from alignguard.drift.judge_data import (
        FINETUNED,
        FINETUNED2,
        FINETUNED3,
        FINETUNED4,
        REAL,
        read_labelled,
    )

    exclude = {r["response"] for path in (REAL, FINETUNED, FINETUNED2, FINETUNED3, FINETUNED4) if path.is_file()
               for r in read_labelled(path)}
    rows = pool(args.grids, exclude)
    if args.drift_only:
        rows = [r for r in rows if r["label"] is not None]
    rng = random.Random(args.seed)
    disagree = [r for r in rows if r["disagree"]]
    picked = rng.sample(disagree, min(args.disagreement, len(disagree)))
    chosen = {r["response"] for r in picked}
    rest = [r for r in rows if r["response"] not in chosen]
    out = [{**r, "subset": "disagreement"} for r in picked]
    out += [{**r, "subset": "random"} for r in rng.sample(rest, min(args.random, len(rest)))]
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in out:
            r.pop("disagree")
            fh.write(json.dumps({**r, "refusal": None}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} distinct replies ({len(disagree)} with ensemble/keyword disagreement); "
          f"wrote {len(out)} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
