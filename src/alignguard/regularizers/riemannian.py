"""E_riem, the only AlignGuard term that needs dense entries of dW (arXiv 2508.02079).

    E_riem = mean_ij eta_ij |(dW_A)_ij (dW_T)_ij|,   dW_A = Q_o C Q_i^T,  dW_T = dW - dW_A

(method.md section 3). ``eta`` is either the paper-style sigmoid weight
``1 + beta * sigmoid((|dW_ij| - tau) / temp)`` or the Fisher-diagonal metric
``diag(S_out)_i diag(S_in)_j`` (each diagonal mean-normalised, so ``mean(eta) = 1``).
The absolute value rules out a factored form, so entries are materialised, but never for all
modules at once:

* sampled (default): per group and step, one random block of ``n`` rows x ``n`` columns (without
  replacement, shared by the group's modules) gives an unbiased estimate of every module's mean;
  cost ``O(n^2 (r + k))`` per module;
* exact (``riem_sample=0``): chunks of modules with at most ``riem_chunk`` entries each, under
  activation checkpointing when gradients are on, so memory holds one chunk at a time.

With ``riem_norm="energy"`` each module's value is divided by its exact ``mean(dW^2)`` (factored),
and ``tau``/``temp`` are in RMS units of ``dW``: the term is scale-free instead of ~1e-4 and inert.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.checkpoint import checkpoint

from alignguard.regularizers.geometry import GroupGeometry


@dataclass(frozen=True)
class RiemOptions:
    """Options of E_riem (see :class:`~alignguard.regularizers.config.RegularizerConfig`)."""

    weight: str = "sigmoid"
    beta: float = 1.0
    tau: float = 1.0
    temp: float = 0.5
    norm: str = "energy"
    sample: int = 64
    chunk: int = 1 << 22
    eps: float = 1e-12


def _block_values(B: torch.Tensor, A: torch.Tensor, core: torch.Tensor, q_o: torch.Tensor,
                  q_i: torch.Tensor, scale: torch.Tensor, rms: torch.Tensor,
                  d_o: torch.Tensor, d_i: torch.Tensor, opts: RiemOptions) -> torch.Tensor:
    """Per-module ``mean eta |dW_A dW_T|`` over one block of entries.

    Args:
        B, A: ``(G, m, r)`` rows of B and ``(G, r, n)`` columns of A of the block.
        core: ``(G, k_o, k_i)`` cores C.
        q_o, q_i: ``(G, m, k_o)``, ``(G, n, k_i)`` matching rows of the bases.
        scale: ``(G,)`` LoRA scales.
        rms: ``(G,)`` RMS of the full dW (sigmoid weight in RMS units) or ones.
        d_o, d_i: ``(G, m)``, ``(G, n)`` factor diagonals of the block (Fisher metric).
        opts: E_riem options.
    """
    dw = scale[:, None, None] * (B @ A)
    dwa = (q_o @ core) @ q_i.transpose(-1, -2)
    overlap = (dwa * (dw - dwa)).abs()
    if opts.weight == "fisher_diag":
        eta = d_o[:, :, None] * d_i[:, None, :]
    else:
        z = dw.abs() / rms[:, None, None]
        eta = 1.0 + opts.beta * torch.sigmoid((z - opts.tau) / opts.temp)
    return (eta * overlap).mean((-1, -2))


def _rms(g: GroupGeometry, opts: RiemOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean(dW^2) + eps, RMS used by the sigmoid)`` per module, both from the factored norm."""
    msq = g.dw_sq / (g.spec.d_out * g.spec.d_in) + opts.eps
    rms = msq.sqrt() if opts.norm == "energy" else torch.ones_like(msq)
    return msq, rms


def riem_sampled(g: GroupGeometry, opts: RiemOptions, generator: torch.Generator) -> torch.Tensor:
    """Unbiased per-module E_riem from one random ``n x n`` block (exact when ``n >= d``)."""
    s = g.spec
    msq, rms = _rms(g, opts)
    rows = _pick(s.d_out, opts.sample, generator, g.B.device)
    cols = _pick(s.d_in, opts.sample, generator, g.B.device)
    B, q_o, d_o = g.B, s.q_out, s.diag_out
    A, q_i, d_i = g.A, s.q_in, s.diag_in
    if rows is not None:
        B, q_o, d_o = B.index_select(1, rows), q_o.index_select(1, rows), d_o.index_select(1, rows)
    if cols is not None:
        A, q_i, d_i = A.index_select(2, cols), q_i.index_select(1, cols), d_i.index_select(1, cols)
    vals = _block_values(B, A, g.core, q_o, q_i, s.scale, rms, d_o, d_i, opts)
    return vals / msq if opts.norm == "energy" else vals


def _pick(d: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor | None:
    if n <= 0 or n >= d:
        return None
    return torch.randperm(d, generator=generator)[:n].to(device)


def riem_exact(g: GroupGeometry, opts: RiemOptions) -> torch.Tensor:
    """Exact per-module E_riem, ``riem_chunk`` entries at a time (checkpointed under grad)."""
    s = g.spec
    msq, rms = _rms(g, opts)
    per_module = s.d_out * s.d_in
    step = max(1, opts.chunk // per_module)
    outs = []
    for lo in range(0, len(s.names), step):
        sl = slice(lo, lo + step)
        args = (g.B[sl], g.A[sl], g.core[sl], s.q_out[sl], s.q_in[sl], s.scale[sl], rms[sl],
                s.diag_out[sl], s.diag_in[sl])
        if torch.is_grad_enabled():
            outs.append(checkpoint(_block_values, *args, opts, use_reentrant=False))
        else:
            outs.append(_block_values(*args, opts))
    vals = torch.cat(outs)
    return vals / msq if opts.norm == "energy" else vals


def riem_values(g: GroupGeometry, opts: RiemOptions, generator: torch.Generator) -> torch.Tensor:
    """``(G,)`` E_riem per module of one group (sampled or exact per ``opts.sample``).

    Cached on the group geometry, so E_riem and E_col evaluated in one step share one draw.
    """
    key = ("riem", opts)
    if key not in g.cache:
        g.cache[key] = riem_sampled(g, opts, generator) if opts.sample > 0 else riem_exact(g, opts)
    return g.cache[key]
