"""The alignment matrix ``C`` of Safe LoRA / AsFT in factored form, and LoRA-factor helpers.

Safe LoRA (Hsu et al., NeurIPS 2024, arXiv 2405.16833, eq. 1) defines, per adapted layer, the
*alignment matrix*::

    V = W_aligned - W_base          (d_out x d_in)
    C = V V^T / ||V||_F             (d_out x d_out)

AsFT (arXiv 2506.08473) reuses the same ``C`` and penalises ``(I - C) dW``. A ``d_out x d_out``
matrix per layer is never formed here: with the thin SVD ``V = U S W^T``,
``C = U diag(s^2 / ||V||_F) U^T``, and we keep the top ``rank`` singular directions
(``U_k``: ``d_out x k`` and ``c_k = s_k^2 / ||V||_F``; ``||V||_F`` is the norm of the *whole*
``V``). The truncation drops eigenvalues ``s_i^2 / ||V||_F`` for ``i > k``; rank 0 keeps all.
``form="projector"`` replaces ``c`` by ones (``C = U_k U_k^T``, an orthogonal projector), an
option because the published ``C`` is not scale-free (its eigenvalues are ``s_i^2/||V||_F``).

Every product with a LoRA update ``dW = s B A`` is then computed from ``r x r`` and ``k x r``
matrices (:func:`cosine_CdW`, :func:`perp_energy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from alignguard.alignment.prepare import AlignmentArtifacts
from alignguard.methods.base import Component

FORMS = ("paper", "projector")


@dataclass
class AlignmentMatrix:
    """``C = U diag(c) U^T`` of one layer (``U``: ``d_out x k`` orthonormal, ``c``: ``(k,)``)."""

    U: torch.Tensor
    c: torch.Tensor

    @classmethod
    def from_delta(cls, V: torch.Tensor, rank: int = 0, form: str = "paper") -> AlignmentMatrix:
        """``C`` of ``V = W_aligned - W_base`` (float32 SVD; ``rank`` 0: every direction).

        Raises:
            ValueError: unknown ``form``.
        """
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        V = V.detach().float()
        U, s, _ = torch.linalg.svd(V, full_matrices=False)
        k = s.numel() if rank <= 0 else min(rank, s.numel())
        norm = torch.linalg.vector_norm(V).clamp_min(1e-30)
        c = s[:k] ** 2 / norm if form == "paper" else torch.ones(k, device=V.device)
        return cls(U[:, :k].contiguous(), c.contiguous())

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> AlignmentMatrix:
        return AlignmentMatrix(self.U.to(device, dtype), self.c.to(device, dtype))

    def apply(self, B: torch.Tensor) -> torch.Tensor:
        """``C B`` for ``B``: ``d_out x r`` (``U (c * (U^T B))``)."""
        U, c = self.U.to(B), self.c.to(B)
        return U @ (c[:, None] * (U.T @ B))

    def dense(self) -> torch.Tensor:
        """``C`` as a ``d_out x d_out`` matrix (tests only)."""
        return self.U @ torch.diag(self.c) @ self.U.T


def _gram_products(C: AlignmentMatrix, B: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(B^T B, P^T diag(c) P, P^T diag(c^2) P)`` with ``P = U^T B`` (all ``r x r``)."""
    U, c = C.U.to(B), C.c.to(B)
    P = U.T @ B
    return B.T @ B, P.T @ (c[:, None] * P), P.T @ ((c * c)[:, None] * P)


def cosine_CdW(C: AlignmentMatrix, A: torch.Tensor, B: torch.Tensor) -> float:
    """Safe LoRA's similarity ``<C B A, B A>_F / (||C B A||_F ||B A||_F)``, factored::

        <CBA, BA> = tr((B^T C B)(A A^T)),  ||CBA||^2 = tr((B^T C^2 B)(A A^T)),
        ||BA||^2 = tr((B^T B)(A A^T))

    (the scale ``s`` cancels). Returns 1.0 for ``B A = 0`` (nothing to project).
    """
    with torch.no_grad():
        A, B = A.detach().float(), B.detach().float()
        G = A @ A.T
        BB, BCB, BC2B = _gram_products(C, B)
        inner, cba2, ba2 = (BCB * G).sum(), (BC2B * G).sum(), (BB * G).sum()
        denom = (cba2.clamp_min(0) * ba2.clamp_min(0)).sqrt()
        return 1.0 if float(denom) <= 1e-30 else float(inner / denom)


def perp_energy(C: AlignmentMatrix, A: torch.Tensor, B: torch.Tensor, scale: float) -> torch.Tensor:
    """AsFT's ``||(I - C) dW||_F^2`` for ``dW = scale B A``, differentiable in ``A`` and ``B``::

        (I - C)^2 = I + U diag(c^2 - 2c) U^T   (U orthonormal)
        ||(I - C) dW||^2 = scale^2 tr((B^T B - 2 B^T C B + B^T C^2 B)(A A^T))

    Cost ``O(d_out k r + d_out r^2 + d_in r^2)``; no ``d_out x d_in`` product.
    """
    BB, BCB, BC2B = _gram_products(C, B)
    return scale * scale * ((BB - 2.0 * BCB + BC2B) * (A @ A.T)).sum()


def local_grad(p: torch.nn.Parameter) -> torch.Tensor | None:
    """``p.grad`` as a plain tensor (an FSDP2 ``DTensor`` gradient: this rank's rows)."""
    g = p.grad
    if g is None:
        return None
    return g.to_local() if hasattr(g, "to_local") else g


def oriented_delta(delta: torch.Tensor, layer: torch.nn.Module) -> torch.Tensor:
    """``W_aligned - W_base`` as ``d_out x d_in`` (GPT-2's ``Conv1D`` stores ``d_in x d_out``)."""
    return delta.T if getattr(layer, "fan_in_fan_out", False) else delta


def alignment_matrices(model: torch.nn.Module, deltas: dict[str, torch.Tensor], rank: int,
                       form: str) -> dict[str, AlignmentMatrix]:
    """``C`` of every adapted module of ``model`` (on its LoRA weights' device).

    Raises:
        ValueError: an adapted module has no alignment delta, or its shape differs.
    """
    from alignguard.targets import lora_layers

    out = {}
    for name, layer in lora_layers(model).items():
        if name not in deltas:
            raise ValueError(f"no alignment delta W_aligned - W_base for adapted module {name!r}")
        V = oriented_delta(deltas[name], layer)
        B = layer.lora_B["default"].weight
        if V.shape[0] != B.shape[0]:
            raise ValueError(f"{name}: delta {tuple(V.shape)} does not match d_out {B.shape[0]}")
        out[name] = AlignmentMatrix.from_delta(V.to(B.device), rank, form)  # SVD on B's device
    return out


class DeltaAnchored(Component):
    """Base of the components built on Safe LoRA's ``C_l`` (``safelora``, ``asft``): they need
    the alignment deltas ``W_aligned - W_base``, turn them into ``C`` (:func:`alignment_matrices`)
    once the adapter exists, and drop the deltas (``C`` holds what is needed)."""

    def __init__(self, rank: int, form: str) -> None:
        self.rank, self.form = rank, form
        self.deltas: dict[str, torch.Tensor] | None = None
        self.C: dict[str, AlignmentMatrix] = {}

    def needs(self) -> set[str]:
        return {"deltas"}

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        self.deltas = artifacts.deltas

    def before_training(self, model: torch.nn.Module) -> None:
        if self.deltas is None:
            raise RuntimeError(f"{self.name}: prepare() must give the alignment deltas before training")
        self.C = alignment_matrices(model, self.deltas, self.rank, self.form)
        self.deltas = None
