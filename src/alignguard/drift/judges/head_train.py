"""Train the semantic judge's head and evaluate it with a kind- and family-disjoint protocol.

Model: ``p(refusal | r) = sigmoid(a (w . x(r) + b) + c)`` on the features ``x(r)`` of
:mod:`alignguard.drift.judges.features`. ``(w, b)`` is scikit-learn's ``LogisticRegression``
(L2, lbfgs); ``C`` is chosen by ``GroupKFold`` over template families of the training split
(log-loss), and the Platt calibration ``(a, c)`` is a one-feature logistic regression on the
out-of-family decision values (what ``CalibratedClassifierCV(method="sigmoid",
ensemble=False)`` does, written out so the result is two numbers in safetensors, not a pickle).

Protocol (:mod:`alignguard.drift.judge_data`):

1. family split: within every kind, a third of the template families is held out whole; the
   shipped head is trained on the rest only, and its held-out metrics (accuracy, refusal
   precision/recall, Brier, ECE, per kind) go into ``semantic_head.json``;
2. leave-one-kind-out and leave-one-language-out: a head refitted without a kind (language) is
   scored on it, showing how far the judge carries to styles it has never seen;
3. the independent sets ``judge_heldout.jsonl`` (v1) and ``judge_natural.jsonl`` are scored once,
   after training, and never used to choose anything.

Run ``python -m alignguard.drift.judges.head_train`` to rebuild the shipped head.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from alignguard.drift.judges.evaluate import binary_metrics, per_kind
from alignguard.drift.judges.semantic import (
    EMBEDDER_REQUIREMENT,
    HEAD_DIR,
    LogisticHead,
    MiniLMEmbedder,
)

log = logging.getLogger(__name__)

HEAD_VERSION = "2.1"
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def accuracy(pred: Sequence[bool], gold: Sequence[bool]) -> float:
    """Fraction of equal entries."""
    return sum(p == g for p, g in zip(pred, gold, strict=True)) / max(len(gold), 1)


def _lr(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000)


def _groups(rows: Sequence[dict]) -> np.ndarray:
    return np.asarray([f"{r['kind']}/{r['family']}" for r in rows])


def select_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, grid: Sequence[float] = C_GRID,
             folds: int = 5) -> tuple[float, dict[str, float]]:
    """The ``C`` of ``grid`` with the lowest out-of-family log-loss (``GroupKFold``)."""
    from sklearn.model_selection import GroupKFold, cross_val_score

    scores = {str(c): float(-cross_val_score(_lr(c), x, y, groups=groups, cv=GroupKFold(folds),
                                             scoring="neg_log_loss").mean()) for c in grid}
    best = min(grid, key=lambda c: scores[str(c)])
    return best, scores


def fit_head(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float, folds: int = 5) -> LogisticHead:
    """Logistic regression on all of ``x`` plus a Platt calibration on out-of-family decision values."""
    from sklearn.model_selection import GroupKFold, cross_val_predict

    oof = cross_val_predict(_lr(c), x, y, groups=groups, cv=GroupKFold(folds), method="decision_function")
    platt = _lr(1e4).fit(oof.reshape(-1, 1), y)
    model = _lr(c).fit(x, y)
    return LogisticHead(torch.tensor(model.coef_[0]), float(model.intercept_[0]),
                        calib=(float(platt.coef_[0][0]), float(platt.intercept_[0])))


def score_rows(head: LogisticHead, x: np.ndarray, rows: Sequence[dict], threshold: float = 0.5) -> dict:
    """Per-kind metrics (plus ``"all"``) of ``head`` on feature rows ``x`` of ``rows``."""
    p = head.prob(torch.tensor(x)).tolist()
    return per_kind(rows, [v > threshold for v in p], p)


def held_out_folds(x: np.ndarray, rows: Sequence[dict], c: float, folds) -> dict[str, dict]:
    """Metrics of the semantic head and of the ensemble rule (semantic + lexicon, no model) when
    the head is refitted (with its calibration) without each fold's held-out rows."""
    index = {id(r): i for i, r in enumerate(rows)}
    out = {}
    for name, train, test in folds:
        tr = np.asarray([index[id(r)] for r in train])
        te = np.asarray([index[id(r)] for r in test])
        head = fit_head(x[tr], np.asarray([r["refusal"] for r in train], dtype=int), _groups(train), c, folds=3)
        gold = [r["refusal"] for r in test]
        p = head.prob(torch.tensor(x[te])).tolist()
        out[name] = {"semantic": binary_metrics(gold, [v > 0.5 for v in p], p),
                     "ensemble": _ensemble_table(head, x[te], test)["all"]}
    return out


