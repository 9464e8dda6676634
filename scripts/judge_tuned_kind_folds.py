"""Leave one kind out for the tuned semantic member and ``ensemble2`` (issue 13; a measurement,
nothing shipped).

docs/judges.md lists this protocol row as not done for the tuned member. For every kind of the
generated training data, both members are refitted without any row of that kind, by the shipped
protocols, and scored on all of its rows:

* training rows: the shipped *family split's* training rows (``split_rows``) minus the kind, so
  that the tuned member trains on what it ships with, less one style;
* frozen member: ``head_train.fit_head`` (``C`` of the shipped head, Platt on out-of-family
  decision values) on those rows' MiniLM features;
* tuned member: ``encoder_train.train_member`` on those rows minus the calibration families
  (``calibration_split``), Platt on the calibration families;
* held out: every row of the kind (both splits), scored by ``semantic``, ``semantic-tuned``,
  ``semantic2``, ``ensemble`` and ``ensemble2`` (no model).

The frozen head's stored leave-one-kind-out (``semantic_head.json``) refits on *all* rows but the
kind (held-out families included), so its numbers are not the frozen rows of this script: this
script refits both members on the same rows. Resumable: one ``fold-KIND.json`` per kind in
``--out``; finished folds are read back, not rerun.

    OMP_NUM_THREADS=1 python scripts/judge_tuned_kind_folds.py [--seed 0] [--out DIR] [--kinds a,b]
    OMP_NUM_THREADS=1 python scripts/judge_tuned_kind_folds.py --probe-cache DIR   # + the probe judges

``--probe-cache`` (added in stop 52, after the tuned folds ran) also scores ``probe``,
``semantic-probe`` and ``ensemble-probe`` on the same folds: the probe head
(``probe_train.fit_probe``, its shipped ``C``) refitted on the same rows from the probe features
cached by ``python -m alignguard.drift.judges.probe_train --cache DIR``, next to the frozen head
refitted here (``probe-KIND.json``).

``--three`` (stop 53, needs ``--probe-cache`` and the stored fold members) also scores the
three-member mean ``semantic3`` and its ensemble ``ensemble3``: the frozen and probe heads refitted
as above, the tuned member read back from ``member-KIND`` (``three-KIND.json``), with
``ensemble-probe`` on the same rows beside them.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from alignguard.artifacts import atomic_write_json
from alignguard.drift.judge_data import build_training_set, split_rows
from alignguard.drift.judges import encoder_train as et
from alignguard.drift.judges.head_train import _features, _groups, fit_head
from alignguard.drift.judges.semantic import HEAD_DIR, MiniLMEmbedder
from alignguard.drift.judges.tuned import TunedSemanticJudge
from alignguard.drift.judges.tuned_eval import derived_scores, tables

log = logging.getLogger("kind_folds")
JUDGES = ("semantic", "semantic-tuned", "semantic2", "ensemble", "ensemble2")


def run_fold(kind: str, rows: list[dict], train: list[dict], x_all: np.ndarray, c: float, seed: int,
             out: Path) -> dict:
    """Refit both members without ``kind`` and return the five judges' tables on its rows."""
    index = {id(r): i for i, r in enumerate(rows)}
    fold_train = [r for r in train if r["kind"] != kind]
    held = [r for r in rows if r["kind"] == kind]
    texts = [r["response"] for r in held]
    t0 = time.time()
    x_tr = x_all[[index[id(r)] for r in fold_train]]
    head = fit_head(x_tr, np.asarray([r["refusal"] for r in fold_train], dtype=int), _groups(fold_train), c, folds=3)
    p_s = head.prob(torch.tensor(x_all[[index[id(r)] for r in held]])).tolist()
    fit, calib = et.calibration_split(fold_train)
    model, tok, lin = et.train_member(fit, seed)
    with torch.no_grad():
        z = et.decision_values(model, tok, lin, [r["response"] for r in calib])
    member_dir = out / f"member-{kind}"
    et.save_member(model, lin, et.platt(z, [bool(r["refusal"]) for r in calib]),
                   {"seed": seed, "version": f"kind-fold-{kind}"}, member_dir)
    p_t = TunedSemanticJudge(member_dir).probs(texts).tolist()
    result = {"kind": kind, "seed": seed, "n_train": len(fold_train), "n_fit": len(fit), "n_calib": len(calib),
              "n_held": len(held), "seconds": round(time.time() - t0),
              "tables": tables(held, derived_scores(texts, p_s, p_t), key="kind")}
    atomic_write_json(out / f"fold-{kind}.json", result)
    return result


def probe_fold(kind: str, rows: list[dict], train: list[dict], x_all: np.ndarray, x_probe: np.ndarray,
               c: float, c_probe: float, out: Path) -> dict:
    """The probe judges' tables on ``kind``'s rows, both heads refitted on the fold's rows."""
    from alignguard.drift.judges.probe_train import fit_probe
    from alignguard.drift.judges.probe_train import tables as probe_tables

    index = {id(r): i for i, r in enumerate(rows)}
    fold_train = [r for r in train if r["kind"] != kind]
    held = [r for r in rows if r["kind"] == kind]
    a, b = [index[id(r)] for r in fold_train], [index[id(r)] for r in held]
    head = fit_head(x_all[a], np.asarray([r["refusal"] for r in fold_train], dtype=int), _groups(fold_train), c, folds=3)
    p_s = head.prob(torch.tensor(x_all[b])).numpy()
    p_p = fit_probe(x_probe[a], fold_train, c_probe).prob(torch.tensor(x_probe[b])).numpy()
    result = {"kind": kind, "n_held": len(held), "tables": probe_tables(held, p_s, p_p)}
    atomic_write_json(out / f"probe-{kind}.json", result)
    return result


