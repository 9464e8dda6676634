"""The components of today's presets: AGL's penalties, the alignment gate, replay, full FT.

Each is one :class:`~alignguard.methods.base.Component` registered by name in
:mod:`alignguard.methods.registry`; see docs/method.md for the formulas and decisions.
"""

from __future__ import annotations

import torch

from alignguard.alignment.prepare import AlignmentArtifacts
from alignguard.data import Example, fingerprint_examples, mix_replay
from alignguard.methods.base import Component, State
from alignguard.methods.objective import Objective
from alignguard.regularizers import RegularizerConfig

# weights whose terms are defined on the alignment basis (L_T needs the dW_A / dW_T split too)
_BASIS_WEIGHTS = ("lam_A", "lam_D", "lam_T", "lam_NC", "lam_ewc")


class Penalties(Component):
    """The regularizer terms over the LoRA factors (Das et al., arXiv 2508.02079, section 3)::

        L = L_task + lam_A L_A + lam_D L_D + lam_T L_T + lam_NC E_col (+ lam_ewc L_ewc)

    ``L_A = ||F_A^{1/2} dW_A||^2`` on the alignment-critical part of ``dW = s B A``,
    ``L_T = ||dW_T||^2`` on the rest, ``E_col`` the collision energy; all computed from the
    factors (:mod:`alignguard.regularizers`). Every term is logged at logging steps, weighted
    or not (``reg/<term>``, ``weighted/<term>``).
    """

    name = "penalties"

    def __init__(self, reg: RegularizerConfig) -> None:
        self.reg = reg
        self.basis = None
        self.objective: Objective | None = None

    def needs(self) -> set[str]:
        needs = set()
        if any(getattr(self.reg, w) > 0 for w in _BASIS_WEIGHTS) or any(
                float(v) > 0 for v in self.reg.weights.values()):
            needs.add("fisher")
        if self.reg.lam_D > 0:
            needs.add("directions")
        return needs

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        self.basis = artifacts.basis

    def before_training(self, model: torch.nn.Module) -> None:
        from alignguard.targets import lora_layers

        if self.basis is not None and lora_layers(model):
            self.basis.check_model(model, lora_layers(model))
        self.objective = Objective(self.reg, model, self.basis)

    def rebind(self, model: torch.nn.Module) -> None:
        self.objective.layout.rebind(model)

    def penalty(self) -> tuple[torch.Tensor | None, dict[str, float]]:
        return self.objective.penalty()

    def log_values(self) -> dict[str, float]:
        weights = self.objective.weights()
        row = {}
        for name, value in self.objective.all_values().items():
            row[f"reg/{name}"] = value
            row[f"weighted/{name}"] = weights.get(name, 0.0) * value
        return row

    def state_dict(self) -> State:
        return {"generator": self.objective.layout.generator.get_state()}

    def load_state_dict(self, state: State) -> None:
        self.objective.layout.generator.set_state(state["generator"])


class Gate(Component):
    """The alignment gate (ours; docs/method.md): rows whose gradient step points toward the
    rejected replies get weight 0.

    ``score(x) = <grad L_x, D> / s_ref`` along the preference direction
    ``D = mean(grad NLL(rejected) - grad NLL(chosen))`` at ``W0``; weight ``1[score < tau]``
    (:mod:`alignguard.alignment.gate`). One extra forward pass per micro-batch.
    """

    name = "gate"

    def __init__(self, tau: float) -> None:
        if not tau > 0:
            raise ValueError(f"the gate threshold must be > 0, got {tau}")
        self.tau = tau
        self.gate = None

    def needs(self) -> set[str]:
        return {"preference"}

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        self.gate = artifacts.gate
        self.gate.tau = self.tau

    def row_weights(self, model, batch, losses) -> torch.Tensor:
        return self.gate.weights(model, batch, losses.detach())

    def log_values(self) -> dict[str, float]:
        return {"gate/fraction": self.gate.fraction}

    def state_dict(self) -> State:
        return {"seen": self.gate.seen, "gated": self.gate.gated}

    def load_state_dict(self, state: State) -> None:
        self.gate.seen, self.gate.gated = int(state["seen"]), int(state["gated"])


class Replay(Component):
    """Alignment replay: alignment rows make up ``fraction`` of the training mix.

    With ``n`` task rows the mix holds ``round(n f / (1 - f))`` replay rows sampled with
    replacement, shuffled in deterministically (:func:`alignguard.data.mix_replay`).
    """

    name = "replay"
    changes_rows = True

    def __init__(self, fraction: float, data: str) -> None:
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"replay fraction must be in (0, 1), got {fraction}")
        self.fraction, self.data = fraction, data
        self.fingerprint: str | None = None
        self._rows: list[Example] | None = None

    def prepare(self, artifacts: AlignmentArtifacts) -> None:
        if artifacts.spec == self.data and artifacts.examples:
            self._rows = artifacts.examples  # the alignment set, already loaded once

    def examples(self, rows: list[Example], seed: int) -> list[Example]:
        from alignguard.dataspec import load_dataset_spec

        replay = self._rows if self._rows is not None else load_dataset_spec(self.data)
        self.fingerprint = fingerprint_examples(replay)
        return mix_replay(rows, replay, self.fraction, seed)


class FullParameters(Component):
    """Full fine-tuning baseline: every weight trains, no adapter (saved as a whole model)."""

    name = "full_parameters"
    trains = "all"
