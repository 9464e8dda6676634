"""Train the probe member (:mod:`alignguard.drift.judges.probe`) and store its metrics.

Protocol (the semantic judge's, docs/judges.md):

1. data: ``build_training_set(0)`` and its family split (``split_rows``): the held-out template
   families, aligned SmolLM2's replies among them, are never trained on;
2. head: features standardised on the training rows, ``C`` chosen by ``GroupKFold`` over template
   families by log-loss, Platt calibration on out-of-family decision values
   (``head_train.select_c`` / ``fit_head``), the standardisation folded into ``(w, b)``;
3. metrics of ``probe``, ``semantic-probe`` and ``ensemble-probe`` (no model) on the held-out
   families, the independent written sets (natural, v1) and the fine-tuned SmolLM2 replies, and
   leave-one-kind-out over all rows with both heads refitted per fold (the frozen head with its
   shipped ``C``), as ``semantic_head.json`` does for the semantic judge.

    python -m alignguard.drift.judges.probe_train [--out DIR] [--cache DIR]   # ~20 min, 1 thread
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from alignguard.drift.judges.probe import (
    LAYERS,
    MAX_CHARS,
    PROBE_DIR,
    PROBE_MODEL,
    QUESTION,
    probe_features,
)
from alignguard.drift.judges.semantic import HEAD_DIR, LogisticHead

log = logging.getLogger(__name__)

PROBE_VERSION = "1.0"
JUDGES = ("probe", "semantic-probe", "ensemble-probe")


def fit_probe(x: np.ndarray, rows: Sequence[dict], c: float | None = None) -> LogisticHead:
    """The calibrated head on standardised ``x``, returned on raw features (``w / sd``,
    ``b - w . mu / sd``); ``c`` chosen by ``select_c`` when not given."""
    from alignguard.drift.judges.head_train import _groups, fit_head, select_c

    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    y = np.asarray([r["refusal"] for r in rows], dtype=int)
    if c is None:
        c, _ = select_c(z, y, _groups(rows))
    head = fit_head(z, y, _groups(rows), c, folds=3)
    w = head.weight.double().numpy() / sd
    bias = head.bias - float(w @ mu)
    return LogisticHead(torch.tensor(w), bias, {"C": c}, head.calib)


def judge_scores(texts: Sequence[str], p_s: np.ndarray, p_p: np.ndarray) -> dict[str, tuple[list, list]]:
    """``{judge: (decisions, scores)}`` of the three probe judges from the members' probabilities."""
    from alignguard.drift.judges.base import Verdict
    from alignguard.drift.judges.ensemble import LexiconJudge, combine

    mean = (np.asarray(p_s) + np.asarray(p_p)) / 2
    lex = LexiconJudge()
    ens = combine(list(texts), {"semantic": [Verdict(bool(v > 0.5), float(v)) for v in mean],
                                "lexicon": [Verdict(h, float(h)) for h in map(lex.is_refusal, texts)]})
    return {"probe": ([bool(v > 0.5) for v in p_p], [float(v) for v in p_p]),
            "semantic-probe": ([bool(v > 0.5) for v in mean], [float(v) for v in mean]),
            "ensemble-probe": ([v.refusal for v in ens], [v.score for v in ens])}


def tables(rows: Sequence[dict], p_s: np.ndarray, p_p: np.ndarray, key: str = "kind") -> dict[str, dict]:
    """``{judge: per-key metrics}`` of the three probe judges on ``rows``."""
    from alignguard.drift.judges.evaluate import per_kind

    scores = judge_scores([r["response"] for r in rows], p_s, p_p)
    return {j: per_kind(rows, dec, sc, key=key) for j, (dec, sc) in scores.items()}


def leave_one_kind_out(rows: Sequence[dict], x_probe: np.ndarray, x_mini: np.ndarray, c_probe: float,
                       c_mini: float) -> dict[str, dict]:
    """Pooled accuracy, refusal precision and recall, and per-kind accuracy of the three judges,
    both heads refitted without each kind."""
    from alignguard.drift.judge_data import kind_folds
    from alignguard.drift.judges.head_train import _groups, fit_head

    idx = {id(r): i for i, r in enumerate(rows)}
    counts = {j: {"right": 0, "tp": 0, "fp": 0, "fn": 0, "n": 0} for j in JUDGES}
    per: dict[str, dict[str, float]] = {j: {} for j in JUDGES}
    for kind, train, test in kind_folds(rows):
        a, b = [idx[id(r)] for r in train], [idx[id(r)] for r in test]
        y = np.asarray([r["refusal"] for r in train], dtype=int)
        frozen = fit_head(x_mini[a], y, _groups(train), c_mini, folds=3)
        p_s = frozen.prob(torch.tensor(x_mini[b])).numpy()
        p_p = fit_probe(x_probe[a], train, c_probe).prob(torch.tensor(x_probe[b])).numpy()
        gold = [bool(r["refusal"]) for r in test]
        for judge, (dec, _) in judge_scores([r["response"] for r in test], p_s, p_p).items():
            c = counts[judge]
            right = sum(d == g for d, g in zip(dec, gold, strict=True))
            c["right"], c["n"] = c["right"] + right, c["n"] + len(test)
            c["tp"] += sum(d and g for d, g in zip(dec, gold, strict=True))
            c["fp"] += sum(d and not g for d, g in zip(dec, gold, strict=True))
            c["fn"] += sum(g and not d for d, g in zip(dec, gold, strict=True))
            per[judge][kind] = round(right / len(test), 4)
        log.info("leave-one-kind-out: %s done", kind)
    return {j: {"pooled": c["right"] / c["n"], "precision": c["tp"] / max(c["tp"] + c["fp"], 1),
                "recall": c["tp"] / max(c["tp"] + c["fn"], 1), "n": c["n"], "per_kind": per[j]}
            for j, c in counts.items()}


