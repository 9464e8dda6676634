"""``alignguard demo``: the headline experiment on the embedded model organism.

aligned base -> evaluate -> (the alignment Fisher, when the method needs it) -> plain LoRA vs
the defense (``--method``, default: the library's default method; same data, seed, steps) ->
evaluate both -> table, ``results.json`` and a self-contained HTML report.

Drift is ``base refusal - fine-tuned refusal`` on held-out unsafe phrasings; the drift
reduction of a defense is ``1 - drift_defense / drift_LoRA``. ``--seeds N`` repeats both
fine-tunings per seed (mean +- std); ``--sweep`` adds the defense's frontier (task score vs
refusal at several values of its main weight: ``lam_A`` for AGL, ``lam_kl`` for the anchors,
``lam_rdir`` for the refusal-direction anchor alone).
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
    method: str = field(default_factory=lambda: TrainConfig().method)
    seeds: list[int] = field(default_factory=lambda: [0])
    steps: int = 400
    lam_A: float | None = None
    lam_D: float | None = None
    replay_fraction: float | None = None
    sweep: list[float] = field(default_factory=list)
    eval_limit: int | None = None
    output: str = "runs/demo"
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        from alignguard.methods.registry import preset_of

        preset_of(self.method)
        if self.method == "lora":
            raise ValueError("the demo compares a defense against plain LoRA; choose another --method")
        if (self.lam_A is not None or self.lam_D is not None) and not self.method.startswith("agl"):
            raise ValueError(f"--lam-A / --lam-D weigh AGL's terms; method {self.method!r} has none")
        if self.sweep:
            sweep_field(self.method)


def sweep_field(method: str) -> str:
    """The ``reg`` field that ``--sweep`` varies for ``method``: its main weight.

    Raises:
        ValueError: the method has no single weight to sweep.
    """
    from alignguard.methods.registry import preset_of

    components = preset_of(method).components
    if method.startswith("agl") and "penalties" in components:
        return "lam_A"
    if {"kl_anchor", "safegrad"} & set(components):
        return "lam_kl"
    if "refusal_direction" in components:
        return "lam_rdir"
    raise ValueError(f"--sweep varies AGL's lam_A or an anchor's lam_kl or lam_rdir; method "
                     f"{method!r} has none of them")


def _evaluate(model, tokenizer, scenario: str, limit: int | None) -> dict:
    from alignguard.organism.evaluate import evaluate

    model.eval()
    return evaluate(model, tokenizer, scenario=scenario, limit=limit)


def _train_and_eval(cfg: DemoConfig, method: str, seed: int, basis, changes: dict,
                    tag: str) -> dict:
    from alignguard.models import load_model
    from alignguard.training.loop import train

    replay = cfg.replay_fraction if cfg.replay_fraction is not None else SCENARIO_DEFAULTS.get(cfg.scenario, 0.0)
    tcfg = dataclasses.replace(
        cfg.train, model="organism", data=f"scenario:{cfg.scenario}", method=method, seed=seed,
        steps=cfg.steps, output_dir=str(Path(cfg.output) / tag), replay_fraction=replay,
        resume=False,
    )
    tcfg.reg = dataclasses.replace(tcfg.reg, **changes)
    model, tok = load_model("organism")
    result = train(tcfg, model=model, tokenizer=tok, basis=basis, overwrite=True)  # the demo owns its folder
    metrics = _evaluate(result.model, tok, cfg.scenario, cfg.eval_limit)
    return {"method": method, "seed": seed, "reg": dataclasses.asdict(tcfg.resolved_reg()),
            "tag": tag, "metrics": metrics, "history": result.history}


def summarize(runs: list[dict], base: dict, method: str) -> dict:
    """Mean and std of each metric per method, the change vs base, and the drift reduction of
    ``method`` against plain LoRA."""
    out: dict[str, dict] = {}
    for name in sorted({r["method"] for r in runs}):
        rows = [r["metrics"] for r in runs if r["method"] == name]
        stats = {}
        for key in METRICS:
            vals = [float(m[key]) for m in rows if key in m]
            if vals:
                stats[key] = {"mean": statistics.fmean(vals),
                              "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                              "delta_vs_base": statistics.fmean(vals) - float(base.get(key, 0.0))}
        out[name] = stats
    if "lora" in out and method in out:
        d_lora = base["refusal_accuracy"] - out["lora"]["refusal_accuracy"]["mean"]
        d_method = base["refusal_accuracy"] - out[method]["refusal_accuracy"]["mean"]
        out["drift"] = {"method": method, "lora": d_lora, "defense": d_method,
                        "reduction": (1.0 - d_method / d_lora) if d_lora > 0 else None,
                        "paired": _paired_reduction(runs, base, method)}
    return out


def _paired_reduction(runs: list[dict], base: dict, method: str) -> list[float | None]:
    per_seed = []
    for seed in sorted({r["seed"] for r in runs}):
        pair = {r["method"]: r["metrics"]["refusal_accuracy"] for r in runs if r["seed"] == seed}
        if {"lora", method} <= pair.keys():
            d_lora = base["refusal_accuracy"] - pair["lora"]
            per_seed.append(1.0 - (base["refusal_accuracy"] - pair[method]) / d_lora if d_lora > 0 else None)
    return per_seed


def _alignment_fisher(cfg: DemoConfig, model, tok, out: Path):
    """The organism's alignment Fisher, once for every run (``None`` when the method needs none)."""
    from alignguard.alignment.fisher import estimate_alignment_fisher
    from alignguard.dataspec import load_dataset_spec
    from alignguard.methods.registry import build_method

    needs = build_method(dataclasses.replace(cfg.train, method=cfg.method)).needs()
    if not {"fisher", "directions"} & needs:
        return None
    fs = cfg.train.alignment
    basis = estimate_alignment_fisher(
        model, load_dataset_spec(fs.data_or("organism"))[: fs.max_examples], tokenizer=tok,
        target_modules=cfg.train.lora.target_modules, tokens=fs.tokens, estimator=fs.estimator,
        explained_variance=fs.explained_variance, max_rank=fs.max_rank, batch_size=fs.batch_size,
        max_length=fs.max_length, model_name="organism",
    )
    basis.save(out / "fisher")
    return basis


