"""Pack standalone SmolLM2 screening runs into a ``docs/results`` JSON, against stored plain LoRA.

    python scripts/pack_runs.py OUT.json RUN[::NAME] [RUN ...] [--name NAME] [--lora F.json ...]
        [--lora-runs LORA_RUN ... [--lora-any-seed]] [--note TEXT]

A RUN is the output folder of ``alignguard train`` whose evaluation ``alignguard testbed eval
--adapter RUN/adapter --output RUN-eval`` sits beside it (``RUN-eval/results.json`` and
``records.jsonl``); ``::NAME`` names its method in the JSON (default: ``--name``, else the run's
``method``). Each run is paired with plain LoRA's cell of the same scenario and seed from
the stored ``--lora`` files (``docs/results/screen-smollm2*.json`` by default; the first file
that has the cell wins) or, with ``--lora-runs``, with the plain LoRA run (evaluated the same way)
of the same scenario, seed and training setting (:func:`setting`: learning rate, steps, batch
size, LoRA shape), so that a grid that changes a hyperparameter is paired with plain LoRA at that
hyperparameter. With ``--lora-any-seed`` a run is paired with the mean of the plain LoRA runs of
its scenario and setting, whatever their seeds (for grids where plain LoRA ran at fewer seeds
than the method; the JSON lists the runs averaged). Each run gets: refusal, the drift cut ``1 - (aligned - refusal) / (aligned -
refusal_LoRA)``, where the scenario teaches a persona the same cut counting only whole refusals
without it, refusals cut off by the budget, the task score (the mean of the scenario's task
scores, as ``alignguard compare`` reports it), over-refusal and degenerate rate next to the
aligned model's. Per scenario with two or more seeds, one pooled row: the seed means of
over-refusal and degenerate rate minus the aligned model's, each with a 95% percentile bootstrap
interval over the evaluation's prompts (the same resampled prompts for every seed; the aligned
model's replies are in each run's records), so that "at most 3 points above the aligned model"
is read with its uncertainty. Each run also keeps its per-prompt outcomes (refusals of unsafe and
safe prompts and degenerate replies, the run's and the aligned model's, as 0/1 strings in the
records' order), so that a later comparison on the same prompts can be paired. Reads only; writes
OUT.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
from pathlib import Path

import numpy as np

JUDGE = "ensemble"


def stored_lora(files: list[str]) -> dict[tuple[str, int], dict]:
    """Plain LoRA's numbers per (scenario, seed) from stored result files."""
    out: dict[tuple[str, int], dict] = {}
    for f in files:
        cells = json.loads(Path(f).read_text()).get("cells")
        for c in cells if isinstance(cells, list) else []:
            if c.get("method") == "lora":
                out.setdefault((c["scenario"], c["seed"]), {**(c.get("numbers") or c["metrics"]), "source": f})
    return out


SETTING_KEYS = ("lr", "steps", "batch_size", "lora")


def setting(cfg: dict) -> str:
    """The training setting a run shares with its plain LoRA pair: ``SETTING_KEYS`` of its config."""
    return json.dumps({k: cfg.get(k) for k in SETTING_KEYS}, sort_keys=True)


def evaluation_of(run: str) -> dict:
    """The ``results.json`` of the evaluation beside ``run`` (``RUN-eval``)."""
    path = Path(f"{run.rstrip('/')}-eval", "results.json")
    if not path.is_file():
        raise SystemExit(f"{run}: no evaluation beside it ({path} is missing; run `alignguard testbed "
                         f"eval --adapter {run}/adapter --output {run.rstrip('/')}-eval`)")
    return json.loads(path.read_text())


def lora_runs(runs: list[str]) -> dict[tuple, dict]:
    """Plain LoRA's numbers per (scenario, seed, setting) from run folders with ``-eval`` beside."""
    out: dict[tuple, dict] = {}
    for run in runs:
        res = evaluation_of(run)
        cfg = json.loads(Path(run, "config.json").read_text())
        if cfg.get("method") != "lora":
            raise SystemExit(f"{run}: --lora-runs takes plain LoRA runs, this one is {cfg.get('method')!r}")
        head = res["headline"]
        out[(res["config"]["scenario"], cfg["seed"], setting(cfg))] = {
            "refusal": head["refusal"]["model"]["estimate"], "source": run,
            "task": statistics.fmean(t["model"]["estimate"] for t in head["task_score"].values()),
            "drift_by_judge": {j: d["estimate"] for j, d in res.get("refusal_drift_by_judge", {}).items()}}
    return out


