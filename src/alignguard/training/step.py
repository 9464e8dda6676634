"""One optimizer step's backward passes, shared by every backend (single process, DDP, FSDP2).

::

    micro-batches  <- next grad_accum batches (the global batch; each rank takes its rows)
    for each micro-batch:  backward( sum_rows w_row * NLL_row / tokens_in_global_batch    (task)
                                     + task_penalty(hidden states) / micro-batches )
    last micro-batch also: backward( method penalty )                               (loss hook)
    method gradient hooks, then clip

Each part runs under a ``torch.profiler.record_function`` label (``alignguard/task_forward``,
``alignguard/task_penalty``, ``alignguard/penalty``, ``alignguard/backward``,
``alignguard/on_gradients``): free without a profiler, and what ``benchmarks/step_breakdown.py``
reads.

The task loss is normalised by the token count of the whole global batch, so k micro-batches
give exactly the gradient of one big batch; row weights ``w_row`` come from the method's data
hook (1 without one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.profiler import record_function

from alignguard.alignment.gate import row_losses
from alignguard.data import IGNORE_INDEX
from alignguard.methods.base import Method


def task_loss_sum(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                  method: Method | None = None, scorer: torch.nn.Module | None = None
                  ) -> torch.Tensor:
    """Summed next-token NLL over the label tokens of ``batch``, rows weighted by ``method``.

    ``scorer``: the unwrapped model the row-weight hooks score on (default ``model``).
    """
    return task_forward(model, batch, method, scorer)[0]


def task_forward(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                 method: Method | None = None, scorer: torch.nn.Module | None = None
                 ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
    """:func:`task_loss_sum` and, when ``method`` reads them, the forward's hidden states."""
    if method is not None and method.weights_rows:
        losses = row_losses(model, batch)
        weights = method.row_weights(scorer or model, batch, losses.detach())
        return (losses.sum() if weights is None else (weights * losses).sum()), None
    hidden = method is not None and method.reads_hidden_states
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                **({"output_hidden_states": True} if hidden else {}))
    logits = out.logits
    # shift the labels, not the logits: a view instead of a copy of the (rows x tokens x vocab)
    # logits; the appended column is ignored
    labels = F.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE_INDEX)
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                          ignore_index=IGNORE_INDEX, reduction="sum")
    return nll, (out.hidden_states if hidden else None)


def optimizer_step(model, accelerator, method: Method, micro: Sequence[dict],
                   max_grad_norm: float) -> tuple[float, dict[str, float], float]:
    """Backward passes of one optimizer step; returns (task loss, term values, grad norm)."""
    world, rank = accelerator.num_processes, accelerator.process_index
    n_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro)
    scorer = accelerator.unwrap_model(model)
    task_total, values, per_batch = 0.0, {}, []
    for i, batch in enumerate(micro):
        last = i == len(micro) - 1
        local = {k: v[rank::world].to(accelerator.device) for k, v in batch.items()}
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            with record_function("alignguard/task_forward"):
                nll, hidden = task_forward(model, local, method, scorer)
            loss = nll * (world / n_tokens)
            task_total += float(loss.detach()) / world
            if hidden is not None:  # averaged over the micro-batches (and, by DDP, the ranks)
                with record_function("alignguard/task_penalty"):
                    extra, seen = method.task_penalty(scorer, local, hidden)
                per_batch.append(seen)
                if extra is not None:
                    loss = loss + extra / len(micro)
            if last:
                with record_function("alignguard/penalty"):
                    penalty, values = method.penalty()
                if penalty is not None:
                    loss = loss + penalty
            with record_function("alignguard/backward"):
                accelerator.backward(loss)
    if world > 1:
        t = torch.tensor([task_total], device=accelerator.device)
        task_total = float(accelerator.reduce(t, reduction="sum"))
    with record_function("alignguard/on_gradients"):
        surgery = method.on_gradients(scorer)
    values = {**values, **_mean_values(per_batch), **surgery}
    params = [p for p in model.parameters() if p.requires_grad]
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_grad_norm))
    return task_total, values, grad_norm


def _mean_values(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each key's mean over the micro-batches' logged values."""
    keys = {k for r in rows for k in r}
    return {k: sum(r[k] for r in rows if k in r) / sum(k in r for r in rows) for k in keys}
