"""``alignguard scaling sweep``: forgetting over fine-tuning amounts and LoRA ranks, per method.

For every (method, rank, seed) the sweep fine-tunes ONE run up to the largest step count and
measures at each step of the grid through :func:`alignguard.training.loop.train`'s callback, writing one
JSONL record per (method, rank, steps, seed): held-out alignment and pre-training losses and
their increase over the base model (forgetting, ``L_post - L0``), refusal and its drift, task
loss, trainable parameters, tokens seen, wall time and a config hash. Note: a checkpoint at step
``t`` of a run of ``T`` steps is a point on one training trajectory, not a separate ``t``-step
run; Kalajdzievski (2024) measures forgetting the same way. Use ``lr_schedule: constant`` in the
base config (``configs/scaling-organism.yaml``) so that the trajectory does not depend on ``T``;
with the default cosine over ``T`` the last points flatten as the lr decays.

Resumable: records already in ``sweep.jsonl`` (same config hash) are skipped, a run is retrained
from scratch only when one of its grid steps is missing, and records are appended line by line
with ``fsync`` (a torn last line from a crash is dropped on restart). The fit and the plots are
``alignguard scaling fit`` (:mod:`alignguard.scaling.fit`); method: arXiv 2508.02079, method.md
section 5.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alignguard.artifacts import atomic_write_json, atomic_write_text, sha256_bytes
from alignguard.config import replace, to_dict
from alignguard.methods.registry import PRESETS as METHOD_PRESETS
from alignguard.methods.registry import build_method
from alignguard.scaling.measure import (
    BEHAVIOUR_KEYS,
    BehaviourFn,
    EvalSets,
    measure,
    trainable_parameters,
)
from alignguard.training.config import TrainConfig

log = logging.getLogger(__name__)
KEY_FIELDS = ("method", "rank", "steps", "seed")


class SweepError(ValueError):
    """A sweep specification or its output folder is invalid; the message says how to fix it."""


@dataclass
class SweepSpec:
    """What to sweep and how to measure it (see :func:`sweep_command` for the fields)."""

    model: str = "organism"
    data: str = "scenario:benign"
    methods: list[str] = field(default_factory=lambda: ["lora", "agl"])
    ranks: list[int] = field(default_factory=lambda: [2, 8, 32])
    steps: list[int] = field(default_factory=lambda: [8, 16, 32, 64, 128, 256])
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    output: str = "runs/scaling"
    lam_A: float | None = None
    eval_limit: int = 200
    align_data: str = "organism:alignment_heldout"
    pretrain_data: str = "organism:pretrain_heldout"
    task_eval: str | None = None
    fisher_data: str | None = None
    base: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHOD_PRESETS]
        if unknown or not self.methods:
            raise SweepError(f"unknown method(s) {unknown}; choose from {sorted(METHOD_PRESETS)}")
        for name in ("ranks", "steps"):
            values = getattr(self, name)
            if not values or any(int(v) < 1 for v in values):
                raise SweepError(f"{name} must be a non-empty list of integers >= 1, got {values}")
            setattr(self, name, sorted({int(v) for v in values}))
        if not self.seeds:
            raise SweepError("seeds must not be empty")
        if self.eval_limit < 1:
            raise SweepError(f"eval_limit must be >= 1, got {self.eval_limit}")
        if len(self.steps) < 6 or len(self.ranks) < 3:
            log.warning("a scaling fit wants >= 6 log-spaced step counts and >= 3 ranks; got "
                        "%d and %d", len(self.steps), len(self.ranks))

    @property
    def records_path(self) -> Path:
        """The JSONL results file."""
        return Path(self.output) / "sweep.jsonl"


def train_config(spec: SweepSpec, method: str, rank: int, seed: int) -> TrainConfig:
    """The training config of one run: the base config with the sweep's settings applied."""
    changes: dict = {"model": spec.model, "data": spec.data, "method": method, "seed": seed,
                     "steps": max(spec.steps), "save_every": 0, "resume": False, "lora__r": rank,
                     "output_dir": str(Path(spec.output) / "runs" / f"{method}-r{rank}-s{seed}")}
    if spec.lam_A is not None:
        changes["reg__lam_A"] = spec.lam_A
    if spec.fisher_data is not None:
        changes["alignment__data"] = spec.fisher_data
    return replace(spec.base, **changes)


def config_hash(spec: SweepSpec) -> str:
    """Hash of every setting that changes a record, except the record's own key fields."""
    cfg = to_dict(train_config(spec, "lora", 1, 0))
    for key in ("output_dir", "method", "seed"):
        cfg.pop(key)
    cfg["lora"].pop("r")
    cfg.pop("resolved_reg", None)
    evals = {k: getattr(spec, k) for k in ("eval_limit", "align_data", "pretrain_data", "task_eval")}
    blob = json.dumps({"train": cfg, "eval": evals}, sort_keys=True, default=str)
    return sha256_bytes(blob.encode())[:16]