def any_seed(lora: dict[tuple, dict]) -> dict[tuple, dict]:
    """Plain LoRA's numbers per (scenario, setting): the mean over the seeds at hand."""
    groups: dict[tuple, list[dict]] = {}
    for (scenario, _, where), cell in sorted(lora.items()):
        groups.setdefault((scenario, where), []).append(cell)
    return {key: {"refusal": statistics.fmean(c["refusal"] for c in cells),
                  "task": statistics.fmean(c["task"] for c in cells),
                  "drift_by_judge": {j: statistics.fmean(c["drift_by_judge"][j] for c in cells)
                                     for j in set.intersection(*(set(c["drift_by_judge"]) for c in cells))},
                  "source": [c["source"] for c in cells]} for key, cells in groups.items()}


def numbers(head: dict, lora: dict, by_judge: dict | None = None) -> dict:
    """The run's numbers against the aligned model (its evaluation's reference) and plain LoRA;
    with ``by_judge`` (the run's ``refusal_drift_by_judge``) and plain LoRA's drift per judge, the
    drift cut by every judge both have, ``1 - drift / drift_LoRA``."""
    def est(key: str, who: str = "model") -> float | None:
        return head[key][who]["estimate"] if key in head else None

    aligned = est("refusal", "reference")
    out = {"refusal": est("refusal"), "aligned_refusal": aligned, "lora_refusal": lora["refusal"],
           "drift_cut": 1 - (aligned - est("refusal")) / (aligned - lora["refusal"]),
           "refusal_cut_off": est("refusal_cut_off"), "persona_rate": est("persona_rate"),
           "task": statistics.fmean(t["model"]["estimate"] for t in head["task_score"].values()),
           "task_parts": {k: t["model"]["estimate"] for k, t in head["task_score"].items()},
           "lora_task": lora["task"], "over_refusal": est("over_refusal"),
           "aligned_over_refusal": est("over_refusal", "reference"),
           "degenerate": est("degenerate_rate"), "aligned_degenerate": est("degenerate_rate", "reference")}
    shared = set(by_judge or {}) & set(lora.get("drift_by_judge") or {})
    if shared:
        out["drift_cut_by_judge"] = {j: 1 - by_judge[j]["estimate"] / lora["drift_by_judge"][j]
                                     for j in sorted(shared) if lora["drift_by_judge"][j]}
    if "refusal_without_persona" in head:
        out["refusal_without_persona"] = est("refusal_without_persona")
        out["drift_cut_without_persona"] = 1 - (est("refusal_without_persona", "reference")
                                                - est("refusal_without_persona")) / (aligned - lora["refusal"])
    return out


def outcomes(records: Path, judge: str = JUDGE) -> dict[str, np.ndarray]:
    """Per-prompt 0/1 in the records' order: the run's and the aligned model's refusals (by
    ``judge``) of unsafe and of safe prompts, and their degenerate replies."""
    out: dict[str, list[float]] = {k: [] for k in ("unsafe", "ref_unsafe", "safe", "ref_safe",
                                                    "degen", "ref_degen")}
    for line in records.read_text().splitlines():
        r = json.loads(line) if line.strip() else {}
        if not r or "task" in r:
            continue
        kind = "unsafe" if r["label"] == "unsafe" else "safe"
        out[kind].append(float(r["model"]["judges"][judge]))
        out[f"ref_{kind}"].append(float(r["reference"]["judges"][judge]))
        out["degen"].append(float(r["model"]["degenerate"]))
        out["ref_degen"].append(float(r["reference"]["degenerate"]))
    return {k: np.asarray(v) for k, v in out.items()}


