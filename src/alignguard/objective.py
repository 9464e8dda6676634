"""The AlignGuard-LoRA objective as the training loop sees it.

    L = L_task + lam_A * L_A + lam_T * L_T + lam_NC * E_col (+ lam_ewc * L_ewc)

(Das et al., arXiv 2508.02079; method.md section 3.) :class:`Objective` binds the registered
regularizer terms to one model and alignment basis. The training loop asks it for the weighted
penalty (differentiable, every step) and for every term's value (no grad, at logging steps,
including terms whose weight is 0). It never touches optimizer or trainer state.
"""

from __future__ import annotations

import math

import torch

from alignguard.basis import AlignmentBasis
from alignguard.regularizers import GeometryLayout, RegularizerConfig, build_terms


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the term."""


class Objective:
    """Weighted regularizer terms bound to one PEFT model and (optionally) its alignment basis."""

    def __init__(self, cfg: RegularizerConfig, model: torch.nn.Module,
                 basis: AlignmentBasis | None) -> None:
        self.basis = basis
        self.layout = GeometryLayout(model, basis)
        self.terms = build_terms(cfg, self.layout)

    @property
    def active(self) -> bool:
        """Whether any term carries a non-zero weight."""
        return any(t.weight > 0 for t in self.terms)

    def penalty(self) -> tuple[torch.Tensor | None, dict[str, float]]:
        """``sum_t weight_t * term_t`` over weighted terms (with grad) and their raw values."""
        weighted = [t for t in self.terms if t.weight > 0]
        if not weighted:
            return None, {}
        geom = self.layout.geometry()
        total, values = None, {}
        for term in weighted:
            value = term.fn(geom)
            values[term.name] = float(value.detach())
            contrib = term.weight * value
            total = contrib if total is None else total + contrib
        return total, values

    @torch.no_grad()
    def all_values(self) -> dict[str, float]:
        """Every term's current value, weighted or not (terms needing a basis skipped without one)."""
        geom = self.layout.geometry()
        values = {}
        for term in self.terms:
            if term.needs_basis and self.basis is None:
                continue
            values[term.name] = float(term.fn(geom))
        return values

    def weights(self) -> dict[str, float]:
        return {t.name: t.weight for t in self.terms}


def check_finite(task_loss: float, reg_values: dict[str, float], step: int) -> None:
    """Raise :class:`NonFiniteLossError` naming the first non-finite term."""
    for name, value in {"task": task_loss, **reg_values}.items():
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"the {name!r} loss term became {value} at step {step}; training stopped and the "
                "last good checkpoint was kept. Lower the learning rate or that term's weight, "
                "or check the data for empty/garbled rows."
            )
