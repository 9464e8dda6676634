"""The training loop: one loop for every backend, plain, resumable, every loss term logged.

``train(cfg)`` runs a method (:mod:`alignguard.methods`) in this order::

    prepare_alignment   at W0, what the method's components need (Fisher, directions, gate)
    method.examples     task rows (+ replay)            -> encode
    attach LoRA         (or unfreeze all: full-ft)     -> method.before_training
    wrap                accelerate (DDP) or FSDP2 (fully_shard per decoder layer + root)
    loop                optimizer_step (alignguard.training.step), AdamW, warm-up + schedule,
                        log rows, checkpoints
    method.after_training, save a stock PEFT adapter

Distribution (DDP through ``accelerate launch`` or ``torchrun``) comes from :mod:`accelerate`
and FSDP2 from ``torch.distributed.fsdp.fully_shard``; the loop itself stays one-process code.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from alignguard.alignment.basis import AlignmentBasis
from alignguard.alignment.prepare import prepare_alignment
from alignguard.artifacts import atomic_directory, atomic_write_json, provenance
from alignguard.data import encode_examples, fingerprint_examples, iterate_batches, pad_id_of
from alignguard.methods.base import Method
from alignguard.methods.objective import check_finite, check_finite_weights
from alignguard.methods.registry import build_method
from alignguard.parallel import gather_trainable_state
from alignguard.targets import attach_lora, lora_layers
from alignguard.training.checkpoint import prune_checkpoints, save_checkpoint
from alignguard.training.config import TrainConfig
from alignguard.training.runs import RunFolder

log = logging.getLogger(__name__)
Callback = Callable[[int, torch.nn.Module], None]


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model and where its artifacts are."""

    model: torch.nn.Module
    tokenizer: object
    output_dir: Path
    history: list[dict] = field(default_factory=list)
    basis: AlignmentBasis | None = None


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def warmup_schedule(warmup: int, total: int, schedule: str = "cosine") -> Callable[[int], float]:
    """LR multiplier: linear warm-up to 1 over ``warmup`` steps, then cosine decay to 0 at
    ``total`` (``schedule="cosine"``) or constant 1 (``"constant"``: every step count of a run
    is then the same training process, as a scaling sweep wants)."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        if schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def trainable_model(cfg: TrainConfig, model: torch.nn.Module, trains: str) -> torch.nn.Module:
    """Attach LoRA (seeded by ``lora.init_seed`` or the run seed), or unfreeze every weight."""
    if trains == "all":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if lora_layers(model):
        raise ValueError("the model already carries a LoRA adapter; pass the base model")
    import dataclasses

    lora = cfg.lora if cfg.lora.init_seed is not None else dataclasses.replace(cfg.lora, init_seed=cfg.seed)
    return attach_lora(model, lora)


def training_rows(cfg: TrainConfig, method: Method | None = None) -> tuple[list, dict[str, str]]:
    """The rows a run trains on (task rows through the method's data hooks) and fingerprints."""
    from alignguard.dataspec import load_dataset_spec

    method = method or build_method(cfg)

    task = load_dataset_spec(cfg.data)
    prints = {"task": fingerprint_examples(task)}
    rows = method.examples(list(task), cfg.seed)
    prints.update({c.name: c.fingerprint for c in method.components if getattr(c, "fingerprint", None)})
    return rows, prints


def _optimizer(cfg: TrainConfig, model: torch.nn.Module):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_schedule(cfg.warmup_steps, cfg.steps, cfg.lr_schedule))
    return optimizer, scheduler


