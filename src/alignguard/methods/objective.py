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

from alignguard.alignment.basis import AlignmentBasis
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


def check_finite(task_loss: float, values: dict[str, float], step: int,
                 grad_norm: float | None = None) -> None:
    """Raise :class:`NonFiniteLossError` naming the first non-finite loss term (or the gradient).

    Called before the optimizer step, so the weights (and every checkpoint) stay finite.
    """
    for name, value in {"task": task_loss, **values}.items():
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"the {name!r} loss term became {value} at step {step}; {_RESTART}")
    if grad_norm is not None and not math.isfinite(grad_norm):
        raise NonFiniteLossError(f"the gradient became non-finite (norm {grad_norm}) at step "
                                 f"{step} while every loss term was finite; {_RESTART}")


def check_finite_weights(model: torch.nn.Module, step: int) -> None:
    """Raise :class:`NonFiniteLossError` when a trainable weight is NaN or infinite (an update
    that overflowed, e.g. at a huge learning rate); checked before every checkpoint."""
    bad = [n for n, p in model.named_parameters() if p.requires_grad and not _finite(p)]
    if bad:
        raise NonFiniteLossError(f"{len(bad)} trainable weight tensor(s) became non-finite after "
                                 f"the optimizer step at step {step} (e.g. {bad[0]}); {_RESTART}")


def _finite(p: torch.Tensor) -> bool:
    local = p.to_local() if hasattr(p, "to_local") else p  # an FSDP2 shard: this rank's part
    return bool(torch.isfinite(local).all())


_RESTART = ("training stopped and no checkpoint with non-finite values was written. Restart with "
            "a lower learning rate (--lr) or that term's weight into a new --output-dir (or add "
            "--overwrite to replace this run), and check the data for empty or garbled rows.")
