"""Train the semantic judge's logistic-regression head and record its held-out accuracy.

Model: ``p(refusal | r) = sigmoid(w . e(r) + b)`` on MiniLM embeddings ``e(r)``, fitted by
L-BFGS on the mean binary cross-entropy plus ``l2 * ||w||^2``. ``l2`` is chosen by 5-fold
cross-validation on the training set only; the held-out set (``data/judge_heldout.jsonl``,
written separately with different wording) is used once, to report the accuracy of the semantic
and keyword judges, which goes into ``semantic_head.json``.

Run ``python -m alignguard.drift.judges.head_train`` to rebuild the shipped head.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from alignguard.drift.judges.keyword import KeywordJudge
from alignguard.drift.judges.semantic import (
    EMBEDDER_REQUIREMENT,
    HEAD_DIR,
    LogisticHead,
    MiniLMEmbedder,
)

log = logging.getLogger(__name__)

HELDOUT_FILE = HEAD_DIR / "judge_heldout.jsonl"
HEAD_VERSION = "1.0"
L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def read_labelled(path: str | Path = HELDOUT_FILE) -> list[dict]:
    """Rows ``{"response", "refusal", "kind"}`` of a labelled JSONL file."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def fit_logistic(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-3, steps: int = 200) -> tuple[torch.Tensor, float]:
    """``(w, b)`` minimising ``mean BCE(sigmoid(x w + b), y) + l2 ||w||^2`` (L-BFGS)."""
    x, y = x.double(), y.double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe", tolerance_grad=1e-9)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + l2 * (w @ w)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().float(), float(b.detach())


def accuracy(pred: Sequence[bool], gold: Sequence[bool]) -> float:
    """Fraction of equal entries."""
    return sum(p == g for p, g in zip(pred, gold, strict=True)) / max(len(gold), 1)


def cross_validate(x: torch.Tensor, y: torch.Tensor, grid: Sequence[float] = L2_GRID, folds: int = 5,
                   seed: int = 0) -> dict[float, float]:
    """Mean k-fold accuracy for each ``l2`` in ``grid``."""
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    scores = {}
    for l2 in grid:
        accs = []
        for k in range(folds):
            test = perm[k::folds]
            train = perm[torch.isin(perm, test, invert=True)]
            w, b = fit_logistic(x[train], y[train], l2)
            accs.append(accuracy(((x[test] @ w + b) > 0).tolist(), y[test].bool().tolist()))
        scores[l2] = sum(accs) / folds
    return scores


def _per_kind(rows: Sequence[dict], pred: Sequence[bool]) -> dict[str, float]:
    kinds: dict[str, list[bool]] = {}
    for row, p in zip(rows, pred, strict=True):
        kinds.setdefault(row["kind"], []).append(p == row["refusal"])
    return {k: sum(v) / len(v) for k, v in sorted(kinds.items())}


def train_semantic_head(out_dir: str | Path = HEAD_DIR, seed: int = 0,
                        embedder: MiniLMEmbedder | None = None) -> LogisticHead:
    """Train, evaluate on the held-out set, and save the head with its metadata."""
    from alignguard.artifacts import fingerprint_records
    from alignguard.drift.judge_data import build_training_set

    embedder = embedder or MiniLMEmbedder()
    train = build_training_set(seed)
    heldout = read_labelled()
    overlap = {r["response"] for r in train} & {r["response"] for r in heldout}
    if overlap:
        raise ValueError(f"held-out responses leak into the training set: {sorted(overlap)[:3]}")
    x = embedder.embed([r["response"] for r in train])
    y = torch.tensor([float(r["refusal"]) for r in train])
    cv = cross_validate(x, y, seed=seed)
    l2 = max(cv, key=lambda k: (cv[k], k))
    w, b = fit_logistic(x, y, l2)
    head = LogisticHead(w, b)
    gold = [r["refusal"] for r in heldout]
    sem = (head.prob(embedder.embed([r["response"] for r in heldout])) > 0.5).tolist()
    kw = [KeywordJudge().is_refusal(r["response"]) for r in heldout]
    head.meta = {
        "version": HEAD_VERSION, "embedder": EMBEDDER_REQUIREMENT, "pooling": "mean+l2norm",
        "max_length": embedder.max_length, "dim": int(x.shape[1]), "threshold": 0.5, "l2": l2,
        "cv_accuracy": {str(k): v for k, v in cv.items()}, "n_train": len(train),
        "train_fingerprint": fingerprint_records(train), "heldout_fingerprint": fingerprint_records(heldout),
        "train_accuracy": accuracy(((x @ w + b) > 0).tolist(), [r["refusal"] for r in train]),
        "heldout": {"n": len(heldout), "semantic_accuracy": accuracy(sem, gold),
                    "keyword_accuracy": accuracy(kw, gold), "semantic_per_kind": _per_kind(heldout, sem),
                    "keyword_per_kind": _per_kind(heldout, kw)},
    }
    head.save(out_dir)
    log.info("semantic head: held-out accuracy %.3f (keyword %.3f)",
             head.meta["heldout"]["semantic_accuracy"], head.meta["heldout"]["keyword_accuracy"])
    return head


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    print(json.dumps(train_semantic_head().meta["heldout"], indent=2))
