"""Process-group helpers shared by every layer: rank, world size, sharded tensors.

The bottom of the package (imports nothing from AlignGuard), so that the Fisher estimation,
the regularizers and the training loop can all ask "which rank am I" and "give me the whole
tensor behind this FSDP2 shard" without depending on each other.

Regularizer terms are functions of the LoRA factors only. Under DDP every rank holds the whole,
identical factors, so the penalty is identical on every rank and DDP's gradient *average* leaves
its gradient unchanged. Under FSDP2 the factors are ``DTensor`` shards; :func:`whole` gathers one
with a differentiable all-gather (``DTensor.full_tensor``), whose backward hands each rank the
slice of the (identical) penalty gradient it owns.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


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
