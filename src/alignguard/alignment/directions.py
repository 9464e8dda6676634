"""Weight-space alignment directions: leading eigenvectors of each layer's Fisher block.

K-FAC (:mod:`alignguard.alignment.kfac`) approximates a layer's Fisher block as ``S_in (x) S_out``: input
and output statistics averaged over all tokens separately, so it keeps the marginals and loses
which input pattern goes with which output change. Its protected subspace ``Q_o (x) Q_i`` then
also covers the directions a new skill uses (method.md, decision "weight-space directions").
This module estimates the *exact* empirical Fisher block of layer ``l`` in low rank instead::

    G_n = sum_{t in n} g_t x_t^T                 per-sequence gradient (d_out x d_in)
    F_l = 1/N sum_n vec(G_n) vec(G_n)^T           (Martens & Grosse 2015, section 2)

from ``N`` alignment sequences (aligned and rejected replies). With ``M`` the ``N x D`` matrix of
rows ``vec(G_n)`` the leading eigenpairs come from the ``N x N`` Gram matrix (the dual, as in
kernel PCA): ``M M^T u = sigma u`` gives the unit eigenvector ``v = M^T u / sqrt(sigma)`` of ``F_l``
with eigenvalue ``sigma / N``. Each ``v`` is reshaped to a ``d_out x d_in`` matrix ``V`` and kept
truncated to rank ``rho`` as ``V ~= P R`` (``P``: d_out x rho with the singular values folded in,
``R``: rho x d_in). The penalty on the LoRA update ``dW = s B A`` is then cheap::

    L_D = sum_m lam_m <V_m, dW>^2,   <P R, s B A> = s tr((P^T B)(A R^T))

with ``lam`` the eigenvalues divided by their mean. ``current=True`` estimates them at the
current weights ``W0 + dW`` instead (for analysis).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from alignguard.alignment.kfac import module_dims, select_positions, token_gradients
from alignguard.data import DataError, Example

log = logging.getLogger(__name__)

DIRECTION_KEYS = ("dir_p", "dir_r", "dir_lam")


@dataclass
class ModuleDirections:
    """The kept weight-space directions of one module.

    Attributes:
        p: ``(m, d_out, rho)`` left factors (singular values folded in).
        r: ``(m, rho, d_in)`` right factors (orthonormal rows).
        lam: ``(m,)`` eigenvalues of the Fisher block divided by their mean.
    """

    p: torch.Tensor
    r: torch.Tensor
    lam: torch.Tensor

    @property
    def count(self) -> int:
        return int(self.lam.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_out, d_in)`` of the module weight."""
        return int(self.p.shape[1]), int(self.r.shape[2])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
           ) -> ModuleDirections:
        return ModuleDirections(*(t.to(device=device, dtype=dtype) for t in (self.p, self.r, self.lam)))

    def cat(self, other: ModuleDirections) -> ModuleDirections:
        """These directions followed by ``other``'s (padded to the larger rank ``rho``)."""
        rho = max(self.p.shape[2], other.p.shape[2])

        def pad(d: ModuleDirections) -> tuple[torch.Tensor, torch.Tensor]:
            k = rho - d.p.shape[2]
            return (nn.functional.pad(d.p, (0, k)), nn.functional.pad(d.r, (0, 0, 0, k)))

        (p1, r1), (p2, r2) = pad(self), pad(other)
        return ModuleDirections(torch.cat([p1, p2]), torch.cat([r1, r2]),
                                torch.cat([self.lam, other.lam.to(self.lam)]))


def leading_directions(grads: torch.Tensor, k: int, rank: int) -> ModuleDirections:
    """Top-``k`` eigen-matrices of ``1/N sum_n vec(G_n) vec(G_n)^T``, each truncated to ``rank``.

    Args:
        grads: ``(N, d_out, d_in)`` per-sequence gradients.
        k: directions to keep (at most ``N`` and the number of non-zero eigenvalues).
        rank: rank ``rho`` kept of each direction.
    """
    n, d_out, d_in = grads.shape
    flat = grads.reshape(n, -1).to(torch.float64)
    sigma, u = torch.linalg.eigh(flat @ flat.T)
    sigma, u = sigma.flip(0), u.flip(1)
    keep = int(min(k, int((sigma > sigma[0].clamp_min(0) * 1e-10).sum())))
    if keep == 0:
        raise DataError("the alignment gradients are all zero; no direction can be estimated")
    sigma, u = sigma[:keep], u[:, :keep]
    v = ((u.T @ flat) / sigma.sqrt()[:, None]).reshape(keep, d_out, d_in)
    left, sv, right = torch.linalg.svd(v, full_matrices=False)
    rho = min(rank, left.shape[-1])
    p = (left[:, :, :rho] * sv[:, None, :rho]).to(torch.float32)
    lam = (sigma / sigma.mean()).to(torch.float32)
    return ModuleDirections(p, right[:, :rho, :].to(torch.float32).contiguous(), lam)


