"""Registered components and the method presets composed from them.

Adding a defense: one module with a :class:`~alignguard.methods.base.Component`, one entry in
:data:`COMPONENTS` (how to build it from a :class:`~alignguard.training.config.TrainConfig`),
a preset in :data:`PRESETS`, and one row in ``tests/test_method_contract.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alignguard.methods.base import Component, Method
from alignguard.methods.components import FullParameters, Gate, Penalties, Replay
from alignguard.regularizers import RegularizerConfig

# a TrainConfig (alignguard.training.config); typed loosely so that methods/ never imports training/
TrainConfig = Any

_ZERO = {"lam_A": 0.0, "lam_D": 0.0, "lam_T": 0.0, "lam_NC": 0.0, "lam_ewc": 0.0, "gate": 0.0}
EWC_LAMBDA = 1.0  # the ewc preset's weight when the user leaves reg.lam_ewc at 0


@dataclass(frozen=True)
class Preset:
    """A named composition.

    Attributes:
        components: component names, in hook order (see :data:`COMPONENTS`).
        reg: regularizer overrides the preset forces (the user's value is replaced).
        defaults: regularizer values used when the user left that weight at 0.
        summary: one line for ``--help`` and the docs.
    """

    components: tuple[str, ...]
    reg: dict[str, float] = field(default_factory=dict)
    defaults: dict[str, float] = field(default_factory=dict)
    summary: str = ""


PRESETS: dict[str, Preset] = {
    "lora": Preset(("penalties",), dict(_ZERO), summary="plain LoRA (terms logged, none weighted)"),
    "agl": Preset(("penalties", "gate"), summary="AlignGuard-LoRA terms + the alignment gate"),
    "agl-no-gate": Preset(("penalties",), {"gate": 0.0},
                          summary="the paper's objective (L_A, L_T, E_col), no gate"),
    "agl-no-fisher": Preset(("penalties", "gate"), {"lam_A": 0.0, "lam_D": 0.0}),
    "agl-no-directions": Preset(("penalties", "gate"), {"lam_D": 0.0}),
    "agl-no-task": Preset(("penalties", "gate"), {"lam_T": 0.0}),
    "agl-no-collision": Preset(("penalties", "gate"), {"lam_NC": 0.0}),
    "agl-riem-only": Preset(("penalties", "gate"), {"alpha": 1.0}),
    "agl-geo-only": Preset(("penalties", "gate"), {"alpha": 0.0}),
    "agl-fisher-only": Preset(("penalties", "gate"), {"lam_T": 0.0, "lam_NC": 0.0}),
    "ewc": Preset(("penalties",), {k: v for k, v in _ZERO.items() if k != "lam_ewc"},
                  {"lam_ewc": EWC_LAMBDA}, summary="diagonal EWC on the K-FAC diagonal"),
    "full-ft": Preset(("full_parameters",), dict(_ZERO), summary="full fine-tuning baseline"),
}

COMPONENTS: dict[str, Callable[[TrainConfig, RegularizerConfig], Component | None]] = {
    "penalties": lambda cfg, reg: Penalties(reg),
    "gate": lambda cfg, reg: Gate(reg.gate) if reg.gate > 0 else None,
    "full_parameters": lambda cfg, reg: FullParameters(),
}


def resolve_reg(method: str, reg: RegularizerConfig) -> RegularizerConfig:
    """``reg`` with preset ``method``'s overrides and defaults applied."""
    preset = preset_of(method)
    changes = dict(preset.reg)
    changes.update({k: v for k, v in preset.defaults.items() if getattr(reg, k) == 0})
    return dataclasses.replace(reg, **changes)


def preset_of(method: str) -> Preset:
    """The preset named ``method``.

    Raises:
        ValueError: unknown name (the message lists the presets).
    """
    if method not in PRESETS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(PRESETS)}")
    return PRESETS[method]


def build_method(cfg: TrainConfig) -> Method:
    """The :class:`Method` a config asks for: its preset's components (those active at the
    resolved weights), plus alignment replay when ``cfg.replay_fraction > 0``."""
    reg = resolve_reg(cfg.method, cfg.reg)
    parts = [COMPONENTS[name](cfg, reg) for name in preset_of(cfg.method).components]
    if cfg.replay_fraction > 0:
        parts.append(Replay(cfg.replay_fraction, cfg.replay_data or cfg.alignment.data_or(cfg.model)))
    return Method(cfg.method, [p for p in parts if p is not None])
