"""The training loop: one loop for every backend, plain, resumable, every loss term logged.

``train(cfg)`` runs a method (:mod:`alignguard.methods`) in this order::

    prepare_alignment   at W0, what the method's components need (Fisher, directions, gate)
    method.examples     task rows (+ replay)            -> encode
    attach LoRA         (or unfreeze all: full-ft)     -> method.before_training
    wrap                accelerate (DDP) or FSDP2 (fully_shard per decoder layer + root)
    loop                optimizer_step (alignguard.training.step), AdamW, transformers'
                        scheduler, log rows (+ eval_loss, trackers), checkpoints
    method.after_training, save a stock PEFT adapter

Distribution (DDP through ``accelerate launch`` or ``torchrun``) comes from :mod:`accelerate`
and FSDP2 from ``torch.distributed.fsdp.fully_shard``; the loop itself stays one-process code.
"""

from __future__ import annotations

import json
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
from alignguard.data import (
    Example,
    encode_examples,
    fingerprint_examples,
    iterate_batches,
    pad_id_of,
)
from alignguard.methods.base import Method
from alignguard.methods.objective import check_finite, check_finite_weights
from alignguard.methods.registry import build_method
from alignguard.parallel import gather_trainable_state
from alignguard.targets import attach_lora, lora_layers
from alignguard.training.checkpoint import prune_checkpoints, save_checkpoint
from alignguard.training.config import LR_SCHEDULES, TrainConfig
from alignguard.training.reporting import Reporter, tracker_kwargs
from alignguard.training.runs import RunFolder

