"""AsFT (arXiv 2506.08473, "AsFT: Anchoring Safety During LLM Fine-Tuning Within Narrow Safety
Basin"): keep the update inside the alignment direction's "narrow safety basin"::

    L = L_task + lam * sum_l ||(I - C_l) dW_l||_F^2,   dW_l = s B_l A_l,
    C_l = V_l V_l^T / ||V_l||_F,   V_l = W_aligned - W_base

(the same ``C`` as Safe LoRA). The penalty is computed from the factors
(:func:`alignguard.methods.weightspace.perp_energy`): ``r x r`` and ``k x r`` products only.
"""

from __future__ import annotations

import torch

from alignguard.methods.weightspace import DeltaAnchored, perp_energy
from alignguard.parallel import whole


class AnchorPenalty(DeltaAnchored):
    """AsFT's ``lam * sum_l ||(I - C_l) dW_l||_F^2``, logged as ``reg/asft_perp``."""

    name = "asft"

    def __init__(self, lam: float, rank: int = 64, form: str = "paper") -> None:
        if not lam >= 0:
            raise ValueError(f"the AsFT weight must be >= 0, got {lam}")
        super().__init__(rank, form)
        self.lam = lam
        self.layers: dict[str, torch.nn.Module] = {}
        self.last = 0.0

    def before_training(self, model: torch.nn.Module) -> None:
        from alignguard.targets import lora_layers

        super().before_training(model)
        self.layers = lora_layers(model)

    def rebind(self, model: torch.nn.Module) -> None:
        from alignguard.targets import lora_layers

        self.layers = lora_layers(model)

    def energy(self) -> torch.Tensor:
        """``sum_l ||(I - C_l) dW_l||_F^2`` (differentiable)."""
        total = None
        for name, layer in self.layers.items():
            A, B = whole(layer.lora_A["default"].weight), whole(layer.lora_B["default"].weight)
            e = perp_energy(self.C[name], A.float(), B.float(), float(layer.scaling["default"]))
            total = e if total is None else total + e
        return total if total is not None else torch.zeros(())

    def penalty(self) -> tuple[torch.Tensor | None, dict[str, float]]:
        with torch.set_grad_enabled(self.lam > 0 and torch.is_grad_enabled()):
            value = self.energy()
        self.last = float(value.detach())
        if self.lam == 0:
            return None, {}
        return self.lam * value, {"asft_perp": self.last}

    def log_values(self) -> dict[str, float]:
        return {"reg/asft_perp": self.last, "weighted/asft_perp": self.lam * self.last}