def train(cfg: TrainConfig, *, model=None, tokenizer=None, basis: AlignmentBasis | None = None,
          progress: bool = True, callbacks: Sequence[Callback] = (),
          overwrite: bool = False) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``cfg.data`` with ``cfg.method``.

    Writes to ``cfg.output_dir``: ``config.json``, ``provenance.json``, ``log.jsonl`` (one row
    per logging step with every loss term), ``checkpoints/step-N/`` (resumable state) and
    ``adapter/`` (a plain PEFT adapter for ``PeftModel.from_pretrained``). The folder belongs
    to this run: a different config in it is refused unless ``overwrite``
    (:class:`~alignguard.training.runs.RunFolder`).
    """
    from accelerate import Accelerator

    method = build_method(cfg)
    if cfg.distributed == "fsdp2":
        _check_fsdp2(cfg, method)
    set_seed(cfg.seed)
    accelerator = Accelerator(cpu=cfg.device == "cpu", mixed_precision=cfg.mixed_precision)
    folder = RunFolder(Path(cfg.output_dir), cfg, main=accelerator.is_main_process)
    with folder.claim(overwrite=overwrite):
        return _run(cfg, method, accelerator, folder, (model, tokenizer, basis), progress, callbacks)


def _run(cfg, method, accelerator, folder, given, progress, callbacks) -> TrainResult:
    model, tokenizer, basis = given
    if model is None or tokenizer is None:
        from alignguard.models import load_model

        model, tokenizer = load_model(cfg.model, dtype=cfg.dtype, device=accelerator.device)
    out = folder.path
    artifacts = prepare_alignment(
        cfg.alignment, model, tokenizer, needs=sorted(method.needs()),
        target_modules=cfg.lora.target_modules, model_name=cfg.model, seed=cfg.seed,
        cache_dir=out / "fisher", basis=basis)
    method.prepare(artifacts)
    rows, prints = training_rows(cfg, method)
    encoded = encode_examples(tokenizer, rows, cfg.max_length)
    model = trainable_model(cfg, model, method.trains)
    method.before_training(model)
    if cfg.distributed == "fsdp2":
        from alignguard.training.distributed import shard_fsdp2

        shard_fsdp2(model)
        method.rebind(model)
    optimizer, scheduler = _optimizer(cfg, model)
    start = folder.resume(model, optimizer, scheduler, method) if cfg.resume else 0
    if cfg.distributed == "ddp":  # accelerate may wrap with FSDP2 itself (launch config): rebind
        model, optimizer = accelerator.prepare(model, optimizer)
        method.rebind(accelerator.unwrap_model(model))
    folder.write_run_files(prints, artifacts, accelerator.num_processes)
    batches = iterate_batches(encoded, cfg.batch_size, pad_id_of(tokenizer), cfg.seed,
                              start_batch=start * cfg.grad_accum)
    history = _loop(cfg, (model, accelerator, method), (optimizer, scheduler), batches, start,
                    folder, progress and accelerator.is_main_process, callbacks)
    unwrapped = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    method.after_training(unwrapped)
    # gathered on every rank (a collective under FSDP2), written by one
    state = gather_trainable_state(unwrapped) if method.trains == "lora" else None
    if accelerator.is_main_process:
        _save_final(out, unwrapped, tokenizer, cfg, prints, state)
    return TrainResult(unwrapped, tokenizer, out, history, artifacts.basis)


def _check_fsdp2(cfg: TrainConfig, method: Method) -> None:
    if method.weights_rows:
        raise ValueError(f"method {cfg.method!r} scores rows on unsharded weights (the alignment "
                         "gate) and cannot run under FSDP2; use distributed: ddp, or set reg.gate=0")
    if cfg.save_every or method.trains == "all":
        raise ValueError("FSDP2 runs do not write resumable checkpoints or full models yet; set "
                         "save_every: 0 (and a LoRA method), or use distributed: ddp")


def _loop(cfg, parts, opt, batches, start, folder, show, callbacks) -> list[dict]:
    from alignguard.training.progress import progress_bar
    from alignguard.training.step import optimizer_step

    (model, accelerator, method), (optimizer, scheduler) = parts, opt
    history, started = [], time.time()
    model.train()
    bar = progress_bar(start, cfg.steps, f"train {cfg.method}", show)
    for step in range(start + 1, cfg.steps + 1):
        micro = [next(batches) for _ in range(cfg.grad_accum)]
        task, values, grad_norm = optimizer_step(model, accelerator, method, micro, cfg.max_grad_norm)
        check_finite(task, values, step, grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if step % cfg.log_every == 0 or step == cfg.steps:
            check_finite_weights(model, step)
            row = _log_row(step, task, values, method, grad_norm, scheduler.get_last_lr()[0], started)
            history.append(row)
            bar.set_postfix({"loss": f"{task:.3f}", **{k: f"{v:.3g}" for k, v in values.items()}})
            if accelerator.is_main_process:
                folder.append_log(row)
        if cfg.save_every and step % cfg.save_every == 0 and accelerator.is_main_process:
            check_finite_weights(model, step)
            root = folder.path / "checkpoints"
            save_checkpoint(root / f"step-{step:06d}", accelerator.unwrap_model(model), optimizer,
                            scheduler, step, {"seed": cfg.seed}, method.state_dict())
            prune_checkpoints(root, cfg.keep_checkpoints)
        bar.update(1)
        for callback in callbacks:
            callback(step, accelerator.unwrap_model(model))
    bar.close()
    return history


def _log_row(step: int, task: float, values: dict, method: Method, grad_norm: float,
             lr: float, started: float) -> dict:
    row = {"step": step, "lr": lr, "task_loss": task, "grad_norm": grad_norm,
           "elapsed_s": round(time.time() - started, 3)}
    logged = method.log_values()
    row.update(logged)
    row["loss"] = task + sum(logged.get(f"weighted/{n}", 0.0) for n in values)
    return row


def _save_final(out: Path, model, tokenizer, cfg: TrainConfig, prints: dict,
                state: dict[str, torch.Tensor] | None = None) -> None:
    """The final adapter (or full model for full-ft) with its config, written atomically.

    ``state``: the whole trainable parameters (see ``gather_trainable_state``), needed when they
    are sharded; ``None`` saves the model's own state dict.
    """
    full = state is None
    with atomic_directory(out / ("model" if full else "adapter")) as tmp:
        model.save_pretrained(tmp, **({} if full else {"state_dict": state}))
        if full:
            tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / "alignguard_config.json", cfg.record())
        atomic_write_json(tmp / "provenance.json", provenance(seed=cfg.seed, data=prints))
    log.info("saved %s", out)


__all__ = ["TrainResult", "set_seed", "train", "trainable_model", "training_rows", "warmup_schedule"]
