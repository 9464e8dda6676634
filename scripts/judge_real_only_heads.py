"""Probe heads fitted on hand-labelled SmolLM2 replies alone, each real set left out (stop 58).

Exploration behind docs/judges.md, "A probe head fitted on SmolLM2's own replies alone": the
shipped probe's features (``alignguard.drift.judges.probe.probe_features``) of the real sets
(``real``, fine-tuned 1-4), a standardised logistic regression fitted on all but one and scored
on it, for several ``C``; the head fitted on all five is also scored on the written sets.

    python scripts/judge_real_only_heads.py --cache DIR     # ~2 min on 2 CPU threads
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REAL = ("real", "finetuned", "finetuned2", "finetuned3", "finetuned4")
WRITTEN = ("natural", "v1")


def features(names, cache: Path) -> tuple[dict, dict]:
    """Probe features and labels of each labelled set (features cached as ``.npy``)."""
    from alignguard.drift.judges import probe
    from alignguard.drift.judges.evaluate import labelled_set
    from alignguard.models import load_model

    lm = None
    x, y = {}, {}
    cache.mkdir(parents=True, exist_ok=True)
    for name in names:
        rows = labelled_set(name)
        path = cache / f"{name}.npy"
        if not path.is_file():
            if lm is None:
                model, tok = load_model("smollm2")
                lm = (model.eval(), tok)
            np.save(path, probe.probe_features(lm[0], lm[1], [r["response"] for r in rows]).double().numpy())
        x[name], y[name] = np.load(path), np.array([bool(r["refusal"]) for r in rows])
    return x, y


def metrics(gold: np.ndarray, pred: np.ndarray) -> str:
    """``accuracy, precision / recall (false refusals, missed refusals)``."""
    tp, fp, fn = (pred & gold).sum(), (pred & ~gold).sum(), (~pred & gold).sum()
    return f"{(pred == gold).mean():.3f}, {tp / max(tp + fp, 1):.2f} / {tp / max(tp + fn, 1):.2f} ({fp}, {fn})"


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="folder for the probe features")
    ap.add_argument("--c", default="0.01,0.1,1", help="comma-separated inverse regularisation strengths")
    args = ap.parse_args()
    x, y = features((*REAL, *WRITTEN), Path(args.cache))

    def head(names, c):
        h = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        return h.fit(np.vstack([x[n] for n in names]), np.concatenate([y[n] for n in names]))

    for c in (float(v) for v in args.c.split(",")):
        print(f"C {c}")
        for held in REAL:
            print(f"  {held}: {metrics(y[held], head([n for n in REAL if n != held], c).predict(x[held]))}")
        every = head(REAL, c)
        for name in WRITTEN:
            print(f"  {name} (head on all five): {metrics(y[name], every.predict(x[name]))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
