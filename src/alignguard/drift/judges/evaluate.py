"""Judge evaluation: accuracy, refusal precision/recall, calibration, per-kind tables.

For gold labels ``y`` (1 = refusal), scores ``p`` in [0, 1] and decisions ``d``:

* precision = #(d=1, y=1) / #(d=1), recall = #(d=1, y=1) / #(y=1) (of the label "refusal");
* Brier score = mean (p - y)^2;
* expected calibration error (ECE) = sum over 10 equal-width bins B of |B|/n * |mean_B p - mean_B y|;
* AUC = P(p_refusal > p_compliance) + P(tie) / 2 over (refusal, compliance) pairs (Mann-Whitney), the
  threshold-free ranking quality, for judges whose score is not calibrated (the chat judge).

``python -m alignguard.drift.judges.evaluate --judge NAME [SET ...]`` prints the tables of a
shipped judge on labelled sets: ``families`` (the held-out template families of
:func:`alignguard.drift.judge_data.split_rows`), ``natural``, ``v1``, ``real``, ``finetuned`` or a
labelled JSONL file.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from typing import Any

from alignguard.drift.judges import DEFAULT_JUDGE

log = logging.getLogger(__name__)


def binary_metrics(gold: Sequence[bool], decision: Sequence[bool], score: Sequence[float] | None = None,
                   bins: int = 10) -> dict[str, Any]:
    """``n, accuracy, precision, recall, brier, ece, auc`` (the last three need ``score``)."""
    n = len(gold)
    tp = sum(d and g for d, g in zip(decision, gold, strict=True))
    pos, pred = sum(gold), sum(decision)
    out: dict[str, Any] = {
        "n": n, "accuracy": sum(d == g for d, g in zip(decision, gold, strict=True)) / max(n, 1),
        "precision": tp / pred if pred else None, "recall": tp / pos if pos else None,
    }
    if score is not None:
        out["brier"] = sum((p - g) ** 2 for p, g in zip(score, gold, strict=True)) / max(n, 1)
        ece = 0.0
        for b in range(bins):
            idx = [i for i, p in enumerate(score) if min(int(p * bins), bins - 1) == b]
            if idx:
                conf = sum(score[i] for i in idx) / len(idx)
                freq = sum(gold[i] for i in idx) / len(idx)
                ece += len(idx) / n * abs(conf - freq)
        out["ece"] = ece
        out["auc"] = auc(gold, score)
    return out


def auc(gold: Sequence[bool], score: Sequence[float]) -> float | None:
    """Area under the ROC curve of ``score`` for ``gold`` (``None`` without both classes)."""
    pos = [s for s, g in zip(score, gold, strict=True) if g]
    neg = [s for s, g in zip(score, gold, strict=True) if not g]
    if not pos or not neg:
        return None
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def per_kind(rows: Sequence[dict], decision: Sequence[bool], score: Sequence[float] | None = None,
             key: str = "kind") -> dict[str, dict[str, Any]]:
    """:func:`binary_metrics` per value of ``row[key]``, plus ``"all"``."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(str(row.get(key, "-")), []).append(i)
    out = {}
    for name, idx in sorted(groups.items()):
        out[name] = binary_metrics([rows[i]["refusal"] for i in idx], [decision[i] for i in idx],
                                   [score[i] for i in idx] if score is not None else None)
    out["all"] = binary_metrics([r["refusal"] for r in rows], list(decision), list(score) if score is not None else None)
    return out


def markdown_table(table: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of :func:`per_kind` output."""
    cols = ("n", "accuracy", "precision", "recall", "brier", "ece", "auc")

    def cell(v: Any) -> str:
        return "-" if v is None else (str(v) if isinstance(v, int) else f"{v:.3f}")

    lines = ["| kind | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {k} | " + " | ".join(cell(m.get(c)) for c in cols) + " |" for k, m in table.items()]
    return "\n".join(lines)


def judge_rows(judge_name: str, rows: Sequence[dict]) -> tuple[list[bool], list[float]]:
    """Decisions and scores of a response judge (by name) on labelled rows; a row's ``prompt``, where
    it has one, is the request (read by the chat judge only)."""
    from alignguard.drift.judges import JudgeBatch, get_judge

    batch = JudgeBatch([r.get("prompt", "") for r in rows], [r["response"] for r in rows])
    verdicts = get_judge(judge_name).judge(batch)
    return [v.refusal for v in verdicts], [v.score for v in verdicts]


def labelled_set(name: str) -> list[dict]:
    """Rows of a named labelled set (``families``, ``natural``, ``v1``, ``real``, ``finetuned``,
    ``finetuned2``, ``finetuned3``, ``finetuned4``) or of a JSONL file."""
    from alignguard.drift.judge_data import (
        FINETUNED,
        FINETUNED2,
        FINETUNED3,
        FINETUNED4,
        HELDOUT_V1,
        NATURAL,
        REAL,
        build_training_set,
        read_labelled,
        split_rows,
    )

    if name == "families":
        return split_rows(build_training_set())[1]
    return read_labelled({"natural": NATURAL, "v1": HELDOUT_V1, "real": REAL, "finetuned": FINETUNED,
                          "finetuned2": FINETUNED2, "finetuned3": FINETUNED3,
                          "finetuned4": FINETUNED4}.get(name, name))


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - maintenance entry point
    """Print per-kind tables of judges on labelled sets."""
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", default=DEFAULT_JUDGE, help="comma-separated judge names")
    ap.add_argument("--key", default="kind", help="row field to group by (kind, lang, family)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    ap.add_argument("sets", nargs="*", default=["families", "natural", "v1"])
    args = ap.parse_args(argv)
    for name in args.sets:
        rows = labelled_set(name)
        for judge in args.judge.split(","):
            dec, score = judge_rows(judge, rows)
            table = per_kind(rows, dec, score, key=args.key)
            print(json.dumps(table, indent=1) if args.json else f"\n{judge} on {name}\n\n{markdown_table(table)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
