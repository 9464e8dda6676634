"""The training loop: plain, readable, resumable, every loss term logged.

One optimizer step::

    micro-batches  <- next grad_accum batches (the global batch; each rank takes its rows)
    for each micro-batch:  backward( sum_token_NLL / tokens_in_global_batch )     (task)
    last micro-batch also: backward( sum_t lam_t * term_t(dW) )                    (regularizers)
    clip, AdamW step, warm-up + cosine schedule

The task loss is normalised by the token count of the whole global batch, so k micro-batches
give exactly the gradient of one big batch. Distribution (DDP through ``accelerate launch`` or
``torchrun``) comes from :mod:`accelerate`; the loop itself stays single-process code.
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
import torch.nn.functional as F

from alignguard.artifacts import atomic_directory, atomic_write_json, atomic_write_text, provenance
from alignguard.basis import AlignmentBasis
from alignguard.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from alignguard.config import to_dict
from alignguard.data import (
    IGNORE_INDEX,
    encode_examples,
    fingerprint_examples,
    iterate_batches,
    load_dataset_spec,
    mix_replay,
    pad_id_of,
)
from alignguard.distributed import gather_trainable_state, rebind_lora_params
from alignguard.gate import AlignmentGate, row_losses
from alignguard.objective import Objective, check_finite
from alignguard.targets import attach_lora, lora_layers
from alignguard.train_config import TrainConfig

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


def training_examples(cfg: TrainConfig) -> tuple[list, dict[str, str]]:
    """Task rows (plus alignment replay when configured) and their fingerprints."""
    task = load_dataset_spec(cfg.data)
    prints = {"task": fingerprint_examples(task)}
    if cfg.replay_fraction > 0:
        replay = load_dataset_spec(cfg.replay_data or cfg.fisher_settings.data)
        prints["replay"] = fingerprint_examples(replay)
        task = mix_replay(task, replay, cfg.replay_fraction, cfg.seed)
    return task, prints


def alignment_basis(cfg: TrainConfig, model, tokenizer, basis: AlignmentBasis | None,
                    out: Path) -> AlignmentBasis | None:
    """The basis given, loaded from ``cfg.fisher``, or estimated now (saved to ``out/fisher``).

    With ``lam_D > 0`` a basis without weight-space directions gets them estimated at ``W0``.
    """
    if basis is None and cfg.fisher:
        basis = AlignmentBasis.load(cfg.fisher)
    if basis is None and cfg.needs_fisher and (out / "fisher" / "fisher.json").is_file():
        basis = AlignmentBasis.load(out / "fisher")
    if basis is None and cfg.needs_fisher:
        basis = _estimate_basis(cfg, model, tokenizer, out)
    return with_directions(cfg, model, tokenizer, basis)


def with_directions(cfg: TrainConfig, model, tokenizer,
                    basis: AlignmentBasis | None) -> AlignmentBasis | None:
    """``basis`` with weight-space directions when the objective weights ``L_D`` (else as is)."""
    if basis is None or cfg.resolved_reg().lam_D == 0 or basis.has_directions:
        return basis
    return basis.with_directions(estimate_run_directions(cfg, model, tokenizer, sorted(basis.modules)))


def estimate_run_directions(cfg: TrainConfig, model, tokenizer, names: Sequence[str]) -> dict:
    """Weight-space directions from the run's alignment data (:mod:`alignguard.directions`)."""
    from alignguard.directions import estimate_directions

    fs = cfg.fisher_settings
    data = load_dataset_spec(fs.data)[: fs.direction_examples]
    return estimate_directions(model, data, tokenizer, names, k=fs.directions,
                               rank=fs.direction_rank, tokens=fs.tokens,
                               batch_size=fs.batch_size, max_length=fs.max_length)


def _estimate_basis(cfg: TrainConfig, model, tokenizer, out: Path) -> AlignmentBasis:
    from alignguard.distributed import estimate_fisher_sharded, is_main_process

    fs = cfg.fisher_settings
    data = load_dataset_spec(fs.data)[: fs.max_examples]
    # each rank takes its rows of every Fisher batch; the factors are all-reduced (kfac.py)
    basis = estimate_fisher_sharded(
        model, data, tokenizer=tokenizer, target_modules=cfg.lora.target_modules,
        tokens=fs.tokens, estimator=fs.estimator, explained_variance=fs.explained_variance,
        max_rank=fs.max_rank, batch_size=fs.batch_size, max_length=fs.max_length,
        seed=cfg.seed, model_name=cfg.model,
    )
    basis = with_directions(cfg, model, tokenizer, basis)
    if is_main_process():  # one writer: concurrent atomic_directory renames would race
        basis.save(out / "fisher")
    return basis


