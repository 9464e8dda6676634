"""Multi-process helpers: data sharding, sharded Fisher estimation, whole LoRA factors, a worker.

AlignGuard-LoRA (arXiv 2508.02079) has two places where processes must agree:

* **Alignment Fisher.** Every rank holds the whole model (DDP) and processes the rows
  ``[rank::world]`` of every global batch; :func:`alignguard.kfac.collect_kfac_factors` sums
  ``S_in = sum_t x_t x_t^T``, ``S_out = sum_t g_t g_t^T`` and the token count over ranks, so the
  factors equal those of one process that sees the whole global batch (sums do not depend on how
  the tokens are split). :func:`estimate_fisher_sharded` does the sharding and keeps the
  metadata (data fingerprint, example count) global.
* **Regularizers.** ``L_A``, ``L_T`` and ``E_col`` are functions of the LoRA factors only. Under
  DDP every rank holds the whole, identical factors, so the penalty is computed identically on
  every rank and DDP's gradient *average* leaves its gradient unchanged. Under FSDP2 the factors
  are ``DTensor`` shards; :func:`whole` gathers one with a differentiable all-gather
  (``DTensor.full_tensor``), whose backward hands each rank the slice of the (identical)
  penalty gradient it owns.

``python -m alignguard.distributed`` is a worker used by the distributed test and the docs: run
it under ``torchrun`` (or ``accelerate launch``) and it writes the all-reduced K-FAC factors, the
training log and every rank's LoRA weights as safetensors + JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from alignguard.artifacts import atomic_directory, atomic_write_json
from alignguard.basis import AlignmentBasis
from alignguard.data import Example, collate, encode_examples, pad_id_of

log = logging.getLogger(__name__)


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised ``torch.distributed`` group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the rank that writes shared artifacts."""
    return dist_info()[0] == 0


def barrier() -> None:
    """``torch.distributed.barrier()`` when a process group is initialised; no-op otherwise."""
    import torch.distributed as dist

    if dist_info()[1] > 1:
        dist.barrier()


def shard_batch(batch: Mapping[str, torch.Tensor], rank: int, world: int) -> dict[str, torch.Tensor]:
    """Rows ``[rank::world]`` of a collated global batch (the split the training loop uses)."""
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, world) = [0, {world}), got {rank}")
    return {k: v[rank::world] for k, v in batch.items()}


def global_batches(examples: Sequence[Example], tokenizer, *, tokens: str = "all",
                   batch_size: int = 16, max_length: int = 128) -> list[dict[str, torch.Tensor]]:
    """The Fisher's global batches, in order: consecutive ``batch_size`` examples, right-padded.

    ``tokens="all"`` keeps labels on every token, ``"response"`` masks the prompt (-100).
    """
    loss_on = "all" if tokens == "all" else "response"
    encoded = encode_examples(tokenizer, examples, max_length=max_length, loss_on=loss_on)
    pad = pad_id_of(tokenizer)
    return [collate(encoded[i:i + batch_size], pad) for i in range(0, len(encoded), batch_size)]


def estimate_fisher_sharded(model: torch.nn.Module, examples: Sequence[Example], *, tokenizer,
                            tokens: str = "all", batch_size: int = 16, max_length: int = 128,
                            max_examples: int | None = None, seed: int = 0, **kwargs
                            ) -> AlignmentBasis:
    """:func:`alignguard.fisher.estimate_alignment_fisher`, each rank on its rows of every batch.

    The global batches are the ones a single process would form; rank ``r`` of ``w`` takes rows
    ``[r::w]`` of each. ``collect_kfac_factors`` all-reduces ``S_in``, ``S_out`` and the token
    count, so the eigenbases equal the single-process ones up to float summation order. Without
    an initialised process group this is exactly ``estimate_alignment_fisher``. The sampled
    estimator draws with seed ``seed + rank`` (statistically, not bitwise, equivalent).

    Args:
        model: the aligned causal LM, whole on every rank (not FSDP-sharded).
        examples: the alignment examples (the same list on every rank).
        tokenizer: its tokenizer.
        tokens: ``"all"`` or ``"response"``.
        batch_size: examples per global batch.
        max_length: token limit per example.
        max_examples: use the first ``max_examples`` examples (``None``: all).
        seed: seed of the sampled estimator.
        **kwargs: passed on (target_modules, estimator, explained_variance, max_rank, progress,
            model_name).

    Returns:
        The :class:`AlignmentBasis`, identical on every rank, with global metadata.
    """
    from alignguard.data import fingerprint_examples
    from alignguard.fisher import contrastive_examples, estimate_alignment_fisher

    rank, world = dist_info()
    examples = list(examples)[:max_examples] if max_examples else list(examples)
    if world == 1:
        return estimate_alignment_fisher(model, examples, tokenizer=tokenizer, tokens=tokens,
                                         batch_size=batch_size, max_length=max_length, seed=seed,
                                         **kwargs)
    if not examples:
        raise ValueError("the alignment data set is empty; pass at least one example")
    estimator = kwargs.pop("estimator", "empirical")
    sequences = contrastive_examples(examples) if estimator == "contrastive" else examples
    batches = global_batches(sequences, tokenizer, tokens=tokens, batch_size=batch_size,
                             max_length=max_length)
    local = [shard_batch(b, rank, world) for b in batches]
    kwargs.setdefault("progress", rank == 0)
    basis = estimate_alignment_fisher(
        model, local, tokens=tokens, seed=seed + rank,
        estimator="empirical" if estimator == "contrastive" else estimator, **kwargs)
    basis.meta.update(data_fingerprint=fingerprint_examples(examples), n_examples=len(examples),
                      n_sequences=len(sequences),
                      world_size=world, seed=seed, estimator=estimator)
    return basis