def _cached(cache: Path | None, name: str, compute) -> np.ndarray:
    path = cache / f"probe-{name}.npy" if cache else None
    if path is not None and path.is_file():
        return np.load(path)
    x = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, x)
    return x


def train_probe(out: str | Path = PROBE_DIR, cache: str | Path | None = None, protocol: bool = True) -> dict:
    """Fit, evaluate and save the probe head (module docstring); returns its metadata."""
    from alignguard.artifacts import fingerprint_records
    from alignguard.drift.judge_data import DATA_VERSION, build_training_set, split_rows
    from alignguard.drift.judges.evaluate import labelled_set
    from alignguard.drift.judges.head_train import _features
    from alignguard.drift.judges.semantic import MiniLMEmbedder, SemanticJudge
    from alignguard.models import load_model

    cache = Path(cache) if cache else None
    model, tok = load_model(PROBE_MODEL)
    model.eval()
    feats = lambda texts: probe_features(model, tok, texts).double().numpy()  # noqa: E731
    rows = build_training_set(0)
    train, test = split_rows(rows)
    x = _cached(cache, "train", lambda: feats([r["response"] for r in rows]))
    idx = {id(r): i for i, r in enumerate(rows)}
    head = fit_probe(x[[idx[id(r)] for r in train]], train)
    frozen = SemanticJudge()
    meta = {"version": PROBE_VERSION, "model": PROBE_MODEL, "layers": list(LAYERS), "max_chars": MAX_CHARS,
            "question": QUESTION, "threshold": 0.5, "C": head.meta["C"], "data_seed": 0,
            "data_version": DATA_VERSION, "n_train": len(train), "n_test": len(test),
            "train_fingerprint": fingerprint_records(train), "test_fingerprint": fingerprint_records(test),
            "torch": torch.__version__, "metrics": {}}
    p_p = head.prob(torch.tensor(x[[idx[id(r)] for r in test]])).numpy()
    p_s = frozen.probs([r["response"] for r in test]).numpy()
    meta["metrics"]["families"] = tables(test, p_s, p_p)
    meta["metrics"]["real"] = tables([r for r in test if r["kind"] == "real"],
                                     *(p[[i for i, r in enumerate(test) if r["kind"] == "real"]] for p in (p_s, p_p)),
                                     key="family")
    for name, key in (("natural", "kind"), ("v1", "kind"), ("finetuned", "subset")):
        labelled = labelled_set(name)
        texts = [r["response"] for r in labelled]
        x_set = _cached(cache, name, lambda t=texts: feats(t))
        meta["metrics"][name] = tables(labelled, frozen.probs(texts).numpy(),
                                       head.prob(torch.tensor(x_set)).numpy(), key=key)
        meta[name + "_fingerprint"] = fingerprint_records(labelled)
    from alignguard.drift.judges.tuned_eval import REFERENCE_TEXTS

    meta["reference"] = {"texts": list(REFERENCE_TEXTS),
                         "probe": head.prob(torch.tensor(feats(list(REFERENCE_TEXTS)))).tolist()}
    if protocol:
        c_mini = json.loads((HEAD_DIR / "semantic_head.json").read_text())["C"]
        x_mini = _features(rows, MiniLMEmbedder())
        meta["leave_one_kind_out"] = leave_one_kind_out(rows, x, x_mini, head.meta["C"], c_mini)
    head.meta = meta
    head.save(out, "head")
    return meta


def summary(meta: dict) -> str:
    """Markdown: accuracy / precision / recall per set and judge, and the pooled leave-one-kind-out."""
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["| set | " + " | ".join(JUDGES) + " |", "|---|" + "---|" * len(JUDGES)]
    for name, group in (("families", "all"), ("real", "smollm2-aligned"), ("natural", "all"), ("v1", "all"),
                        ("finetuned", "all")):
        cells = [meta["metrics"][name][j][group] for j in JUDGES]
        lines.append(f"| {name} {group} (n={cells[0]['n']}) | " + " | ".join(
            f"{f(m['accuracy'])} / {f(m['precision'])} / {f(m['recall'])}" for m in cells) + " |")
    if "leave_one_kind_out" in meta:
        loko = meta["leave_one_kind_out"]
        lines.append(f"| leave one kind out, pooled (n={loko['probe']['n']}) | " + " | ".join(
            f"{f(loko[j]['pooled'])} / {f(loko[j]['precision'])} / {f(loko[j]['recall'])}" for j in JUDGES) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - maintenance entry point
    """CLI: train the probe head and print its metrics."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(PROBE_DIR))
    ap.add_argument("--cache", help="folder caching the probe features of each set (probe-SET.npy)")
    ap.add_argument("--no-protocol", action="store_true", help="skip leave-one-kind-out")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    print(summary(train_probe(args.out, args.cache, protocol=not args.no_protocol)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
