"""``alignguard demo``: the headline experiment on the embedded model organism.

aligned base -> evaluate -> alignment Fisher -> plain LoRA vs AGL (same data, seed, steps)
-> evaluate both -> table, ``results.json`` and a self-contained HTML report.

Drift is ``base refusal - fine-tuned refusal`` on held-out unsafe phrasings; the drift
reduction of AGL is ``1 - drift_AGL / drift_LoRA`` (paper: "drift reduced by up to 50%",
arXiv 2508.02079). ``--seeds N`` repeats both fine-tunings per seed (mean +- std);
``--sweep`` adds the lam_A frontier (task score vs refusal for AGL at several lam_A).
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from alignguard.artifacts import atomic_write_json, provenance
from alignguard.config import to_dict
from alignguard.demo.table import METRICS
from alignguard.training.config import TrainConfig

log = logging.getLogger(__name__)
SCENARIO_DEFAULTS = {"benign": 0.0, "poisoned": 0.1, "control": 0.0}


@dataclass
class DemoConfig:
    """The demo's knobs; the defaults are the headline run (one seed, scenario "benign")."""

    scenario: str = "benign"
    seeds: list[int] = field(default_factory=lambda: [0])
    steps: int = 400
    lam_A: float | None = None
    lam_D: float | None = None
    replay_fraction: float | None = None
    sweep: list[float] = field(default_factory=list)
    eval_limit: int | None = None
    output: str = "runs/demo"
    train: TrainConfig = field(default_factory=TrainConfig)


def _evaluate(model, tokenizer, scenario: str, limit: int | None) -> dict:
    from alignguard.organism.evaluate import evaluate

    model.eval()
    return evaluate(model, tokenizer, scenario=scenario, limit=limit)


def _train_and_eval(cfg: DemoConfig, method: str, seed: int, basis, lam_A: float | None,
                    tag: str) -> dict:
    from alignguard.models import load_model
    from alignguard.training.loop import train

    replay = cfg.replay_fraction if cfg.replay_fraction is not None else SCENARIO_DEFAULTS.get(cfg.scenario, 0.0)
    tcfg = dataclasses.replace(
        cfg.train, model="organism", data=f"scenario:{cfg.scenario}", method=method, seed=seed,
        steps=cfg.steps, output_dir=str(Path(cfg.output) / tag), replay_fraction=replay,
        resume=False,
    )
    if lam_A is not None:
        tcfg.reg = dataclasses.replace(tcfg.reg, lam_A=lam_A)
    if cfg.lam_D is not None:
        tcfg.reg = dataclasses.replace(tcfg.reg, lam_D=cfg.lam_D)
    model, tok = load_model("organism")
    result = train(tcfg, model=model, tokenizer=tok, basis=basis, overwrite=True)  # the demo owns its folder
    metrics = _evaluate(result.model, tok, cfg.scenario, cfg.eval_limit)
    return {"method": method, "seed": seed, "lam_A": tcfg.resolved_reg().lam_A, "tag": tag,
            "metrics": metrics, "history": result.history}


def summarize(runs: list[dict], base: dict) -> dict:
    """Mean and std of each metric per method, the change vs base, and the drift reduction."""
    out: dict[str, dict] = {}
    for method in sorted({r["method"] for r in runs}):
        rows = [r["metrics"] for r in runs if r["method"] == method]
        stats = {}
        for key in METRICS:
            vals = [float(m[key]) for m in rows if key in m]
            if vals:
                stats[key] = {"mean": statistics.fmean(vals),
                              "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                              "delta_vs_base": statistics.fmean(vals) - float(base.get(key, 0.0))}
        out[method] = stats
    if "lora" in out and "agl" in out:
        d_lora = base["refusal_accuracy"] - out["lora"]["refusal_accuracy"]["mean"]
        d_agl = base["refusal_accuracy"] - out["agl"]["refusal_accuracy"]["mean"]
        out["drift"] = {"lora": d_lora, "agl": d_agl,
                        "reduction": (1.0 - d_agl / d_lora) if d_lora > 0 else None,
                        "paired": _paired_reduction(runs, base)}
    return out


def _paired_reduction(runs: list[dict], base: dict) -> list[float | None]:
    per_seed = []
    for seed in sorted({r["seed"] for r in runs}):
        pair = {r["method"]: r["metrics"]["refusal_accuracy"] for r in runs if r["seed"] == seed}
        if {"lora", "agl"} <= pair.keys():
            d_lora = base["refusal_accuracy"] - pair["lora"]
            per_seed.append(1.0 - (base["refusal_accuracy"] - pair["agl"]) / d_lora if d_lora > 0 else None)
    return per_seed


def run_demo(cfg: DemoConfig) -> dict:
    """Run the whole demo and write ``results.json`` + ``report.html`` into ``cfg.output``."""
    from alignguard.alignment.fisher import estimate_alignment_fisher
    from alignguard.dataspec import load_dataset_spec
    from alignguard.models import load_model

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_model("organism")
    base = _evaluate(model, tok, cfg.scenario, cfg.eval_limit)
    fs = cfg.train.alignment
    basis = estimate_alignment_fisher(
        model, load_dataset_spec(fs.data_or("organism"))[: fs.max_examples], tokenizer=tok,
        target_modules=cfg.train.lora.target_modules, tokens=fs.tokens, estimator=fs.estimator,
        explained_variance=fs.explained_variance, max_rank=fs.max_rank, batch_size=fs.batch_size,
        max_length=fs.max_length, model_name="organism",
    )
    basis.save(out / "fisher")
    runs = []
    for seed in cfg.seeds:
        runs.append(_train_and_eval(cfg, "lora", seed, basis, None, f"lora-seed{seed}"))
        runs.append(_train_and_eval(cfg, "agl", seed, basis, cfg.lam_A, f"agl-seed{seed}"))
    sweep = [_train_and_eval(cfg, "agl", cfg.seeds[0], basis, lam, f"sweep-lam{lam:g}")
             for lam in cfg.sweep]
    results = {
        "scenario": cfg.scenario, "base": base, "runs": [_strip(r) for r in runs],
        "summary": summarize(runs, base), "sweep": [_strip(r) for r in sweep],
        "config": to_dict(cfg), "provenance": provenance(seed=cfg.seeds[0], fisher=basis.meta.get("data_fingerprint")),
    }
    atomic_write_json(out / "results.json", results)
    from alignguard.demo.report import write_report

    write_report(out / "report.html", results, runs, sweep)
    return results


def _strip(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "history"} | {"final_log": run["history"][-1] if run["history"] else {}}