def whole(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor behind ``t``: ``t`` itself, or the all-gathered value of a DTensor.

    ``DTensor.full_tensor()`` is differentiable: its backward gives every rank the slice of the
    incoming gradient that rank owns, which is correct when the gradient is identical on all
    ranks, as it is for the regularizer penalty (same factors, same formula on every rank).
    """
    if type(t) in (torch.Tensor, torch.nn.Parameter):  # fast path: not a tensor subclass
        return t
    full = getattr(t, "full_tensor", None)
    return full() if callable(full) else t


def gather_trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Whole (all-gathered) trainable parameters by name, on CPU.

    A collective under FSDP2 (``DTensor`` shards): every rank must call it, then one rank
    writes, e.g. ``peft_model.save_pretrained(folder, state_dict=state)``. Without sharding it is
    a plain copy of the LoRA factors.
    """
    return {n: whole(p).detach().cpu().clone().contiguous()
            for n, p in model.named_parameters() if p.requires_grad}


def rebind_lora_params(layout, model: torch.nn.Module, adapter: str = "default") -> int:
    """Point a :class:`~alignguard.regularizers.GeometryLayout` at the model's current LoRA params.

    Wrappers that replace parameter objects (FSDP2's ``fully_shard`` swaps in ``DTensor``
    parameters) leave a layout built before wrapping holding stale tensors; call this after
    ``accelerator.prepare``. Returns the number of modules rebound.

    Raises:
        ValueError: the model's adapted modules differ from the layout's.
    """
    from alignguard.targets import lora_factors

    factors = lora_factors(model, adapter)
    if sorted(factors) != sorted(layout.names):
        raise ValueError(f"the model adapts {len(factors)} modules but the layout was built for "
                         f"{len(layout.names)}; rebuild the Objective for this model")
    for group in layout.groups:
        group.A_params = [factors[n].A for n in group.names]
        group.B_params = [factors[n].B for n in group.names]
    return len(factors)


# ---------------------------------------------------------------------------------------------
# the worker (python -m alignguard.distributed under torchrun / accelerate launch)
# ---------------------------------------------------------------------------------------------

def _worker_config(args: argparse.Namespace):
    from alignguard.train_config import FisherSettings, TrainConfig

    cfg = TrainConfig(
        model=args.model, data=args.data, output_dir=str(Path(args.output) / "run"),
        method=args.method, steps=args.steps, batch_size=args.batch_size,
        grad_accum=args.grad_accum, lr=args.lr, warmup_steps=1, log_every=1, save_every=0,
        seed=args.seed, max_length=args.max_length, resume=False,
        fisher_settings=FisherSettings(data=args.data, batch_size=args.fisher_batch_size,
                                       max_rank=args.max_rank, max_length=args.max_length,
                                       estimator="empirical"),  # --data has no rejected replies
    )
    cfg.lora.r = args.lora_rank
    cfg.reg.gate = 0.0  # needs rejected replies too, and unsharded weights
    return cfg


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> Path:
    """Write ``tensors`` (CPU copies) as one safetensors file, atomically."""
    from safetensors.torch import save

    from alignguard.artifacts import atomic_write_bytes

    return atomic_write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def _save_factors(out: Path, factors) -> None:

    tensors = {}
    for name, fac in factors.items():
        tensors[f"{name}.S_in"], tensors[f"{name}.S_out"] = fac.S_in, fac.S_out
    save_tensors(out / "factors.safetensors", tensors)
    atomic_write_json(out / "factors.json", {n: f.n_tokens for n, f in factors.items()})


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The transformer blocks of a (PEFT-wrapped) HF causal LM: the FSDP wrapping units."""
    from alignguard.targets import base_model_of

    inner = getattr(base_model_of(model), "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ValueError(f"cannot find decoder layers (model.model.layers) in {type(model).__name__}; "
                         "wrap it with FSDP yourself and call rebind_lora_params")
    return list(layers)


def fsdp2_train(cfg, model, tokenizer) -> tuple[list[float], torch.nn.Module]:
    """A few training steps with FSDP2 (``fully_shard`` per decoder layer + root), on any backend.

    Uses the training loop's own pieces (:func:`alignguard.train.optimizer_step`, the same
    Fisher, LoRA init, data order and schedule as :func:`alignguard.train.train`), so it checks
    that the loss and the regularizers stay exact when the LoRA factors are ``DTensor`` shards
    (gathered by :func:`whole`). No checkpoints or artifacts besides the Fisher.

    Returns:
        (task loss per step, the sharded model).
    """
    from accelerate import Accelerator
    from torch.distributed.fsdp import fully_shard

    from alignguard.data import iterate_batches
    from alignguard.objective import Objective
    from alignguard.train import (
        alignment_basis,
        optimizer_step,
        prepare_model,
        set_seed,
        training_examples,
        warmup_schedule,
    )

    set_seed(cfg.seed)
    accelerator = Accelerator(cpu=cfg.device == "cpu")
    examples, _ = training_examples(cfg)
    encoded = encode_examples(tokenizer, examples, cfg.max_length)
    basis = alignment_basis(cfg, model, tokenizer, None, Path(cfg.output_dir))
    model = prepare_model(cfg, model)
    objective = Objective(cfg.resolved_reg(), model, basis)
    for layer in decoder_layers(model):
        fully_shard(layer)
    fully_shard(model)
    rebind_lora_params(objective.layout, model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_schedule(cfg.warmup_steps, cfg.steps, cfg.lr_schedule))
    batches = iterate_batches(encoded, cfg.batch_size, pad_id_of(tokenizer), cfg.seed)
    model.train()
    losses = []
    for _ in range(cfg.steps):
        micro = [next(batches) for _ in range(cfg.grad_accum)]
        task, _, _ = optimizer_step(model, accelerator, objective, micro, cfg)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(task)
    return losses, model


def run_worker(args: argparse.Namespace) -> dict:
    """Collect K-FAC factors on sharded batches, train, write results; returns the summary."""
    from accelerate import PartialState

    from alignguard.data import load_dataset_spec
    from alignguard.kfac import collect_kfac_factors
    from alignguard.models import load_model
    from alignguard.targets import resolve_target_modules
    from alignguard.train import train

    PartialState(cpu=args.device == "cpu")  # initialises torch.distributed under a launcher
    rank, world = dist_info()
    cfg = _worker_config(args)
    out = Path(args.output)
    model, tokenizer = load_model(args.model, device="cpu" if args.device == "cpu" else args.device)
    examples = load_dataset_spec(args.data)
    fs = cfg.fisher_settings
    batches = global_batches(examples[:fs.max_examples], tokenizer, tokens=fs.tokens,
                             batch_size=fs.batch_size, max_length=fs.max_length)
    _, names = resolve_target_modules(model, cfg.lora.target_modules)
    factors = collect_kfac_factors(model, [shard_batch(b, rank, world) for b in batches], names,
                                   progress=False)
    if rank == 0:
        _save_factors(out, factors)
    if args.fsdp2:
        losses, trained = fsdp2_train(cfg, model, tokenizer)
        history: list[dict] = []
        state = gather_trainable_state(trained)  # collective: every rank, before rank 0 writes
        if rank == 0:
            with atomic_directory(out / "adapter") as tmp:
                trained.save_pretrained(tmp, state_dict=state)
    else:
        result = train(cfg, model=model, tokenizer=tokenizer, progress=False)
        trained, history = result.model, result.history
        losses = [r["task_loss"] for r in history]
    lora = {n: whole(p) for n, p in trained.named_parameters() if "lora_" in n}
    save_tensors(out / f"lora-rank{rank}.safetensors", lora)
    summary = {"world_size": world, "fsdp2": bool(args.fsdp2), "losses": losses, "history": history}
    if rank == 0:
        atomic_write_json(out / "worker.json", summary)
    barrier()
    return summary


def build_parser() -> argparse.ArgumentParser:
    """Options of the worker (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m alignguard.distributed",
                                description="AlignGuard distributed worker: Fisher + a few steps.")
    p.add_argument("--model", required=True, help="model folder, .gguf or a known name")
    p.add_argument("--data", required=True, help="JSONL of prompt/response rows (task and Fisher)")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--method", default="agl")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8, help="global rows per micro-batch")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--fisher-batch-size", type=int, default=8)
    p.add_argument("--max-rank", type=int, default=4)
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--lora-rank", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--fsdp2", action="store_true",
                   help="shard with FSDP2 (fully_shard) instead of DDP; works on gloo/CPU")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m alignguard.distributed``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = run_worker(build_parser().parse_args(argv))
    if is_main_process():
        print(json.dumps({"world_size": summary["world_size"], "losses": summary["losses"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