def _sequence_gradients(model: nn.Module, batch: dict, names: Sequence[str], tokens: str,
                        current: bool) -> dict[str, torch.Tensor]:
    """``(B', d_out, d_in)`` per-sequence gradients of one batch (sequences with selected tokens)."""
    sel, _ = select_positions(batch, tokens)
    seq = sel.reshape(-1).nonzero().squeeze(1) // sel.shape[1]
    pairs = token_gradients(model, batch, names, tokens=tokens, keep_adapters=current)
    ids = seq.unique()
    out = {}
    for name in names:
        x, g = pairs[name]
        out[name] = torch.stack([(g[seq == i].T @ x[seq == i]).float() for i in ids])
    return out


def _chunks(dims: dict[str, tuple[int, int]], n_rows: int, budget: int) -> list[list[str]]:
    """Module groups whose ``n_rows x d_out x d_in`` float32 gradients fit in ``budget`` bytes."""
    groups, current, used = [], [], 0
    for name, (d_out, d_in) in dims.items():
        size = 4 * n_rows * d_out * d_in
        if current and used + size > budget:
            groups.append(current)
            current, used = [], 0
        current.append(name)
        used += size
    return [*groups, current] if current else groups


def estimate_directions(model: nn.Module, examples: Sequence[Example], tokenizer,
                        module_names: Sequence[str], *, k: int = 16, rank: int = 8,
                        tokens: str = "response", batch_size: int = 16, max_length: int = 128,
                        current: bool = False, memory_bytes: int = 2 << 30
                        ) -> dict[str, ModuleDirections]:
    """Leading weight-space Fisher directions of every module from alignment ``examples``.

    Each example contributes its aligned reply and, if it has one, its rejected reply (the
    contrastive pair, as for the contrastive K-FAC estimator). Modules are processed in groups
    whose per-sequence gradients fit in ``memory_bytes`` (one pass over the data per group).

    Args:
        model: the causal LM (optionally PEFT-wrapped).
        examples: alignment rows (prompt, response, optional rejected).
        tokenizer: its tokenizer (chat template).
        module_names: adapted modules, relative to the base model.
        k: directions kept per module.
        rank: rank kept of each direction.
        tokens: ``"response"`` or ``"all"`` prediction positions (see :mod:`alignguard.alignment.kfac`).
        batch_size: sequences per forward pass.
        max_length: token limit per sequence.
        current: estimate at the current weights ``W0 + dW`` (adapters on) instead of ``W0``.
        memory_bytes: budget for the per-sequence gradients held at once.
    """
    from alignguard.data import contrastive_examples, encoded_batches

    if k < 1 or rank < 1:
        raise ValueError(f"need k >= 1 and rank >= 1 directions, got k={k}, rank={rank}")
    if not examples:
        raise DataError("no alignment examples to estimate the weight-space directions from")
    seqs = contrastive_examples(examples) if any(e.rejected for e in examples) else list(examples)
    batches = encoded_batches(tokenizer, seqs, batch_size=batch_size, max_length=max_length,
                              loss_on="all" if tokens == "all" else "response")
    from alignguard.targets import base_model_of

    mods = dict(base_model_of(model).named_modules())
    dims = {n: module_dims(mods[n]) for n in module_names}
    out: dict[str, ModuleDirections] = {}
    for group in _chunks(dims, len(seqs), memory_bytes):
        parts: dict[str, list[torch.Tensor]] = {n: [] for n in group}
        for batch in batches:
            for name, g in _sequence_gradients(model, batch, group, tokens, current).items():
                parts[name].append(g)
        for name in group:
            out[name] = leading_directions(torch.cat(parts.pop(name)), k, rank)
    log.info("weight-space directions: %d sequences, %d modules, k=%d, rank=%d", len(seqs),
             len(out), k, rank)
    return out


__all__ = ["DIRECTION_KEYS", "ModuleDirections", "estimate_directions", "leading_directions"]