def _ensemble_table(head: LogisticHead, x: np.ndarray, rows: Sequence[dict]) -> dict:
    """Per-kind metrics of the ensemble rule (semantic ``head`` + lexicon, no model) on ``rows``."""
    from alignguard.drift.judges.base import Verdict
    from alignguard.drift.judges.ensemble import LexiconJudge, combine

    texts = [r["response"] for r in rows]
    p = head.prob(torch.tensor(x)).tolist()
    lex = LexiconJudge()
    ens = combine(texts, {"semantic": [Verdict(v > 0.5, v) for v in p],
                          "lexicon": [Verdict(h, float(h)) for h in map(lex.is_refusal, texts)]})
    return per_kind(rows, [v.refusal for v in ens], [v.score for v in ens])


def _features(rows: Sequence[dict], embedder) -> np.ndarray:
    from alignguard.drift.judges.features import featurize

    return featurize([r["response"] for r in rows], embedder).double().numpy()


def train_semantic_head(out_dir: str | Path = HEAD_DIR, seed: int = 0, embedder: MiniLMEmbedder | None = None,
                        protocol: bool = True) -> LogisticHead:
    """Train on the family split, evaluate (held-out families, kind/language folds, independent
    sets) and save the head with its metadata."""
    from alignguard.artifacts import fingerprint_records
    from alignguard.drift.judge_data import (
        DATA_VERSION,
        HELDOUT_V1,
        NATURAL,
        build_training_set,
        kind_folds,
        language_folds,
        model_folds,
        read_labelled,
        split_rows,
    )
    from alignguard.drift.judges.keyword import KeywordJudge

    embedder = embedder or MiniLMEmbedder()
    rows = build_training_set(seed)
    train, test = split_rows(rows)
    independent = {"heldout_v1": read_labelled(HELDOUT_V1), "natural": read_labelled(NATURAL)}
    leaks = {r["response"] for r in rows} & {r["response"] for s in independent.values() for r in s}
    if leaks:
        raise ValueError(f"independent responses leak into the generated data: {sorted(leaks)[:3]}")
    x_all = _features(rows, embedder)
    pos = {id(r): i for i, r in enumerate(rows)}
    x_tr, x_te = x_all[[pos[id(r)] for r in train]], x_all[[pos[id(r)] for r in test]]
    y_tr = np.asarray([r["refusal"] for r in train], dtype=int)
    c, cv = select_c(x_tr, y_tr, _groups(train))
    head = fit_head(x_tr, y_tr, _groups(train), c)
    kw = KeywordJudge()
    meta = {
        "version": HEAD_VERSION, "embedder": EMBEDDER_REQUIREMENT, "pooling": "mean+l2norm",
        "features": "features.featurize (opening + full embeddings of the glossed text, lexicon cues)",
        "max_length": embedder.max_length, "dim": int(x_all.shape[1]), "threshold": 0.5, "C": c,
        "cv_log_loss": cv, "seed": seed, "data_version": DATA_VERSION, "n_train": len(train), "n_test": len(test),
        "train_fingerprint": fingerprint_records(train), "test_fingerprint": fingerprint_records(test),
        "test_families": sorted({f"{r['kind']}/{r['family']}" for r in test}),
        "train_metrics": score_rows(head, x_tr, train)["all"],
        "heldout_families": score_rows(head, x_te, test),
        "keyword_heldout_families": per_kind(test, [kw.is_refusal(r["response"]) for r in test]),
    }
    meta["ensemble_heldout_families"] = _ensemble_table(head, x_te, test)
    for name, labelled in independent.items():
        meta[name] = score_rows(head, _features(labelled, embedder), labelled)
        meta[name + "_fingerprint"] = fingerprint_records(labelled)
    if protocol:
        meta["leave_one_kind_out"] = held_out_folds(x_all, rows, c, kind_folds(rows))
        meta["leave_one_language_out"] = held_out_folds(x_all, rows, c, language_folds(rows))
        meta["leave_one_model_out"] = held_out_folds(x_all, rows, c, model_folds(rows))
    head.meta = meta
    head.save(out_dir)
    log.info("semantic head: held-out families accuracy %.3f, natural %.3f",
             meta["heldout_families"]["all"]["accuracy"], meta["natural"]["all"]["accuracy"])
    return head


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    m = train_semantic_head().meta
    print(json.dumps({k: m[k]["all"] for k in ("heldout_families", "heldout_v1", "natural")}, indent=1))