def prepare_model(cfg: TrainConfig, model: torch.nn.Module) -> torch.nn.Module:
    """Attach LoRA (or unfreeze everything for the full fine-tuning baseline)."""
    if cfg.method == "full-ft":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if lora_layers(model):
        raise ValueError("the model already carries a LoRA adapter; pass the base model")
    lora = cfg.lora if cfg.lora.init_seed is not None else _with_seed(cfg)
    return attach_lora(model, lora)


def _with_seed(cfg: TrainConfig):
    import dataclasses

    return dataclasses.replace(cfg.lora, init_seed=cfg.seed)


def task_loss_sum(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                  gate: AlignmentGate | None = None, scorer: torch.nn.Module | None = None
                  ) -> torch.Tensor:
    """Summed next-token NLL over the label tokens of ``batch``.

    With a ``gate`` each row's NLL is weighted by ``gate.weights`` (scored on ``scorer``, the
    unwrapped model; :mod:`alignguard.gate`).
    """
    if gate is not None:
        losses = row_losses(model, batch)
        return (gate.weights(scorer or model, batch, losses.detach()) * losses).sum()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="sum",
    )


def alignment_gate(cfg: TrainConfig, model, tokenizer) -> AlignmentGate | None:
    """The alignment gate at ``W0`` (:mod:`alignguard.gate`), or ``None`` when ``reg.gate == 0``."""
    tau = cfg.resolved_reg().gate
    if tau == 0:
        return None
    from alignguard.targets import resolve_target_modules

    fs = cfg.fisher_settings
    _, names = resolve_target_modules(model, cfg.lora.target_modules)
    return AlignmentGate.estimate(model, load_dataset_spec(fs.data)[: fs.direction_examples],
                                  tokenizer, names, tau=tau, batch_size=fs.batch_size,
                                  max_length=fs.max_length)


def _shard(batch: dict[str, torch.Tensor], rank: int, world: int, device) -> dict[str, torch.Tensor]:
    return {k: v[rank::world].to(device) for k, v in batch.items()}


def optimizer_step(model, accelerator, objective: Objective, micro: Sequence[dict],
                   cfg: TrainConfig, gate: AlignmentGate | None = None
                   ) -> tuple[float, dict[str, float], float]:
    """One optimizer step's backward passes; returns (task loss, weighted term values, grad norm)."""
    world, rank = accelerator.num_processes, accelerator.process_index
    n_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro)
    task_total = 0.0
    reg_values: dict[str, float] = {}
    for i, batch in enumerate(micro):
        last = i == len(micro) - 1
        local = _shard(batch, rank, world, accelerator.device)
        with accelerator.no_sync(model) if not last else _null():
            loss = task_loss_sum(model, local, gate, accelerator.unwrap_model(model))
            loss = loss * (world / n_tokens)
            task_total += float(loss.detach()) / world
            if last:
                penalty, reg_values = objective.penalty()
                if penalty is not None:
                    loss = loss + penalty
            accelerator.backward(loss)
    if world > 1:
        t = torch.tensor([task_total], device=accelerator.device)
        task_total = float(accelerator.reduce(t, reduction="sum"))
    params = [p for p in model.parameters() if p.requires_grad]
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
    return task_total, reg_values, grad_norm


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _log_row(step: int, task: float, reg: dict, objective: Objective, grad_norm: float,
             lr: float, started: float) -> dict:
    row = {"step": step, "lr": lr, "task_loss": task, "grad_norm": grad_norm,
           "elapsed_s": round(time.time() - started, 3)}
    weights = objective.weights()
    for name, value in objective.all_values().items():
        row[f"reg/{name}"] = value
        row[f"weighted/{name}"] = weights.get(name, 0.0) * value
    row["loss"] = task + sum(weights[n] * v for n, v in reg.items())
    return row


def _resume(cfg: TrainConfig, ckpt_root: Path, model, optimizer, scheduler) -> int:
    found = list_checkpoints(ckpt_root)
    if not (cfg.resume and found):
        return 0
    state = load_checkpoint(found[-1], model, optimizer, scheduler)
    step = int(state["step"])
    log_file = ckpt_root.parent / "log.jsonl"
    if log_file.is_file():  # drop rows logged after the checkpoint by the interrupted run
        rows = [ln for ln in log_file.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in rows if json.loads(ln)["step"] <= step]
        atomic_write_text(log_file, "".join(ln + "\n" for ln in kept))
    log.info("resumed from %s (step %d)", found[-1], step)
    return step


