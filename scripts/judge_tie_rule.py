"""The ensemble's tie rule without a model: the current one (ties to the semantic judge) against
``lexicon_adds`` (a tie carried by the lexicon's decline cue is a refusal), on the same members'
verdicts (docs/judges.md, "Without a model, the lexicon never settled anything").

    python scripts/judge_tie_rule.py [OUT.json] [--no-folds]

Scores the shipped semantic head and the lexicon once per labelled set (held-out families,
natural, v1, real with aligned SmolLM2 held out, fine-tuned), then refits the head without each
kind (leave one kind out, the protocol of ``head_train``) and applies both rules to each fold.
Prints accuracy / refusal precision / recall per set and rule and the pooled fold accuracy;
writes the numbers to OUT.json (default: print only). One CPU thread, ~10 min.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from alignguard.drift.judges.base import JudgeBatch, Verdict
from alignguard.drift.judges.ensemble import LexiconJudge, combine
from alignguard.drift.judges.evaluate import binary_metrics, labelled_set

RULES = {"ties to semantic (current)": False, "lexicon_adds (candidate)": True}
SETS = ("families", "natural", "v1", "real", "finetuned")


def both_rules(rows: list[dict], p: list[float]) -> dict[str, dict]:
    """Metrics of both rules on ``rows`` given the semantic probabilities ``p``."""
    texts = [r["response"] for r in rows]
    lex = LexiconJudge()
    members = {"semantic": [Verdict(v > 0.5, v) for v in p],
               "lexicon": [Verdict(h, float(h)) for h in map(lex.is_refusal, texts)]}
    gold = [bool(r["refusal"]) for r in rows]
    out = {}
    for name, adds in RULES.items():
        verdicts = combine(texts, members, lexicon_adds=adds)
        out[name] = binary_metrics(gold, [v.refusal for v in verdicts], [v.score for v in verdicts])
    return out


def labelled_sets() -> dict[str, dict[str, dict]]:
    """Both rules on every labelled set, with the shipped head."""
    from alignguard.drift.judges.semantic import SemanticJudge

    judge = SemanticJudge()
    out = {}
    for name in SETS:
        rows = labelled_set(name)
        p = [v.score for v in judge.judge(JudgeBatch([""] * len(rows), [r["response"] for r in rows]))]
        out[name] = both_rules(rows, p)
        if name == "real":
            aligned = [i for i, r in enumerate(rows) if r.get("family") == "smollm2-aligned"]
            out["real: aligned SmolLM2 (held out)"] = both_rules([rows[i] for i in aligned], [p[i] for i in aligned])
    return out


def kind_folds_pooled() -> dict[str, dict]:
    """Pooled accuracy of both rules over the leave-one-kind-out folds (head refitted per fold)."""
    from alignguard.drift.judge_data import build_training_set, kind_folds
    from alignguard.drift.judges.head_train import _features, _groups, fit_head
    from alignguard.drift.judges.semantic import MiniLMEmbedder, SemanticJudge

    c = float(SemanticJudge().head.meta["C"])
    rows = build_training_set(0)
    x = _features(rows, MiniLMEmbedder())
    index = {id(r): i for i, r in enumerate(rows)}
    correct = {name: 0 for name in RULES}
    per_kind: dict[str, dict] = {}
    for kind, train, test in kind_folds(rows):
        tr = np.asarray([index[id(r)] for r in train])
        te = np.asarray([index[id(r)] for r in test])
        head = fit_head(x[tr], np.asarray([r["refusal"] for r in train], dtype=int), _groups(train), c, folds=3)
        metrics = both_rules(test, head.prob(torch.tensor(x[te])).tolist())
        per_kind[kind] = {name: m["accuracy"] for name, m in metrics.items()}
        for name, m in metrics.items():
            correct[name] += round(m["accuracy"] * len(test))
    total = sum(len(test) for _, _, test in kind_folds(rows))
    return {"pooled": {name: n / total for name, n in correct.items()}, "n": total, "per_kind": per_kind}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=None)
    parser.add_argument("--no-folds", action="store_true", help="skip leave one kind out")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    doc = {"sets": labelled_sets()}
    for name, by_rule in doc["sets"].items():
        for rule, m in by_rule.items():
            print(f"{name:34s} {rule:28s} n {m['n']:4d} acc {m['accuracy']:.3f} "
                  f"P {_fmt(m['precision'])} R {_fmt(m['recall'])}")
    if not args.no_folds:
        doc["leave_one_kind_out"] = folds = kind_folds_pooled()
        for rule, acc in folds["pooled"].items():
            print(f"leave one kind out (pooled, n {folds['n']}) {rule:28s} acc {acc:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
