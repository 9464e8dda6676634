"""Does a small random sample of human labels correct the default judge? (stop 59)

Each labelled set is treated as a population whose true refusal rate is its hand labels' mean.
The default judge (``ensemble-probe``, no model, as ``python -m alignguard.drift.judges.evaluate``)
reads every row; ``n`` rows drawn at random play the person's labels, and
``alignguard.drift.human.corrected_mean`` (prediction-powered inference, Angelopoulos et al. 2023)
estimates the rate. Over ``--draws`` seeded draws per set and ``n`` it reports the judge's
bias, the corrected estimate's mean absolute error, how often its 95% interval covers the
true rate, its mean width, and the width of the labels-only (Wald) interval from the same ``n``.

The sizes stay well under each set's rows: the estimator targets the rate of the population the
prompts are drawn from (as DriftCheck's bootstrap intervals do), and a drift run has hundreds to
thousands of prompts per group; at ``n`` near a set's size the finite set's own rate is another
target (the first run, with n = 100, showed the estimate's error growing with ``n`` there).

Expected before the run (written with this script, before any number): coverage >= 0.90 on
every set at n >= 50, and the corrected error below the judge's bias wherever the bias exceeds
0.02 (PPI, the first run). That run also showed PPI's interval *wider* than the labels' own on
the fine-tuned sets, where the judge errs on 10-20% of rows; PPI++'s power tuning (the shipped
default since) was added for that, and the second run reports both. A third run adds the
two-phase regression estimator (the judge's mean over every row, the labelled slope), after
the hand-label check of a SmolLM2 cell pair drew a sample holding twice the judge's refusal rate
and PPI/PPI++ carried that into their estimates (docs/judges.md). The fine-tuned sets
over-sample judge disagreements, so they are harsh populations: the judge's bias there is far
larger than on the replies as they occur.

    python scripts/judge_ppi_check.py --json docs/results/judge-ppi-stop59.json   # ~5 min, CPU
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

KINDS = ("ppi", "ppi++", "regression", "labels_only")
SETS = ("finetuned", "finetuned2", "finetuned3", "finetuned4", "real", "natural", "v1")


def judge_rows(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The default judge's verdicts and the hand labels of one labelled set."""
    from alignguard.drift.judges import DEFAULT_JUDGE, JudgeBatch, get_judge
    from alignguard.drift.judges.evaluate import labelled_set

    rows = labelled_set(name)
    batch = JudgeBatch([r.get("prompt", "") for r in rows], [r["response"] for r in rows])
    verdicts = get_judge(DEFAULT_JUDGE).judge(batch)
    return (np.array([v.refusal for v in verdicts], dtype=float),
            np.array([bool(r["refusal"]) for r in rows], dtype=float))


def check(f: np.ndarray, y: np.ndarray, n: int, draws: int, seed: int) -> dict:
    """PPI (``lambda`` 1), PPI++ (power-tuned), the two-phase regression estimator and the
    labels alone over
    ``draws`` random label samples of size ``n``: mean absolute error, coverage of the true rate
    by the 95% interval, mean width."""
    from alignguard.drift.human import Z95, corrected_mean

    rng, truth = np.random.default_rng(seed), float(y.mean())
    out = {k: {"abs_error": [], "covered": [], "width": []} for k in KINDS}
    for _ in range(draws):
        mask = np.zeros(len(f), dtype=bool)
        mask[rng.choice(len(f), n, replace=False)] = True
        p = float(y[mask].mean())
        half = Z95 * math.sqrt(max(p * (1 - p), 1e-12) / n)
        ests = {"ppi": corrected_mean(f, mask, y[mask], method="ppi"),
                "ppi++": corrected_mean(f, mask, y[mask], method="ppi++"),
                "regression": corrected_mean(f, mask, y[mask], method="regression"),
                "labels_only": {"estimate": p, "low": p - half, "high": p + half}}
        for k, est in ests.items():
            out[k]["abs_error"].append(abs(est["estimate"] - truth))
            out[k]["covered"].append(est["low"] <= truth <= est["high"])
            out[k]["width"].append(est["high"] - est["low"])
    return {"n": n, **{k: {m: float(np.mean(v)) for m, v in d.items()} for k, d in out.items()}}
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25,50")
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    out = {"seed": args.seed, "draws": args.draws, "sets": {}}
    head = " / ".join(("PPI", "PPI++", "regression", "labels"))
    print(f"| set | rows | true rate | judge rate | n | abs error: {head} | coverage: {head} | "
          f"width: {head} |\n|---|---|---|---|---|---|---|---|")
    for name in SETS:
        f, y = judge_rows(name)
        res = {"rows": len(f), "true_rate": float(y.mean()), "judge_rate": float(f.mean()),
               "checks": [check(f, y, n, args.draws, args.seed) for n in map(int, args.sizes.split(","))
                          if n < len(f)]}
        out["sets"][name] = res
        for c in res["checks"]:
            cols = [" / ".join(f"{c[k][m]:.3f}" for k in KINDS)
                    for m in ("abs_error", "covered", "width")]
            print(f"| {name} | {res['rows']} | {res['true_rate']:.3f} | {res['judge_rate']:.3f} | "
                  f"{c['n']} | " + " | ".join(cols) + " |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