def train(cfg: TrainConfig, *, model=None, tokenizer=None, basis: AlignmentBasis | None = None,
          progress: bool = True, callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``cfg.data`` with LoRA and the configured AlignGuard terms.

    Writes to ``cfg.output_dir``: ``config.json``, ``provenance.json``, ``log.jsonl`` (one row
    per logging step with every loss term), ``checkpoints/step-N/`` (resumable state) and
    ``adapter/`` (a plain PEFT adapter for ``PeftModel.from_pretrained``).
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    out = Path(cfg.output_dir)
    set_seed(cfg.seed)
    accelerator = Accelerator(cpu=cfg.device == "cpu", mixed_precision=cfg.mixed_precision)
    if model is None or tokenizer is None:
        from alignguard.models import load_model

        model, tokenizer = load_model(cfg.model, dtype=cfg.dtype, device=accelerator.device)
    examples, prints = training_examples(cfg)
    encoded = encode_examples(tokenizer, examples, cfg.max_length)
    basis = alignment_basis(cfg, model, tokenizer, basis, out)
    gate = alignment_gate(cfg, model, tokenizer)
    model = prepare_model(cfg, model)
    if basis is not None and cfg.method != "full-ft":
        basis.check_model(model, lora_layers(model))
    objective = Objective(cfg.resolved_reg(), model, basis if cfg.method != "full-ft" else None)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_schedule(cfg.warmup_steps, cfg.steps, cfg.lr_schedule))
    start = _resume(cfg, out / "checkpoints", model, optimizer, scheduler)
    model, optimizer = accelerator.prepare(model, optimizer)
    rebind_lora_params(objective.layout, accelerator.unwrap_model(model))  # FSDP2 swaps params
    _write_run_files(out, cfg, prints, basis, accelerator)
    batches = iterate_batches(encoded, cfg.batch_size, pad_id_of(tokenizer), cfg.seed,
                              start_batch=start * cfg.grad_accum)
    history = _loop(cfg, model, accelerator, (objective, gate), optimizer, scheduler, batches,
                    start, out, progress and accelerator.is_main_process, callbacks, tqdm)
    unwrapped = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    # gathered on every rank (a collective under FSDP2), written by one
    state = gather_trainable_state(unwrapped) if cfg.method != "full-ft" else None
    if accelerator.is_main_process:
        _save_final(out, unwrapped, tokenizer, cfg, prints, state)
    return TrainResult(unwrapped, tokenizer, out, history, basis)


def _loop(cfg, model, accelerator, loss_parts, optimizer, scheduler, batches, start, out,
          show, callbacks, tqdm) -> list[dict]:
    objective, gate = loss_parts
    history, started = [], time.time()
    model.train()
    bar = tqdm(range(start + 1, cfg.steps + 1), desc=f"train {cfg.method}", disable=not show,
               initial=start, total=cfg.steps)
    for step in bar:
        micro = [next(batches) for _ in range(cfg.grad_accum)]
        task, reg, grad_norm = optimizer_step(model, accelerator, objective, micro, cfg, gate)
        check_finite(task, {**reg, "grad_norm": grad_norm}, step)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if step % cfg.log_every == 0 or step == cfg.steps:
            row = _log_row(step, task, reg, objective, grad_norm, scheduler.get_last_lr()[0], started)
            if gate is not None:
                row["gate/fraction"] = gate.fraction  # rows gated so far in this process
            history.append(row)
            bar.set_postfix({"loss": f"{task:.3f}", **{f"L_{k}": f"{v:.3g}" for k, v in reg.items()}})
            if accelerator.is_main_process:
                with (out / "log.jsonl").open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
        if cfg.save_every and step % cfg.save_every == 0 and accelerator.is_main_process:
            root = out / "checkpoints"
            save_checkpoint(root / f"step-{step:06d}", accelerator.unwrap_model(model),
                            optimizer, scheduler, step, {"seed": cfg.seed})
            prune_checkpoints(root, cfg.keep_checkpoints)
        for callback in callbacks:
            callback(step, accelerator.unwrap_model(model))
    return history


def _write_run_files(out: Path, cfg: TrainConfig, prints: dict, basis, accelerator) -> None:
    if not accelerator.is_main_process:
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", {**to_dict(cfg), "resolved_reg": to_dict(cfg.resolved_reg())})
    extra = {"world_size": accelerator.num_processes}
    if basis is not None:
        extra["fisher"] = {k: basis.meta.get(k) for k in ("model_fingerprint", "data_fingerprint", "n_tokens")}
    atomic_write_json(out / "provenance.json", provenance(seed=cfg.seed, data=prints, **extra))


def _save_final(out: Path, model, tokenizer, cfg: TrainConfig, prints: dict,
                state: dict[str, torch.Tensor] | None = None) -> None:
    """The final adapter (or full model for full-ft) with its config, written atomically.

    ``state``: the whole trainable parameters (see ``gather_trainable_state``), needed when they
    are sharded; ``None`` saves the model's own state dict.
    """
    with atomic_directory(out / ("model" if cfg.method == "full-ft" else "adapter")) as tmp:
        model.save_pretrained(tmp, **({"state_dict": state} if state is not None else {}))
        if cfg.method == "full-ft":
            tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / "alignguard_config.json", {**to_dict(cfg), "resolved_reg": to_dict(cfg.resolved_reg())})
        atomic_write_json(tmp / "provenance.json", provenance(seed=cfg.seed, data=prints))
    log.info("saved %s", out)
