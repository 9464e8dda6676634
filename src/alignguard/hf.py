"""Hugging Face ``Trainer`` integration (and so TRL's ``SFTTrainer`` and accelerate).

:class:`AlignGuardMixin` overrides ``compute_loss`` to add the weighted AlignGuard terms to the
task loss the parent trainer computes, and logs every term through the trainer's own ``log``.
Mix it into any ``Trainer`` subclass::

    trainer = AlignGuardTrainer(model=peft_model, args=args, train_dataset=ds,
                                alignguard_basis=basis, alignguard_config=RegularizerConfig())
    SFT = alignguard_trainer_class(trl.SFTTrainer)   # the same for TRL

Gradient accumulation: the penalty must enter each optimizer step exactly once. Transformers
divides a micro-batch loss by the accumulation count unless the loss was already normalised by
``num_items_in_batch``; the mixin mirrors that rule so that the k micro-batches of one step add
up to ``lam * term`` (the terms depend only on the weights, which do not change within a step).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer

from alignguard.basis import AlignmentBasis
from alignguard.objective import Objective, check_finite
from alignguard.regularizers import RegularizerConfig


class AlignGuardMixin:
    """Adds the AlignGuard regularizer terms to a ``transformers.Trainer`` subclass's loss."""

    def __init__(self, *args: Any, alignguard_basis: AlignmentBasis | None = None,
                 alignguard_config: RegularizerConfig | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model = self.accelerator.unwrap_model(self.model) if hasattr(self, "accelerator") else self.model
        if alignguard_basis is not None:
            from alignguard.targets import lora_layers

            alignguard_basis.check_model(model, lora_layers(model))
        self.alignguard = Objective(alignguard_config or RegularizerConfig(), model, alignguard_basis)
        self._ag_last: dict[str, float] = {}

    def _penalty_divisor(self, num_items_in_batch: Any) -> float:
        scaled = getattr(self, "loss_is_scaled_for_ga", None)
        if scaled is None:
            scaled = (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or (
                self.compute_loss_func is not None)
        # When the trainer will not divide the loss, divide the penalty ourselves.
        return float(getattr(self, "current_gradient_accumulation_steps", 1)) if scaled else 1.0

    def compute_loss(self, model, inputs, return_outputs: bool = False,
                     num_items_in_batch: Any = None):
        result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                      num_items_in_batch=num_items_in_batch)
        loss, outputs = result if return_outputs else (result, None)
        if not model.training:
            return result
        penalty, values = self.alignguard.penalty()
        check_finite(float(loss.detach()), values, int(self.state.global_step))
        if penalty is not None:
            loss = loss + penalty / self._penalty_divisor(num_items_in_batch)
        self._ag_last = values
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and self.model.training:
            for name, value in self.alignguard.all_values().items():
                logs[f"alignguard/{name}"] = value
        super().log(logs, *args, **kwargs)


def alignguard_trainer_class(base: type) -> type:
    """A subclass of ``base`` (a ``Trainer`` or ``SFTTrainer``) with the AlignGuard loss."""
    return type(f"AlignGuard{base.__name__}", (AlignGuardMixin, base), {})


class AlignGuardTrainer(AlignGuardMixin, Trainer):
    """``transformers.Trainer`` with the AlignGuard-LoRA objective added to its loss."""


def penalty_only_grads(trainer: AlignGuardMixin) -> dict[str, torch.Tensor]:
    """Gradients of the weighted penalty alone (diagnostics and tests)."""
    penalty, _ = trainer.alignguard.penalty()
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(penalty, params, allow_unused=True) if penalty is not None else []
    names = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    return {n: g for n, g in zip(names, grads, strict=False) if g is not None}
