"""The token positions and the summed token loss whose output gradients define K-FAC's ``g_t``.

Split from :mod:`alignguard.alignment.kfac` (which re-exports both): the same selection is used by
the K-FAC collection, by the per-token gradients of the weight-space directions
(:mod:`alignguard.alignment.directions`) and by the sampled ("true") Fisher estimator
(method.md section 2, after AlignGuard-LoRA, arXiv 2508.02079).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from alignguard.data import IGNORE_INDEX

TOKEN_MODES = ("all", "response")
ESTIMATORS = ("empirical", "sampled")
_LOSS_CHUNK = 1024  # rows of logits handled at once by the sampled estimator


def select_positions(batch: Mapping[str, torch.Tensor], tokens: str = "all"
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Selected prediction positions and their targets for one collated batch.

    Returns:
        ``(sel, targets)``, both ``(B, T)``: ``sel[b, t]`` is True when position ``t`` predicts a
        selected token, ``targets[b, t]`` is that token (``input_ids[b, t + 1]`` for
        ``tokens="all"``, ``labels[b, t + 1]`` for ``tokens="response"``; 0 where not selected).
    """
    if tokens not in TOKEN_MODES:
        raise ValueError(f"tokens must be one of {TOKEN_MODES}, got {tokens!r}")
    ids = batch["input_ids"]
    mask = batch.get("attention_mask")
    mask = torch.ones_like(ids, dtype=torch.bool) if mask is None else mask.bool()
    sel = torch.zeros_like(mask)
    targets = torch.zeros_like(ids)
    if tokens == "all":
        sel[:, :-1] = mask[:, :-1] & mask[:, 1:]
        nxt = ids[:, 1:]
    else:
        labels = batch.get("labels")
        if labels is None:
            raise ValueError("tokens='response' needs 'labels' in every batch (-100 on prompt tokens)")
        sel[:, :-1] = mask[:, :-1] & (labels[:, 1:] != IGNORE_INDEX)
        nxt = labels[:, 1:]
    targets[:, :-1] = torch.where(sel[:, :-1], nxt, torch.zeros_like(nxt))
    return sel, targets


def token_loss(logits: torch.Tensor, sel: torch.Tensor, targets: torch.Tensor, *,
               estimator: str = "empirical", generator: torch.Generator | None = None) -> torch.Tensor:
    """The summed token loss whose output gradients define ``g_t``.

    ``estimator="empirical"``: ``L = sum_t -log p(y_t | x_<=t)`` with the given targets ``y_t``.

    ``estimator="sampled"`` (importance-sampled "true" Fisher, method.md section 2): at each
    selected position let ``a = argmax p`` and ``w_t = 1 - p(a)``; draw ``y_t`` from ``p``
    renormalised off the argmax, ``q(y) = p(y) / w_t`` for ``y != a``, and use
    ``L = sum_t sqrt(w_t) * -log p(y_t)`` (``w_t`` detached). A token's own term then enters
    ``g g^T`` with weight ``w_t``, i.e. ``w_t * grad log p(y) grad log p(y)^T`` with ``y ~ q``: an
    unbiased one-sample estimate of the off-argmax part of the true Fisher
    ``E_{y~p}[grad log p(y) grad log p(y)^T]``. The argmax term ``p(a) grad log p(a) (.)^T`` is
    dropped, so a saturated model does not return its empirical Fisher. ``w_t`` is computed from a
    float64 log-softmax (``-expm1(log p(a))``) so saturated tokens (``1 - p(a) ~ 1e-7``) keep
    their small weight rather than rounding to 0.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if estimator == "empirical":  # all rows at once, without copying the selected logits
        flat = logits.reshape(-1, logits.shape[-1])
        flat = flat.float() if flat.dtype in (torch.float16, torch.bfloat16) else flat
        tgt = targets.masked_fill(~sel, IGNORE_INDEX).reshape(-1)
        return F.cross_entropy(flat, tgt, ignore_index=IGNORE_INDEX, reduction="sum")
    rows = logits[sel]
    if rows.dtype in (torch.float16, torch.bfloat16):
        rows = rows.float()
    if rows.shape[-1] < 2:
        raise ValueError("the sampled estimator needs a vocabulary of at least 2 tokens")
    total = rows.new_zeros(())
    for lo in range(0, rows.shape[0], _LOSS_CHUNK):
        chunk = rows[lo:lo + _LOSS_CHUNK]
        with torch.no_grad():
            logp = torch.log_softmax(chunk.detach().double(), dim=-1)
            logp_max, amax = logp.max(dim=-1)
            weight = (-torch.expm1(logp_max)).clamp_min(0.0)
            off = logp.scatter(-1, amax[:, None], float("-inf"))
            y = torch.multinomial(torch.softmax(off, dim=-1), 1, generator=generator).squeeze(1)
        nll = F.cross_entropy(chunk, y, reduction="none")
        total = total + (weight.sqrt().to(nll.dtype) * nll).sum()
    return total


__all__ = ["ESTIMATORS", "TOKEN_MODES", "select_positions", "token_loss"]