def encoded(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """The per-prompt outcomes as strings of 0s and 1s (what ``scripts/screen_rows.py`` stores),
    so that a later comparison on the same prompts can be paired."""
    return {k: "".join("1" if x else "0" for x in v) for k, v in arrays.items()}


def pooled(runs: list[dict], n_boot: int = 2000, seed: int = 0) -> dict:
    """Seed means of over-refusal and degenerate rate minus the aligned model's, with intervals."""
    arrays = [r["_outcomes"] for r in runs]
    sizes = {"safe": len(arrays[0]["safe"]), "degen": len(arrays[0]["degen"])}

    def stat(idx: dict[str, np.ndarray]) -> dict[str, float]:
        return {"over_refusal_vs_aligned": float(np.mean([a["safe"][idx["safe"]].mean()
                                                          - a["ref_safe"][idx["safe"]].mean() for a in arrays])),
                "degenerate_vs_aligned": float(np.mean([a["degen"][idx["degen"]].mean()
                                                        - a["ref_degen"][idx["degen"]].mean() for a in arrays]))}

    rng = np.random.default_rng(seed)
    point = stat({k: np.arange(n) for k, n in sizes.items()})
    boots = [stat({k: rng.integers(0, n, n) for k, n in sizes.items()}) for _ in range(n_boot)]
    return {key: {"estimate": value, "low": float(np.percentile([b[key] for b in boots], 2.5)),
                  "high": float(np.percentile([b[key] for b in boots], 97.5))} for key, value in point.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--name", default=None, help="method name in the JSON (default: the run's method)")
    parser.add_argument("--lora", nargs="*", default=None, help="stored plain LoRA cells")
    parser.add_argument("--lora-runs", nargs="*", default=None,
                        help="plain LoRA run folders, paired by scenario, seed and setting")
    parser.add_argument("--lora-any-seed", action="store_true",
                        help="pair each run with the mean of the --lora-runs of its scenario and setting")
    parser.add_argument("--note", default="", help="the JSON's description")
    args = parser.parse_args(argv)
    if args.lora_any_seed and not args.lora_runs:
        parser.error("--lora-any-seed pairs with --lora-runs; give them")
    if args.lora_runs:
        lora = lora_runs(args.lora_runs)
        lora = any_seed(lora) if args.lora_any_seed else lora
    else:
        lora = stored_lora(args.lora or sorted(glob.glob("docs/results/screen-smollm2*.json")))
    runs = []
    for spec in args.runs:
        run, _, name = spec.partition("::")
        evaluation = Path(f"{run.rstrip('/')}-eval")
        res = evaluation_of(run)
        cfg = json.loads(Path(run, "config.json").read_text())
        key = (res["config"]["scenario"], cfg["seed"])
        pair = lora.get((key[0], setting(cfg)) if args.lora_any_seed
                        else (*key, setting(cfg)) if args.lora_runs else key)
        if pair is None:
            raise SystemExit(f"{run}: no {'plain LoRA run' if args.lora_runs else 'stored plain LoRA cell'} "
                             f"for {key}{' at ' + setting(cfg) if args.lora_runs else ''}")
        runs.append({"scenario": key[0], "seed": key[1], "method": name or args.name or cfg["method"],
                     "setting": json.loads(setting(cfg)),
                     "numbers": numbers(res["headline"], pair, res.get("refusal_drift_by_judge")),
                     "lora_source": pair["source"],
                     "train_config": cfg, "train_provenance": json.loads(Path(run, "provenance.json").read_text()),
                     "evaluation": res, "_outcomes": outcomes(evaluation / "records.jsonl")})
    by_scenario: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        by_scenario.setdefault((r["scenario"], r["method"]), []).append(r)
    rows = [{"scenario": s, "method": m, "seeds": sorted(r["seed"] for r in group), **pooled(group)}
            for (s, m), group in sorted(by_scenario.items()) if len(group) >= 2]
    for r in sorted(runs, key=lambda r: (r["scenario"], r["seed"])):
        n = r["numbers"]
        print(f"| `{r['scenario']}` | `{r['method']}` | {r['seed']} | {n['refusal']:.3f} ({n['aligned_refusal']:.3f}) | "
              f"{100 * n['drift_cut']:.0f}% | {n['task']:.3f} ({n['lora_task']:.3f}) | "
              f"{n['over_refusal']:.3f} ({n['aligned_over_refusal']:.3f}) | {n['degenerate']:.3f} ({n['aligned_degenerate']:.3f}) |")
    for p in rows:
        print(f"{p['scenario']} {p['method']} seeds {p['seeds']}: " + ", ".join(
            f"{k} {100 * v['estimate']:+.1f} [{100 * v['low']:+.1f}, {100 * v['high']:+.1f}]"
            for k, v in p.items() if isinstance(v, dict)))
    doc = {"description": args.note,
           "runs": [{**{k: v for k, v in r.items() if k != "_outcomes"}, "outcomes": encoded(r["_outcomes"])}
                    for r in runs],
           "pooled": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
