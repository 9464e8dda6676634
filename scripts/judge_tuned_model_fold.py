"""Leave one model out for the tuned semantic member (issue 13; a measurement, nothing shipped).

The other direction of the model fold of docs/judges.md: SmolLM2's replies *before* alignment
(``real/smollm2``, 230 rows, in the shipped training split) are held out. Both members are
refitted without them, by the shipped protocols:

* frozen member: ``head_train.fit_head`` (``C`` of the shipped head, Platt on out-of-family
  decision values) on the MiniLM features of the training split minus the held-out model;
* tuned member: ``encoder_train.train_member`` on the same rows minus the calibration families
  (``calibration_split``), Platt on the calibration families;

then ``semantic``, ``semantic-tuned``, ``semantic2``, ``ensemble`` and ``ensemble2`` (no model)
are scored on the 230 held-out rows.

    OMP_NUM_THREADS=1 python scripts/judge_tuned_model_fold.py [--model smollm2] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from alignguard.drift.judge_data import build_training_set, split_rows
from alignguard.drift.judges import encoder_train as et
from alignguard.drift.judges.head_train import _features, _groups, fit_head
from alignguard.drift.judges.semantic import HEAD_DIR, MiniLMEmbedder
from alignguard.drift.judges.tuned import TunedSemanticJudge
from alignguard.drift.judges.tuned_eval import derived_scores, tables


def main() -> int:
    """Refit both members without one model's replies and print their metrics on them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/judge-model-fold")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    rows = build_training_set(0)
    train, _ = split_rows(rows)
    held = [r for r in rows if r["kind"] == "real" and r["family"] == args.model]
    train = [r for r in train if not (r["kind"] == "real" and r["family"] == args.model)]
    texts = [r["response"] for r in held]
    # frozen member, refitted
    c = json.loads((HEAD_DIR / "semantic_head.json").read_text())["C"]
    emb = MiniLMEmbedder()
    head = fit_head(_features(train, emb), np.asarray([r["refusal"] for r in train], dtype=int), _groups(train), c, folds=3)
    p_s = head.prob(torch.tensor(_features(held, emb))).tolist()
    # tuned member, retrained and calibrated
    fit, calib = et.calibration_split(train)
    model, tok, lin = et.train_member(fit, args.seed)
    with torch.no_grad():
        z = et.decision_values(model, tok, lin, [r["response"] for r in calib])
    a_c = et.platt(z, [bool(r["refusal"]) for r in calib])
    et.save_member(model, lin, a_c, {"seed": args.seed, "version": f"fold-{args.model}"}, Path(args.out))
    p_t = TunedSemanticJudge(args.out).probs(texts).tolist()
    result = tables(held, derived_scores(texts, p_s, p_t), key="family")
    print(f"held-out model {args.model} ({len(held)} rows), seed {args.seed}: acc / P / R / ECE")
    for judge, table in result.items():
        m = table["all"]
        print(f"| {judge} | {m['accuracy']:.3f} / {m['precision'] or 0:.3f} / {m['recall'] or 0:.3f} / {m['ece']:.3f} |")
    (Path(args.out) / "fold.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
