"""One-sided null-space LoRA: keep the update out of the alignment prompts' input subspace.

With ``U_l`` (``d_in x k_l``) the leading eigenvectors of adapted module ``l``'s input
covariance on the alignment rows (energy threshold ``alignment.activation_energy``;
:mod:`alignguard.alignment.activations`) and ``P_l = I - U_l U_l^T``::

    A_0 <- A_0 P_l                 (before training)
    grad_A <- grad_A P_l           (every step, after the last backward)
    A <- A P_l                     (every step, and after training)

so ``dW_l X = s B_l A_l X ~= 0`` for inputs ``X`` in that span: the adapted layers' outputs on
the alignment prompts are unchanged to first order. This is GPM's gradient projection (Saha et
al., arXiv 2103.09762, eq. 8, on the input-representation basis) applied to the LoRA ``A``
factor, as in SaLoRA (arXiv 2501.01765) and GuardSpace (arXiv 2510.14301), which keep LoRA
updates out of a safety-relevant subspace. ``B`` is unconstrained. Projecting ``A`` itself as
well as its gradient is our addition: AdamW rescales each coordinate, so a projected gradient
alone would let the update leak into the span; re-projecting ``A`` before each step and after
the last one keeps the saved adapter exactly in the complement.
"""

from __future__ import annotations

import logging

import torch

from alignguard.alignment.prepare import AlignmentArtifacts
from alignguard.methods.base import Component
from alignguard.methods.weightspace import local_grad

log = logging.getLogger(__name__)

def project_out(M: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    """``M (I - U U^T)`` for ``M``: ``r x d_in``, ``U``: ``d_in x k`` orthonormal."""
    U = U.to(M)
    return M - (M @ U) @ U.T


class NullSpace(Component):
    """Projects ``A`` and its gradient onto the complement of the alignment input subspace.

    Logs ``nullspace/grad_kept``: the fraction of ``||grad_A||^2`` the projection keeps.
    """

    name = "nullspace"

    def __init__(self) -> None:
        self.bases: dict[str, torch.Tensor] | None = None
        self.layers: dict[str, torch.nn.Module] = {}
        self.kept = 1.0

    def needs(self) -> set[str]:
        return {"activations"}

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        self.bases = artifacts.activations

    @torch.no_grad()
    def before_training(self, model: torch.nn.Module) -> None:
        """Bind the adapters and project their initial ``A``.

        Raises:
            ValueError: an adapted module has no activation subspace.
        """
        from alignguard.targets import lora_layers

        self.layers = lora_layers(model)
        missing = sorted(set(self.layers) - set(self.bases or {}))
        if missing:
            raise ValueError(f"no activation subspace for adapted module(s) {missing[:3]}")
        full = []
        for name, layer in self.layers.items():
            A = layer.lora_A["default"].weight
            self.bases[name] = self.bases[name].to(A.device)
            A.copy_(project_out(A, self.bases[name]))
            if self.bases[name].shape[1] >= A.shape[1]:
                full.append(name)
        if full:
            log.warning("the alignment inputs span every input direction of %d adapted module(s) "
                        "(e.g. %s): their adapters cannot train; lower alignment.activation_energy",
                        len(full), full[0])

    def rebind(self, model: torch.nn.Module) -> None:
        from alignguard.targets import lora_layers

        self.layers = lora_layers(model)

    @torch.no_grad()
    def on_gradients(self, model: torch.nn.Module) -> dict[str, float]:
        before, after = 0.0, 0.0
        for name, layer in self.layers.items():
            A = layer.lora_A["default"].weight
            local = A.to_local() if hasattr(A, "to_local") else A
            local.copy_(project_out(local, self.bases[name]))
            g = local_grad(A)
            if g is None:
                continue
            before += float(g.pow(2).sum())
            g.copy_(project_out(g, self.bases[name]))
            after += float(g.pow(2).sum())
        self.kept = after / before if before > 0 else 1.0
        return {}

    def log_values(self) -> dict[str, float]:
        return {"nullspace/grad_kept": self.kept}

    @torch.no_grad()
    def after_training(self, model: torch.nn.Module) -> None:
        from alignguard.targets import lora_layers

        for name, layer in lora_layers(model).items():
            A = layer.lora_A["default"].weight
            local = A.to_local() if hasattr(A, "to_local") else A
            local.copy_(project_out(local, self.bases[name]))