log = logging.getLogger(__name__)
Callback = Callable[[int, torch.nn.Module], None]


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model and where its artifacts are.

    ``history`` holds the rows logged by this call; ``resumed_from`` is the checkpoint step
    it continued from (0 for a run started afresh; the whole log is ``output_dir/log.jsonl``).
    """

    model: torch.nn.Module
    tokenizer: object
    output_dir: Path
    history: list[dict] = field(default_factory=list)
    basis: AlignmentBasis | None = None
    after_training: dict[str, float] = field(default_factory=dict)
    resumed_from: int = 0


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def lr_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer):
    """``transformers.get_scheduler`` for ``cfg.lr_schedule`` (cosine, constant_with_warmup or
    linear) with ``cfg.warmup_steps`` and ``cfg.steps``: the LR multiplier is ``s / warmup`` for
    optimizer step ``s < warmup`` (0 at the first step, as the HF Trainer), then
    ``0.5 (1 + cos(pi p))`` with ``p = (s - warmup) / (steps - warmup)``, 1, or ``1 - p``.
    """
    from transformers import get_scheduler

    return get_scheduler(LR_SCHEDULES[cfg.lr_schedule], optimizer,
                         num_warmup_steps=cfg.warmup_steps, num_training_steps=cfg.steps)


def enable_checkpointing(model: torch.nn.Module) -> None:
    """transformers' activation (gradient) checkpointing, non-reentrant (so frozen inputs and
    dropout recompute exactly: the loss is unchanged), with the KV cache off."""
    model.config.use_cache = False
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def trainable_model(cfg: TrainConfig, model: torch.nn.Module, trains: str,
                    extra_rank: int = 0) -> torch.nn.Module:
    """Attach LoRA (seeded by ``lora.init_seed`` or the run seed), or unfreeze every weight.

    ``extra_rank``: ranks a method's components use on top of ``lora.r`` (``Method.extra_rank``):
    the adapter gets rank ``r + extra_rank`` and ``lora_alpha`` scaled so that the LoRA scale
    stays the configured one (``alpha / r``, or ``alpha / sqrt(r)`` with ``use_rslora``).
    """
    if trains == "all":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if lora_layers(model):
        raise ValueError("the model already carries a LoRA adapter; pass the base model")
    import dataclasses

    lora = cfg.lora if cfg.lora.init_seed is not None else dataclasses.replace(cfg.lora, init_seed=cfg.seed)
    if extra_rank > 0:
        ratio = (lora.r + extra_rank) / lora.r
        ratio = math.sqrt(ratio) if lora.extra.get("use_rslora") else ratio
        lora = dataclasses.replace(lora, r=lora.r + extra_rank, alpha=lora.alpha * ratio)
    return attach_lora(model, lora)


def load_rows(spec: str | None, dataset: object = None) -> list[Example] | None:
    """Validated rows of a ``datasets.Dataset`` (or iterable of dicts) when given, else of the
    data spec (a file, a ``save_to_disk`` folder, ``scenario:NAME``); ``None`` without either."""
    if dataset is not None:
        from alignguard.datafiles import examples_from_dataset

        return examples_from_dataset(dataset)
    if spec is None:
        return None
    from alignguard.dataspec import load_dataset_spec

    return load_dataset_spec(spec)


def training_rows(cfg: TrainConfig, method: Method | None = None,
                  task: Sequence[Example] | None = None) -> tuple[list, dict[str, str]]:
    """The rows a run trains on (task rows through the method's data hooks) and fingerprints.

    ``task``: rows already loaded (default: ``cfg.data``)."""
    method = method or build_method(cfg)
    task = list(task) if task is not None else load_rows(cfg.data)
    prints = {"task": fingerprint_examples(task)}
    rows = method.examples(list(task), cfg.seed)
    prints.update({c.name: c.fingerprint for c in method.components if getattr(c, "fingerprint", None)})
    return rows, prints


def _optimizer(cfg: TrainConfig, model: torch.nn.Module):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return optimizer, lr_scheduler(cfg, optimizer)


def train(cfg: TrainConfig, *, model=None, tokenizer=None, basis: AlignmentBasis | None = None,
          dataset: object = None, eval_dataset: object = None, progress: bool = True,
          callbacks: Sequence[Callback] = (), overwrite: bool = False) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``cfg.data`` (or ``dataset``) with ``cfg.method``.

    ``dataset`` / ``eval_dataset``: a ``datasets.Dataset`` (a ``DatasetDict``'s ``train`` split,
    or an iterable of row dicts) used instead of ``cfg.data`` / ``cfg.eval_data``; rows are
    validated before the model loads, and fingerprinted into ``provenance.json``.

    Writes to ``cfg.output_dir``: ``config.json``, ``provenance.json``, ``log.jsonl`` (one row
    per logging step with every loss term, and ``eval_loss`` at evaluation steps),
    ``checkpoints/step-N/`` (resumable state), ``trackers/`` (with ``report_to``) and
    ``adapter/`` (a plain PEFT adapter for ``PeftModel.from_pretrained``). The folder belongs
    to this run: a different config in it is refused unless ``overwrite``
    (:class:`~alignguard.training.runs.RunFolder`).
    """
    from accelerate import Accelerator

    method = build_method(cfg)
    if cfg.distributed == "fsdp2":
        _check_fsdp2(cfg, method)
    rows = (load_rows(cfg.data, dataset), load_rows(cfg.eval_data, eval_dataset))
    if cfg.eval_every and rows[1] is None:
        raise ValueError("eval_every > 0 needs eval rows: set eval_data or pass eval_dataset=")
    set_seed(cfg.seed)
    accelerator = Accelerator(cpu=cfg.device == "cpu", mixed_precision=cfg.mixed_precision,
                              **tracker_kwargs(cfg))
    folder = RunFolder(Path(cfg.output_dir), cfg, main=accelerator.is_main_process)
    with folder.claim(overwrite=overwrite):
        return _run(cfg, method, accelerator, folder, (model, tokenizer, basis), rows, progress,
                    callbacks)


def _run(cfg, method, accelerator, folder, given, rows, progress, callbacks) -> TrainResult:
    model, tokenizer, basis = given
    if model is None or tokenizer is None:
        from alignguard.models import load_model

        model, tokenizer = load_model(cfg.model, dtype=cfg.dtype, device=accelerator.device)
    out = folder.path
    artifacts = prepare_alignment(
        cfg.resolved_alignment(), model, tokenizer, needs=sorted(method.needs()),
        target_modules=cfg.lora.target_modules, model_name=cfg.model, seed=cfg.seed,
        cache_dir=out / "fisher", basis=basis)
    method.prepare(artifacts)
    train_rows, prints = training_rows(cfg, method, rows[0])
    prints.update({k: v for k, v in (("alignment", artifacts.fingerprint), (
        "eval", rows[1] and fingerprint_examples(rows[1]))) if v})
    encoded = encode_examples(tokenizer, train_rows, cfg.max_length,
                              assistant_turns=cfg.assistant_turns)
    if cfg.gradient_checkpointing:
        enable_checkpointing(model)
    model = trainable_model(cfg, model, method.trains, method.extra_rank())
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
    reporter = Reporter(cfg, accelerator, tokenizer, rows[1])
    try:
        history = _loop(cfg, (model, accelerator, method, reporter), (optimizer, scheduler),
                        batches, start, folder, progress and accelerator.is_main_process, callbacks)
    finally:
        reporter.close()
    unwrapped = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    method.after_training(unwrapped)
    post = method.log_values()  # what post-hoc components did (e.g. safelora's projected layers)
    # gathered on every rank (a collective under FSDP2), written by one
    state = gather_trainable_state(unwrapped) if method.trains == "lora" else None
    if accelerator.is_main_process:
        _save_final(out, unwrapped, tokenizer, cfg, prints, state)
        atomic_write_json(out / "after_training.json", post)
    return TrainResult(unwrapped, tokenizer, out, history, artifacts.basis, post, start)


def _check_fsdp2(cfg: TrainConfig, method: Method) -> None:
    if method.weights_rows:
        raise ValueError(f"method {cfg.method!r} scores rows on unsharded weights (the alignment "
                         "gate) and cannot run under FSDP2; use distributed: ddp, or set reg.gate=0")
    if cfg.save_every or method.trains == "all":
        raise ValueError("FSDP2 runs do not write resumable checkpoints or full models yet; set "
                         "save_every: 0 (and a LoRA method), or use distributed: ddp")


def _loop(cfg, parts, opt, batches, start, folder, show, callbacks) -> list[dict]:
    from alignguard.progress import progress_bar
    from alignguard.training.step import optimizer_step

    (model, accelerator, method, reporter), (optimizer, scheduler) = parts, opt
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
        evaluate = reporter.due(step)
        if step % cfg.log_every == 0 or step == cfg.steps or evaluate:
            check_finite_weights(model, step)
            row = _log_row(step, task, values, method, grad_norm, scheduler.get_last_lr()[0], started)
            if evaluate:
                row["eval_loss"] = reporter.evaluate(model)
            history.append(row)
            bar.set_postfix({"task_loss": f"{task:.3f}", **{k: f"{v:.3g}" for k, v in values.items()}})
            if accelerator.is_main_process:
                folder.append_log(row)
                reporter.log(row)
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
        else:  # the base as the user named it, not this machine's absolute path to it
            adapter_config = json.loads((tmp / "adapter_config.json").read_text())
            adapter_config["base_model_name_or_path"] = cfg.model
            atomic_write_json(tmp / "adapter_config.json", adapter_config)
        atomic_write_json(tmp / "alignguard_config.json", cfg.resolved())
        atomic_write_json(tmp / "provenance.json", provenance(seed=cfg.seed, data=prints))
    log.info("saved %s", out)


__all__ = ["TrainResult", "load_rows", "lr_scheduler", "set_seed", "train", "trainable_model",
           "training_rows"]