def run_demo(cfg: DemoConfig) -> dict:
    """Run the whole demo and write ``results.json`` + ``report.html`` into ``cfg.output``."""
    from alignguard.models import load_model

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_model("organism")
    base = _evaluate(model, tok, cfg.scenario, cfg.eval_limit)
    basis = _alignment_fisher(cfg, model, tok, out)
    changes = {k: v for k, v in (("lam_A", cfg.lam_A), ("lam_D", cfg.lam_D)) if v is not None}
    runs = []
    for seed in cfg.seeds:
        runs.append(_train_and_eval(cfg, "lora", seed, basis, {}, f"lora-seed{seed}"))
        runs.append(_train_and_eval(cfg, cfg.method, seed, basis, changes, f"{cfg.method}-seed{seed}"))
    swept = sweep_field(cfg.method) if cfg.sweep else None
    sweep = [_train_and_eval(cfg, cfg.method, cfg.seeds[0], basis, {swept: v}, f"sweep-{swept}{v:g}")
             | {"field": swept, "value": v} for v in cfg.sweep]
    fisher = basis.meta.get("data_fingerprint") if basis is not None else None
    results = {
        "scenario": cfg.scenario, "method": cfg.method, "base": base,
        "runs": [_strip(r) for r in runs], "summary": summarize(runs, base, cfg.method),
        "sweep": [_strip(r) for r in sweep], "config": to_dict(cfg),
        "provenance": provenance(seed=cfg.seeds[0], fisher=fisher),
    }
    atomic_write_json(out / "results.json", results)
    from alignguard.demo.report import write_report

    write_report(out / "report.html", results, runs, sweep)
    return results


def _strip(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "history"} | {"final_log": run["history"][-1] if run["history"] else {}}