def three_fold(kind: str, rows: list[dict], train: list[dict], x_all: np.ndarray, x_probe: np.ndarray,
               c: float, c_probe: float, out: Path) -> dict:
    """``semantic3``, ``ensemble3`` and ``ensemble-probe`` on ``kind``'s rows (module docstring)."""
    from alignguard.drift.judges.base import Verdict
    from alignguard.drift.judges.ensemble import LexiconJudge, combine
    from alignguard.drift.judges.evaluate import per_kind
    from alignguard.drift.judges.probe_train import fit_probe, judge_scores

    index = {id(r): i for i, r in enumerate(rows)}
    fold_train = [r for r in train if r["kind"] != kind]
    held = [r for r in rows if r["kind"] == kind]
    texts = [r["response"] for r in held]
    a, b = [index[id(r)] for r in fold_train], [index[id(r)] for r in held]
    head = fit_head(x_all[a], np.asarray([r["refusal"] for r in fold_train], dtype=int), _groups(fold_train), c, folds=3)
    p_s = head.prob(torch.tensor(x_all[b])).numpy()
    p_p = fit_probe(x_probe[a], fold_train, c_probe).prob(torch.tensor(x_probe[b])).numpy()
    p_t = TunedSemanticJudge(out / f"member-{kind}").probs(texts).numpy()
    mean = (p_s + p_t + p_p) / 3
    lex = LexiconJudge()
    ens = combine(texts, {"semantic": [Verdict(bool(v > 0.5), float(v)) for v in mean],
                          "lexicon": [Verdict(h, float(h)) for h in map(lex.is_refusal, texts)]})
    scores = {"ensemble-probe": judge_scores(texts, p_s, p_p)["ensemble-probe"],
              "semantic3": ([bool(v > 0.5) for v in mean], [float(v) for v in mean]),
              "ensemble3": ([v.refusal for v in ens], [v.score for v in ens])}
    result = {"kind": kind, "n_held": len(held),
              "tables": {j: per_kind(held, dec, sc, key="kind") for j, (dec, sc) in scores.items()}}
    atomic_write_json(out / f"three-{kind}.json", result)
    return result


def pooled(results: list[dict], judges=JUDGES) -> dict[str, float]:
    """Accuracy of each judge over every held-out row of every fold (rows weighted alike)."""
    out = {}
    for judge in judges:
        n = sum(r["tables"][judge]["all"]["n"] for r in results)
        right = sum(r["tables"][judge]["all"]["accuracy"] * r["tables"][judge]["all"]["n"] for r in results)
        out[judge] = right / max(n, 1)
    return out


def main() -> int:
    """Run (or read back) every fold and print the per-kind and pooled accuracies."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/judge-kind-folds")
    ap.add_argument("--kinds", help="comma-separated kinds (default: every kind)")
    ap.add_argument("--probe-cache", help="also score the probe judges from this feature cache")
    ap.add_argument("--three", action="store_true", help="also score semantic3 and ensemble3 (needs --probe-cache)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = build_training_set(0)
    train, _ = split_rows(rows)
    kinds = args.kinds.split(",") if args.kinds else sorted({r["kind"] for r in rows})
    c = json.loads((HEAD_DIR / "semantic_head.json").read_text())["C"]
    x_all = None
    results = []
    for i, kind in enumerate(kinds):
        done = out / f"fold-{kind}.json"
        if done.exists():
            results.append(json.loads(done.read_text()))
            continue
        if x_all is None:
            x_all = _features(rows, MiniLMEmbedder())
        log.info("fold %d/%d: %s", i + 1, len(kinds), kind)
        results.append(run_fold(kind, rows, train, x_all, c, args.seed, out))
    print("| kind | n | " + " | ".join(JUDGES) + " |")
    print("|---|---|" + "---|" * len(JUDGES))
    for r in results:
        t = r["tables"]
        print(f"| {r['kind']} | {r['n_held']} | " + " | ".join(f"{t[j]['all']['accuracy']:.3f}" for j in JUDGES) + " |")
    pool = pooled(results)
    print(f"| pooled | {sum(r['n_held'] for r in results)} | " + " | ".join(f"{pool[j]:.3f}" for j in JUDGES) + " |")
    if args.probe_cache:
        from alignguard.drift.judges.probe import PROBE_DIR

        x_all = x_all if x_all is not None else _features(rows, MiniLMEmbedder())
        x_probe = np.load(Path(args.probe_cache) / "probe-train.npy")
        c_probe = json.loads((PROBE_DIR / "head.json").read_text())["C"]
        probes = [probe_fold(k, rows, train, x_all, x_probe, c, c_probe, out) for k in kinds]
        judges = ("probe", "semantic-probe", "ensemble-probe")
        for r in probes:
            print(f"| {r['kind']} | " + " | ".join(f"{r['tables'][j]['all']['accuracy']:.3f}" for j in judges) + " |")
        pool |= pooled(probes, judges)
        print("| pooled | " + " | ".join(f"{pool[j]:.3f}" for j in judges) + " |")
        if args.three:
            threes = [three_fold(k, rows, train, x_all, x_probe, c, c_probe, out) for k in kinds]
            judges = ("ensemble-probe", "semantic3", "ensemble3")
            for r in threes:
                print(f"| {r['kind']} | " + " | ".join(f"{r['tables'][j]['all']['accuracy']:.3f}" for j in judges) + " |")
            three_pool = pooled(threes, judges)
            print("| pooled | " + " | ".join(f"{three_pool[j]:.3f}" for j in judges) + " |")
            pool |= {j: three_pool[j] for j in ("semantic3", "ensemble3")}
    atomic_write_json(out / "summary.json", {"seed": args.seed, "kinds": [r["kind"] for r in results],
                                             "pooled_accuracy": pool})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
