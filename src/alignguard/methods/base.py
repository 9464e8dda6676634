"""The method protocol: a defense is a composition of components, each acting where it must.

Published alignment-preserving fine-tuning defenses act at five points of a run; a
:class:`Component` implements any of them (every hook is optional) and the training loop calls
them in this order:

====================  =======================================================================
hook                  when, and an example
====================  =======================================================================
``needs``/``prepare`` once, at the aligned weights ``W0``: which artifacts to estimate (Fisher
                      bases, weight-space directions, the gate's preference direction), then
                      receive them (:func:`alignguard.alignment.prepare.prepare_alignment`).
``examples``          data, before encoding: alignment replay mixes rows in; filters drop some.
``extra_rank``        before the adapter is attached: LoRA ranks the component needs on top
                      of ``lora.r`` (LoX's frozen extrapolation); the loop attaches rank
                      ``r + sum(extra)`` with ``lora_alpha`` scaled so ``alpha / r`` is kept.
``before_training``   weights, once the trainable model exists (adapter attached, not yet
                      wrapped): bind to its parameters; pre-harden weights.
``rebind``            after a wrapper replaced parameter objects (FSDP2's ``fully_shard``).
``row_weights``       data, every micro-batch: per-row weights of the task NLL (the gate).
``penalty``           loss, once per optimizer step: differentiable terms over the weights
                      (AGL's ``L_A``, ``L_T``, ``E_col``; EWC) plus their raw values.
``task_penalty``      loss, every micro-batch, on the task forward's own hidden states (the
                      refusal-direction anchor); the loop averages it over the micro-batches.
``on_gradients``      gradients, after the last backward and before clipping: projection or
                      surgery of the trainable gradients.
``after_training``    weights, before saving: post-hoc projection of the adapter.
====================  =======================================================================

The loop owns the loss and the optimizer; a component returns tensors and numbers and never
touches optimizer or trainer state. Its own state (counters, RNG streams) round-trips through
``state_dict``/``load_state_dict`` so that resumed runs are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import torch

from alignguard.alignment.prepare import AlignmentArtifacts
from alignguard.data import Example

State = dict[str, Any]


class Component:
    """One part of a defense; subclasses override the hooks they need (all default to no-ops).

    Attributes:
        name: registry name (also the prefix of its log keys and checkpoint state).
        trains: which parameters the method trains: ``"lora"`` (the adapter only), ``"all"``,
            or ``None`` (no opinion: the component works with either).
        changes_rows: whether :meth:`examples` changes the training rows (replay adds some);
            ``False`` for components that only read them (the KL anchor's system prompts).
        reads_hidden_states: whether :meth:`task_penalty` needs the task forward's hidden
            states (the loop then asks the model for them).
    """

    name: ClassVar[str] = ""
    trains: ClassVar[str | None] = None
    changes_rows: ClassVar[bool] = False
    reads_hidden_states: bool = False  # a component may set it per instance

    def needs(self) -> set[str]:
        """Alignment artifacts to estimate at ``W0`` (subset of ``prepare.NEEDS``)."""
        return set()

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        """Receive what :func:`~alignguard.alignment.prepare.prepare_alignment` estimated."""

    def examples(self, rows: list[Example], seed: int) -> list[Example]:
        """The training rows (data hook); the default keeps them."""
        return rows

    def extra_rank(self) -> int:
        """Adapter ranks this component uses on top of ``lora.r`` (default 0)."""
        return 0

    def before_training(self, model: torch.nn.Module) -> None:
        """Bind to (or change) the trainable model's weights before the first step."""

    def rebind(self, model: torch.nn.Module) -> None:
        """Re-point parameter references after a wrapper replaced them (FSDP2)."""

    def row_weights(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                    losses: torch.Tensor) -> torch.Tensor | None:
        """``(B,)`` weights of each row's NLL (``losses``, detached); ``None``: all 1."""
        return None

    def penalty(self) -> tuple[torch.Tensor | None, dict[str, float]]:
        """The weighted differentiable penalty (or ``None``) and the raw value of each term."""
        return None, {}

    def task_penalty(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                     hidden_states: Sequence[torch.Tensor] | None
                     ) -> tuple[torch.Tensor | None, dict[str, float]]:
        """A weighted penalty on one task micro-batch, from the task forward's ``hidden_states``
        (``output_hidden_states``, with gradients; given when :attr:`reads_hidden_states`);
        ``model`` is the unwrapped model. Default: none."""
        return None, {}

    def log_values(self) -> dict[str, float]:
        """Values to log at a logging step (no grad)."""
        return {}

    def on_gradients(self, model: torch.nn.Module) -> dict[str, float]:
        """Change the trainable gradients in place; returns values to log."""
        return {}

    def after_training(self, model: torch.nn.Module) -> None:
        """Change the trained weights before they are saved."""

    def state_dict(self) -> State:
        """Resumable state: tensors and JSON-able scalars."""
        return {}

    def load_state_dict(self, state: State) -> None:
        """Restore :meth:`state_dict`."""


class Method:
    """A named composition of components: what the training loop runs.

    Attributes:
        name: the preset name.
        components: the components, in the order their hooks run.
    """

    def __init__(self, name: str, components: Sequence[Component]) -> None:
        self.name, self.components = name, list(components)
        trains = {c.trains for c in self.components if c.trains is not None} or {"lora"}
        if len(trains) > 1:
            raise ValueError(f"method {name!r} mixes components that train {sorted(trains)}")
        self.trains = trains.pop()
        if self.weights_rows and self.reads_hidden_states:
            raise ValueError(f"method {name!r} combines row weights (the gate) with a penalty on "
                             "the task forward's hidden states; no loop runs both yet")

    def needs(self) -> set[str]:
        """Union of the components' alignment needs."""
        return set().union(*(c.needs() for c in self.components))

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        for c in self.components:
            c.prepare(artifacts)

    def examples(self, rows: list[Example], seed: int) -> list[Example]:
        for c in self.components:
            rows = c.examples(rows, seed)
        return rows

    def extra_rank(self) -> int:
        """Sum of the components' extra adapter ranks."""
        return sum(c.extra_rank() for c in self.components)

    def before_training(self, model: torch.nn.Module) -> None:
        for c in self.components:
            c.before_training(model)

    def rebind(self, model: torch.nn.Module) -> None:
        for c in self.components:
            c.rebind(model)

    @property
    def reads_hidden_states(self) -> bool:
        """Whether a component's :meth:`Component.task_penalty` needs the hidden states."""
        return any(c.reads_hidden_states for c in self.components)

    def task_penalty(self, model, batch, hidden_states) -> tuple[torch.Tensor | None, dict[str, float]]:
        total, values = None, {}
        for c in self.components:
            p, v = c.task_penalty(model, batch, hidden_states)
            values.update(v)
            if p is not None:
                total = p if total is None else total + p
        return total, values

    @property
    def weights_rows(self) -> bool:
        """Whether a component overrides :meth:`Component.row_weights`."""
        return any(type(c).row_weights is not Component.row_weights for c in self.components)

    def row_weights(self, model, batch, losses) -> torch.Tensor | None:
        weights = None
        for c in self.components:
            w = c.row_weights(model, batch, losses)
            if w is not None:
                weights = w if weights is None else weights * w
        return weights

    def penalty(self) -> tuple[torch.Tensor | None, dict[str, float]]:
        total, values = None, {}
        for c in self.components:
            p, v = c.penalty()
            values.update(v)
            if p is not None:
                total = p if total is None else total + p
        return total, values

    def log_values(self) -> dict[str, float]:
        return {k: v for c in self.components for k, v in c.log_values().items()}

    def on_gradients(self, model: torch.nn.Module) -> dict[str, float]:
        return {k: v for c in self.components for k, v in c.on_gradients(model).items()}

    def after_training(self, model: torch.nn.Module) -> None:
        for c in self.components:
            c.after_training(model)

    def state_dict(self) -> dict[str, State]:
        return {c.name: s for c in self.components if (s := c.state_dict())}

    def load_state_dict(self, state: dict[str, State]) -> None:
        for c in self.components:
            if c.name in state:
                c.load_state_dict(state[c.name])

    def names(self) -> Iterable[str]:
        return (c.name for c in self.components)
