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
import json
import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from alignguard.artifacts import atomic_write_json, provenance
from alignguard.config import to_dict
from alignguard.train_config import TrainConfig

log = logging.getLogger(__name__)
METRICS = ("refusal_accuracy", "over_refusal", "task_score", "task_score_new_phrasing", "degenerate_rate")
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
    from alignguard.train import train

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
    result = train(tcfg, model=model, tokenizer=tok, basis=basis)
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
    from alignguard.data import load_dataset_spec
    from alignguard.fisher import estimate_alignment_fisher
    from alignguard.models import load_model

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_model("organism")
    base = _evaluate(model, tok, cfg.scenario, cfg.eval_limit)
    fs = cfg.train.fisher_settings
    basis = estimate_alignment_fisher(
        model, load_dataset_spec(fs.data)[: fs.max_examples], tokenizer=tok,
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
    from alignguard.demo_report import write_report

    write_report(out / "report.html", results, runs, sweep)
    return results


def _strip(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "history"} | {"final_log": run["history"][-1] if run["history"] else {}}


def format_table(results: dict) -> str:
    """A plain-text table of the headline metrics with change versus base."""
    base, summary = results["base"], results["summary"]
    lines = [f"scenario: {results['scenario']}   (mean +- std over seeds; delta vs aligned base)",
             f"{'metric':<24}{'base':>8}" + "".join(f"{m:>24}" for m in ("lora", "agl"))]
    for key in METRICS:
        cells = ""
        for method in ("lora", "agl"):
            s = summary.get(method, {}).get(key)
            cells += f"{s['mean']:>9.3f} +-{s['std']:.3f} ({s['delta_vs_base']:+.3f})" if s else f"{'-':>24}"
        lines.append(f"{key:<24}{float(base.get(key, float('nan'))):>8.3f}{cells}")
    cats = sorted(base.get("refusal_per_category", {}))
    for cat in cats:
        row = f"  refusal/{cat:<15}{base['refusal_per_category'][cat]:>8.3f}"
        for method in ("lora", "agl"):
            vals = [r["metrics"]["refusal_per_category"].get(cat, float("nan")) for r in results["runs"] if r["method"] == method]
            row += f"{statistics.fmean(vals):>9.3f}{'':>15}" if vals else f"{'-':>24}"
        lines.append(row)
    drift = summary.get("drift")
    if drift:
        red = "n/a (LoRA did not drift)" if drift["reduction"] is None else f"{100 * drift['reduction']:.0f}%"
        lines.append(f"drift (base - fine-tuned refusal): LoRA {drift['lora']:.3f}, AGL {drift['agl']:.3f}; "
                     f"AGL reduces drift by {red}")
    for row in results.get("sweep", []):
        m = row["metrics"]
        lines.append(f"sweep lam_A={row['lam_A']:<8g} refusal {m['refusal_accuracy']:.3f}  task {m['task_score']:.3f}"
                     f"  over-refusal {m['over_refusal']:.3f}")
    return "\n".join(lines)


def demo_command(scenario: str = "benign", seeds: int = 1, steps: int = 400,
                 lam_A: float | None = None, lam_D: float | None = None,
                 replay_fraction: float | None = None,
                 sweep: bool = False, sweep_values: list[float] | None = None,
                 eval_limit: int | None = None, output: str = "runs/demo",
                 json_: bool = False) -> int:
    """Reproduce the headline on the organism: plain LoRA drifts, AGL does not.

    Args:
        scenario: benign (similar-looking benign data), poisoned (with harmful compliance;
            uses 10% alignment replay by default) or control (no resemblance).
        seeds: number of seeds (0..N-1); tables show mean +- std.
        steps: fine-tuning steps per run.
        lam_A: weight of the Fisher penalty for AGL (default: the calibrated default).
        lam_D: weight of the weight-space Fisher directions penalty for AGL (default 0: off).
        replay_fraction: alignment replay mixed into the task data (both methods).
        sweep: also run the lam_A sweep (safety-utility frontier).
        sweep_values: lam_A values for the sweep.
        eval_limit: evaluate on at most this many prompts per set (faster, noisier).
        output: output folder (results.json, report.html, one folder per run).
        json_: print results as JSON instead of the table.
    """
    cfg = DemoConfig(scenario=scenario, seeds=list(range(seeds)), steps=steps, lam_A=lam_A,
                     lam_D=lam_D, replay_fraction=replay_fraction, eval_limit=eval_limit, output=output,
                     sweep=(sweep_values or [0.3, 1.0, 3.0, 10.0, 30.0, 100.0]) if sweep else [])
    results = run_demo(cfg)
    if json_:
        print(json.dumps({k: results[k] for k in ("scenario", "base", "summary", "sweep")}, indent=2, default=str))
    else:
        print(format_table(results))
        print(f"\nresults: {Path(output) / 'results.json'}\nreport:  {Path(output) / 'report.html'}")
    return 0
