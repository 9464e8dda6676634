"""Safe LoRA (Hsu et al., "Safe LoRA: the Silver Lining of Reducing Safety Risks when
Fine-tuning Large Language Models", NeurIPS 2024, arXiv 2405.16833): a post-hoc projection.

Per adapted layer ``l``, with ``V_l = W_aligned - W_base`` and ``C_l = V_l V_l^T / ||V_l||_F``
(:mod:`alignguard.methods.weightspace`, factored and SVD-truncated), the trained update
``dW_l = s B_l A_l`` is replaced by ``C_l dW_l`` (i.e. ``B_l <- C_l B_l``) on the layers where::

    cos(C_l dW_l, dW_l) = <C_l dW_l, dW_l>_F / (||C_l dW_l||_F ||dW_l||_F) < tau

(or, with ``safe_layers = n > 0``, on the ``n`` layers of lowest similarity). Nothing changes
during training; the adapter saved is still a stock PEFT LoRA adapter of the same rank.
"""

from __future__ import annotations

import logging

import torch

from alignguard.methods.weightspace import DeltaAnchored, cosine_CdW

log = logging.getLogger(__name__)


def select_layers(similarity: dict[str, float], tau: float, n_lowest: int) -> list[str]:
    """Layers to project: ``similarity < tau``, or the ``n_lowest`` lowest (ties by name)."""
    if n_lowest > 0:
        return sorted(similarity, key=lambda n: (similarity[n], n))[:n_lowest]
    return sorted(n for n, v in similarity.items() if v < tau)


class SafeLoRA(DeltaAnchored):
    """Safe LoRA's post-hoc projection ``B <- C B`` on the layers that drifted from ``C``.

    Logs (once, after training) ``safelora/projected`` (layers projected),
    ``safelora/layers`` and ``safelora/min_similarity``.
    """

    name = "safelora"

    def __init__(self, tau: float, n_lowest: int = 0, rank: int = 64, form: str = "paper") -> None:
        super().__init__(rank, form)
        self.tau, self.n_lowest = tau, n_lowest
        self.summary: dict[str, float] = {}

    @torch.no_grad()
    def after_training(self, model: torch.nn.Module) -> None:
        from alignguard.targets import lora_layers

        layers = lora_layers(model)
        sim = {n: cosine_CdW(self.C[n], m.lora_A["default"].weight, m.lora_B["default"].weight)
               for n, m in layers.items()}
        chosen = select_layers(sim, self.tau, self.n_lowest)
        for name in chosen:
            B = layers[name].lora_B["default"].weight
            B.copy_(self.C[name].apply(B.float()).to(B.dtype))
        self.summary = {"safelora/projected": float(len(chosen)),
                        "safelora/layers": float(len(sim)),
                        "safelora/min_similarity": min(sim.values(), default=1.0)}
        log.info("Safe LoRA projected %d of %d layers (tau %.3g, lowest %d; min similarity %.3f)",
                 len(chosen), len(sim), self.tau, self.n_lowest, self.summary["safelora/min_similarity"])

    def log_values(self) -> dict[str, float]:
        return dict(self.summary)
