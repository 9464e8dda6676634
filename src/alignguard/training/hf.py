"""Hugging Face ``Trainer`` integration (and so TRL's ``SFTTrainer`` and accelerate).

:class:`AlignGuardMixin` runs a method's components inside any ``Trainer`` subclass::

    method = prepare_method(TrainConfig(method="agl", alignment=AlignmentSettings(data=...)),
                            base_model, tokenizer)            # at W0, before the adapter
    trainer = AlignGuardTrainer(model=attach_lora(base_model, LoraSettings()), args=args,
                                train_dataset=ds, alignguard_method=method)
    SFT = alignguard_trainer_class(trl.SFTTrainer)            # the same for TRL

The components bind to the model on the first training ``compute_loss``, i.e. after
accelerate's ``prepare`` (so FSDP2 parameters are the live ones). Hooks:

* row weights (the alignment gate): the mixin computes the causal-LM loss itself, each row's
  NLL weighted, normalised like the Trainer's (by ``num_items_in_batch`` when given);
* penalty: added once per optimizer step, on the micro-batch where accelerate syncs gradients,
  scaled so that it enters the step exactly once whatever the Trainer divides by;
* gradients: after the last micro-batch's backward, before clipping (``training_step``);
* weights: ``before_training`` at binding, ``after_training`` when ``train()`` returns.

A method with a data hook that changes the rows (alignment replay) is refused: mix the replay
rows into the dataset instead (:func:`alignguard.data.mix_replay`). Components that only read the
task rows (the default's context-matched KL anchor, the refusal-direction anchor) get them from
``prepare_method(..., rows=task_examples)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import Trainer

from alignguard.alignment.basis import AlignmentBasis
from alignguard.alignment.prepare import AlignmentArtifacts, prepare_alignment
from alignguard.data import IGNORE_INDEX, Example
from alignguard.methods.base import Method
from alignguard.methods.components import Penalties
from alignguard.methods.objective import check_finite
from alignguard.regularizers import RegularizerConfig


def prepare_method(cfg, model: torch.nn.Module, tokenizer,
                   rows: Sequence[Example] | None = None) -> Method:
    """The method of ``cfg`` (a TrainConfig) prepared at ``model``'s current (aligned) weights.

    ``rows``: the task rows the Trainer will train on (as :class:`~alignguard.data.Example`),
    for the components that read them: the KL anchor's context matching (the task data's system
    prompts) and the refusal-direction anchor (it holds the task rows' prompts). Set ``cfg.lr``
    to the Trainer's learning rate: the default method's anchor weights follow it.

    A method whose components ask for extra adapter ranks (``method.extra_rank() > 0``: LoX)
    needs the adapter attached with them: ``trainable_model(cfg, model, method.trains,
    method.extra_rank())`` from :mod:`alignguard.training.loop` does that.
    """
    from alignguard.methods.registry import build_method

    method = build_method(cfg)
    method.prepare(prepare_alignment(cfg.resolved_alignment(), model, tokenizer,
                                     needs=sorted(method.needs()),
                                     target_modules=cfg.lora.target_modules, model_name=cfg.model,
                                     seed=cfg.seed))
    if rows is not None:
        method.examples(list(rows), cfg.seed)  # the readers keep what they need; rows unchanged
    return method


def _legacy_method(basis: AlignmentBasis | None, reg: RegularizerConfig | None) -> Method:
    reg = reg or RegularizerConfig(gate=0.0)
    if reg.gate > 0:
        raise ValueError(
            "the alignment gate (reg.gate > 0) needs its preference direction, estimated at the "
            "aligned weights: build the method with alignguard.training.hf.prepare_method(cfg, "
            "base_model, tokenizer) and pass alignguard_method=..., or set gate=0 in the "
            "RegularizerConfig to train with the penalties only")
    method = Method("custom", [Penalties(reg)])
    method.prepare(AlignmentArtifacts(basis=basis))
    return method


class AlignGuardMixin:
    """Runs an AlignGuard method's components inside a ``transformers.Trainer`` subclass."""

    def __init__(self, *args: Any, alignguard_method: Method | None = None,
                 alignguard_basis: AlignmentBasis | None = None,
                 alignguard_config: RegularizerConfig | None = None, **kwargs: Any) -> None:
        method = alignguard_method or _legacy_method(alignguard_basis, alignguard_config)
        changes_rows = [c.name for c in method.components if c.changes_rows]
        if changes_rows:
            raise ValueError(f"component(s) {changes_rows} change the training rows, which the "
                             "Trainer owns; mix replay rows into train_dataset "
                             "(alignguard.data.mix_replay) and drop replay_fraction")
        super().__init__(*args, **kwargs)
        self.alignguard = method
        self._ag_bound = False

    def _ag_bind(self) -> None:
        if not self._ag_bound:
            self.alignguard.before_training(self.accelerator.unwrap_model(self.model))
            self._ag_bound = True

    def _ga_factor(self, num_items_in_batch: Any) -> float:
        scaled = getattr(self, "loss_is_scaled_for_ga", None)
        if scaled is None:
            scaled = (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or (
                self.compute_loss_func is not None)
        # the Trainer divides an unscaled loss by the accumulation count: undo it for the penalty
        return 1.0 if scaled else self._ga_steps()

    def _ga_steps(self) -> float:
        return float(getattr(self, "current_gradient_accumulation_steps", 1))

    def _ag_row_weighted_loss(self, model, inputs, num_items_in_batch):
        from alignguard.alignment.gate import row_losses

        batch = {k: inputs[k] for k in ("input_ids", "attention_mask", "labels")}
        losses = row_losses(model, batch)
        weights = self.alignguard.row_weights(self.accelerator.unwrap_model(model), batch, losses.detach())
        total = losses.sum() if weights is None else (weights * losses).sum()
        n = num_items_in_batch if num_items_in_batch is not None else (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
        return total / n

    def compute_loss(self, model, inputs, return_outputs: bool = False,
                     num_items_in_batch: Any = None):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        self._ag_bind()
        outputs = None
        if self.alignguard.weights_rows and not return_outputs:
            loss = self._ag_row_weighted_loss(model, inputs, num_items_in_batch)
        elif self.alignguard.reads_hidden_states:
            loss, outputs = super().compute_loss(model, {**inputs, "output_hidden_states": True},
                                                 return_outputs=True,
                                                 num_items_in_batch=num_items_in_batch)
            extra, _ = self.alignguard.task_penalty(self.accelerator.unwrap_model(model), inputs,
                                                    outputs.hidden_states)
            if extra is not None:  # once per micro-batch: the mean over the accumulated steps
                loss = loss + extra * self._ga_factor(num_items_in_batch) / self._ga_steps()
        else:
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
            loss, outputs = result if return_outputs else (result, None)
        if self.accelerator.sync_gradients:  # the last micro-batch of this optimizer step
            penalty, values = self.alignguard.penalty()
            check_finite(float(loss.detach()), values, int(self.state.global_step))
            if penalty is not None:
                loss = loss + penalty * self._ga_factor(num_items_in_batch)
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, *args: Any, **kwargs: Any):
        loss = super().training_step(model, inputs, *args, **kwargs)
        if self.accelerator.sync_gradients:
            self.alignguard.on_gradients(self.accelerator.unwrap_model(model))
        return loss

    def train(self, *args: Any, **kwargs: Any):
        output = super().train(*args, **kwargs)
        self.alignguard.after_training(self.accelerator.unwrap_model(self.model))
        return output

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and self.model.training and self._ag_bound:
            for name, value in self.alignguard.log_values().items():
                logs[f"alignguard/{name}"] = value
        super().log(logs, *args, **kwargs)


def alignguard_trainer_class(base: type) -> type:
    """A subclass of ``base`` (a ``Trainer`` or ``SFTTrainer``) running an AlignGuard method."""
    return type(f"AlignGuard{base.__name__}", (AlignGuardMixin, base), {})


class AlignGuardTrainer(AlignGuardMixin, Trainer):
    """``transformers.Trainer`` running an AlignGuard method (penalties, gate, hooks)."""


def penalty_only_grads(trainer: AlignGuardMixin) -> dict[str, torch.Tensor]:
    """Gradients of the weighted penalty alone (diagnostics and tests)."""
    trainer._ag_bind()
    penalty, _ = trainer.alignguard.penalty()
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(penalty, params, allow_unused=True) if penalty is not None else []
    names = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    return {n: g for n, g in zip(names, grads, strict=False) if g is not None}


__all__ = ["AlignGuardMixin", "AlignGuardTrainer", "alignguard_trainer_class",
           "penalty_only_grads", "prepare_method"]

