"""LoX (arXiv 2506.15606, "LoX: Low-Rank Extrapolation Robustifies LLM Safety Against
Fine-tuning"): pre-harden the aligned weights along their top alignment directions::

    W_LoX = W_aligned + alpha * SVD_k(W_aligned - W_base)

(``SVD_k``: the rank-``k`` truncated SVD ``U_k S_k W_k^T``), then fine-tune from ``W_LoX``.

Folded into the adapter so that the result still loads with stock PEFT on the stock aligned
base: the adapter has rank ``r + k`` (requested through :meth:`Component.extra_rank`; the loop
sets ``lora_alpha`` so that the scale ``s`` stays the user's ``alpha / r``), its last ``k``
ranks are set before training to::

    B[:, r:] = sqrt(alpha / s) U_k S_k^{1/2},   A[r:, :] = sqrt(alpha / s) S_k^{1/2} W_k^T
    =>  s B[:, r:] A[r:, :] = alpha U_k S_k W_k^T

and kept frozen (their gradients zeroed in ``on_gradients``: with zero gradients from the first
step AdamW's moments stay 0, so they never move; weight decay would move them and is refused).
The first ``r`` ranks train as plain LoRA.
"""

from __future__ import annotations

import math

import torch

from alignguard.alignment.prepare import AlignmentArtifacts
from alignguard.methods.base import Component
from alignguard.methods.weightspace import oriented_delta


def lox_factors(V: torch.Tensor, k: int, alpha: float, scale: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B_x, A_x)`` (``d_out x k``, ``k x d_in``) with ``scale B_x A_x = alpha SVD_k(V)``.

    Computed in ``V``'s dtype (at least float32) on its device. Columns beyond
    ``min(d_out, d_in)`` are zero.
    """
    V = V.detach() if V.dtype == torch.float64 else V.detach().float()
    U, s, Wt = torch.linalg.svd(V, full_matrices=False)
    m = min(k, s.numel())
    root = s[:m].clamp_min(0).sqrt() * math.sqrt(alpha / scale)
    B = torch.zeros(V.shape[0], k, dtype=V.dtype, device=V.device)
    A = torch.zeros(k, V.shape[1], dtype=V.dtype, device=V.device)
    B[:, :m] = U[:, :m] * root
    A[:m] = root[:, None] * Wt[:m]
    return B, A


class LowRankExtrapolation(Component):
    """LoX's ``alpha SVD_k(W_aligned - W_base)`` as ``k`` frozen adapter ranks."""

    name = "lox"

    def __init__(self, k: int, alpha: float) -> None:
        if k < 1 or not alpha >= 0:
            raise ValueError(f"LoX needs lox_rank >= 1 and lox_alpha >= 0, got {k} and {alpha}")
        self.k, self.alpha = k, alpha
        self.deltas: dict[str, torch.Tensor] | None = None
        self.layers: dict[str, torch.nn.Module] = {}

    def needs(self) -> set[str]:
        return {"deltas"}

    def extra_rank(self) -> int:
        return self.k

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        self.deltas = artifacts.deltas

    @torch.no_grad()
    def before_training(self, model: torch.nn.Module) -> None:
        """Write the extrapolation into the last ``k`` ranks of every adapter.

        Raises:
            ValueError: an adapter's rank is below ``k + 1`` (not attached with the extra rank).
        """
        from alignguard.targets import lora_layers

        self.layers = lora_layers(model)
        for name, layer in self.layers.items():
            A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight
            if A.shape[0] <= self.k:
                raise ValueError(f"{name}: adapter rank {A.shape[0]} leaves no trainable rank next "
                                 f"to LoX's {self.k}; attach LoRA with r + lox_rank")
            Bx, Ax = lox_factors(oriented_delta(self.deltas[name], layer).to(A.device), self.k, self.alpha,
                                 float(layer.scaling["default"]))
            B[:, -self.k:] = Bx.to(B)
            A[-self.k:] = Ax.to(A)
        self.deltas = None

    def rebind(self, model: torch.nn.Module) -> None:
        from alignguard.targets import lora_layers

        self.layers = lora_layers(model)

    @torch.no_grad()
    def on_gradients(self, model: torch.nn.Module) -> dict[str, float]:
        for layer in self.layers.values():
            A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight
            if A.grad is not None:
                A.grad[-self.k:] = 0
            if B.grad is not None:
                B.grad[:, -self.k:] = 0
        return {}