def record_key(rec: dict) -> tuple:
    """``(method, rank, steps, seed)`` of a record."""
    return tuple(rec[k] for k in KEY_FIELDS)


def load_done(path: Path, chash: str) -> set[tuple]:
    """Keys of the records already in ``path``; drops a torn last line left by a crash.

    Raises:
        SweepError: the file holds records of a different sweep configuration.
    """
    if not path.is_file():
        return set()
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        log.warning("%s: dropping a torn last line (interrupted write)", path)
        text = text[: text.rfind("\n") + 1]
        atomic_write_text(path, text)
    done = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec.get("config_hash") != chash:
            raise SweepError(
                f"{path}:{lineno} was written by a sweep with another configuration (hash "
                f"{rec.get('config_hash')} != {chash}); use a new --output folder to keep "
                "results of different settings apart")
        done.add(record_key(rec))
    return done


def append_record(path: Path, rec: dict) -> None:
    """Append one JSON line and ``fsync`` it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def cumulative_tokens(cfg: TrainConfig, tokenizer) -> list[int]:
    """Non-padding tokens seen after each optimizer step (same batch stream as training)."""
    from alignguard.data import encode_examples, iterate_batches, pad_id_of
    from alignguard.training.loop import training_rows

    examples, _ = training_rows(cfg)
    encoded = encode_examples(tokenizer, examples, cfg.max_length)
    batches = iterate_batches(encoded, cfg.batch_size, pad_id_of(tokenizer), cfg.seed)
    total, out = 0, [0]
    for _ in range(cfg.steps):
        total += sum(int(next(batches)["attention_mask"].sum()) for _ in range(cfg.grad_accum))
        out.append(total)
    return out


def eval_sets(spec: SweepSpec) -> EvalSets:
    """Held-out alignment, pre-training and task examples (``eval_limit`` each).

    The task set defaults to ``organism:heldout_task`` (the scenarios' new skill, held out) for
    organism scenarios and to the first ``eval_limit`` task rows otherwise.
    """
    from alignguard.dataspec import load_dataset_spec

    n = spec.eval_limit
    task = load_dataset_spec(spec.task_eval or _default_task_eval(spec.data))[:n]
    return EvalSets(load_dataset_spec(spec.align_data)[:n], load_dataset_spec(spec.pretrain_data)[:n],
                    task, batch_size=spec.base.batch_size, max_length=spec.base.max_length)


def _default_task_eval(data: str) -> str:
    """Held-out new-skill data for organism scenarios, else the task data itself."""
    return "organism:heldout_task" if data.startswith("scenario:") else data


def base_values(spec: SweepSpec, chash: str, model, tokenizer, sets: EvalSets,
                behaviour_fn: BehaviourFn | None) -> dict:
    """Measurements of the base model (D = 0), cached in ``base.json`` under the config hash."""
    path = Path(spec.output) / "base.json"
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("config_hash") == chash:
            return cached
    t0 = time.time()
    vals = {**measure(model, tokenizer, sets, behaviour_fn), "config_hash": chash,
            "model_params": sum(p.numel() for p in model.parameters()),
            "eval_s": round(time.time() - t0, 3)}
    atomic_write_json(path, vals)
    return vals


def make_record(*, method: str, rank: int, step: int, seed: int, model, vals: dict, base: dict,
                tokens: int, wall_s: float, eval_s: float, cfg: TrainConfig, chash: str) -> dict:
    """One sweep record; forgetting = post - base loss, refusal drift = base - post refusal."""
    ref, ref0 = vals["refusal"], base["refusal"]
    return {
        "method": method, "rank": rank, "steps": step, "seed": seed,
        "trainable_params": trainable_parameters(model), "model_params": base["model_params"],
        "tokens_seen": tokens,
        "align_loss": vals["align_loss"], "align_loss_base": base["align_loss"],
        "pretrain_loss": vals["pretrain_loss"], "pretrain_loss_base": base["pretrain_loss"],
        "forgetting_align": vals["align_loss"] - base["align_loss"],
        "forgetting_pretrain": vals["pretrain_loss"] - base["pretrain_loss"],
        "refusal": ref, "refusal_base": ref0,
        "refusal_drift": None if ref is None or ref0 is None else ref0 - ref,
        **{k: vals[k] for k in BEHAVIOUR_KEYS if k != "refusal"},
        "task_loss": vals["task_loss"], "task_loss_base": base["task_loss"],
        "lam_A": cfg.resolved_reg().lam_A, "lr": cfg.lr,
        "wall_s": round(wall_s, 3), "eval_s": round(eval_s, 3), "config_hash": chash,
    }


@dataclass
class _Context:
    spec: SweepSpec
    chash: str
    base_model: object
    tokenizer: object
    sets: EvalSets
    base: dict
    behaviour_fn: BehaviourFn | None
    basis: object = None
    progress: bool = True


def run_one(ctx: _Context, method: str, rank: int, seed: int, done: set[tuple]) -> int:
    """Train one (method, rank, seed) run, recording the missing grid steps; returns how many."""
    from alignguard.training.loop import train

    todo = {s for s in ctx.spec.steps if (method, rank, s, seed) not in done}
    if not todo:
        return 0
    cfg = train_config(ctx.spec, method, rank, seed)
    shutil.rmtree(cfg.output_dir, ignore_errors=True)  # a partial run restarts from step 0
    tokens = cumulative_tokens(cfg, ctx.tokenizer)
    started, eval_total, written = time.time(), [0.0], [0]

    def on_step(step: int, model) -> None:
        if step not in todo:
            return
        t0 = time.time()
        vals = measure(model, ctx.tokenizer, ctx.sets, ctx.behaviour_fn)
        eval_s = time.time() - t0
        eval_total[0] += eval_s
        rec = make_record(method=method, rank=rank, step=step, seed=seed, model=model, vals=vals,
                          base=ctx.base, tokens=tokens[step], cfg=cfg, chash=ctx.chash,
                          wall_s=time.time() - started - eval_total[0], eval_s=eval_s)
        append_record(ctx.spec.records_path, rec)
        written[0] += 1

    basis = ctx.basis if _needs_basis(cfg) else None
    train(cfg, model=copy.deepcopy(ctx.base_model), tokenizer=ctx.tokenizer, basis=basis,
          progress=ctx.progress, callbacks=[on_step], overwrite=True)  # the sweep owns its runs
    return written[0]


def run_sweep(spec: SweepSpec, *, model, tokenizer, behaviour_fn: BehaviourFn | None = None,
              progress: bool = True) -> int:
    """Run every missing point of the sweep; returns the number of records written."""
    from alignguard.progress import track

    chash = config_hash(spec)
    done = load_done(spec.records_path, chash)
    sets = eval_sets(spec)
    ctx = _Context(spec, chash, model, tokenizer, sets,
                   base_values(spec, chash, model, tokenizer, sets, behaviour_fn), behaviour_fn,
                   progress=progress)
    # seed-major, methods interleaved: an interrupted sweep still compares the methods
    runs = [(m, r, s) for s in spec.seeds for r in spec.ranks for m in spec.methods]
    pending = [run for run in runs
               if any((*run[:2], st, run[2]) not in done for st in spec.steps)]
    ctx.basis = _basis(spec, chash, ctx, pending)
    written = 0
    for method, rank, seed in track(pending, "scaling sweep", show=progress, unit="run"):
        written += run_one(ctx, method, rank, seed, done)
    return written


def _basis(spec: SweepSpec, chash: str, ctx: _Context, pending: Sequence[tuple]):
    """The alignment basis, estimated once for all runs that need it (cached on disk)."""
    from alignguard.alignment.prepare import prepare_alignment

    cfgs = [train_config(spec, m, r, s) for m, r, s in pending]
    need = [c for c in cfgs if _needs_basis(c)]
    if not need:
        return None
    cfg = need[0]
    needs = sorted(build_method(cfg).needs() & {"fisher", "directions"})
    return prepare_alignment(cfg.alignment, copy.deepcopy(ctx.base_model), ctx.tokenizer,
                             needs=needs, target_modules=cfg.lora.target_modules,
                             model_name=cfg.model, seed=cfg.seed,
                             cache_dir=Path(spec.output) / f"basis-{chash}").basis


def _needs_basis(cfg: TrainConfig) -> bool:
    return bool(build_method(cfg).needs() & {"fisher", "directions"})


def organism_behaviour_fn(scenario: str, limit: int) -> BehaviourFn:
    """Behaviour metrics from the organism's evaluator (greedy generation on held-out prompts).

    ``limit`` caps the prompts per group (unsafe category, look-alikes, benign, task, skill).

    Raises:
        SweepError: ``scenario`` is not an organism training scenario.
    """
    from alignguard.organism.evaluate import evaluate
    from alignguard.organism.scenarios import TRAIN_SCENARIOS

    if scenario not in TRAIN_SCENARIOS:
        raise SweepError(f"refusal is measured on organism scenarios {list(TRAIN_SCENARIOS)}, "
                         f"not {scenario!r}; pass --no-refusal for other task data")

    def behaviour(model, tokenizer) -> dict[str, float]:
        m = evaluate(model, tokenizer, scenario=scenario, limit=limit)
        return {"refusal": m["refusal_accuracy"], "harmful_compliance": m["harmful_compliance"],
                "over_refusal": m["over_refusal"], "task_score": m["task_score"],
                "degenerate_rate": m["degenerate_rate"]}

    return behaviour


def _data_spec(scenario: str) -> str:
    """``scenario:NAME`` for a scenario name; a JSONL path or full spec passes through."""
    return scenario if (":" in scenario or scenario.endswith(".jsonl")) else f"scenario:{scenario}"
