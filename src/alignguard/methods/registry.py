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
        alignment: ``AlignmentSettings`` overrides the preset forces (e.g. the estimator), applied
            by :func:`resolve_alignment` and shown as ``resolved_alignment`` in the config.
    """

    components: tuple[str, ...]
    reg: dict[str, float] = field(default_factory=dict)
    defaults: dict[str, float] = field(default_factory=dict)
    summary: str = ""
    alignment: dict[str, Any] = field(default_factory=dict)


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

# --- defenses-b: Safe LoRA, AsFT, LoX, null-space LoRA, AGL as published (docs/method.md) ---
PRESETS.update({
    "safelora": Preset(("penalties", "safelora"), dict(_ZERO),
                       summary="Safe LoRA: post-hoc B <- C B where cos(C dW, dW) < tau"),
    "asft": Preset(("penalties", "asft"), dict(_ZERO),
                   summary="AsFT: task + lam_perp ||(I - C) dW||^2"),
    "lox": Preset(("penalties", "lox"), dict(_ZERO),
                  summary="LoX: W_aligned + alpha SVD_k(W_aligned - W_base) as frozen adapter ranks"),
    "nullspace": Preset(("penalties", "nullspace"), dict(_ZERO),
                        summary="A kept orthogonal to the alignment prompts' input subspace"),
    "agl-paper": Preset(("penalties",), {"gate": 0.0},
                        alignment={"estimator": "empirical", "tokens": "all"},
                        summary="AGL as published: empirical all-token Fisher, no gate"),
})


def _weight_space(kind: str):
    def build(cfg: TrainConfig, reg: RegularizerConfig) -> Component:
        if cfg.distributed == "fsdp2":
            raise ValueError(f"method {cfg.method!r} ({kind}) does not run under FSDP2 yet; use "
                             "distributed: ddp")
        if kind == "lox" and cfg.weight_decay > 0:
            raise ValueError("lox keeps frozen adapter ranks that AdamW weight decay would shrink; "
                             "set weight_decay: 0")
        from alignguard.methods import lox, safelora

        if kind == "lox":
            return lox.LowRankExtrapolation(reg.lox_rank, reg.lox_alpha)
        return safelora.SafeLoRA(reg.safe_tau, reg.safe_layers, reg.safe_rank, reg.safe_form)
    return build


def _asft(cfg: TrainConfig, reg: RegularizerConfig) -> Component:
    from alignguard.methods.asft import AnchorPenalty

    return AnchorPenalty(reg.lam_perp, reg.safe_rank, reg.safe_form)


def _nullspace(cfg: TrainConfig, reg: RegularizerConfig) -> Component:
    from alignguard.methods.nullspace import NullSpace

    return NullSpace()


COMPONENTS.update({"safelora": _weight_space("safelora"), "asft": _asft,
                   "lox": _weight_space("lox"), "nullspace": _nullspace})
# --- end defenses-b ---


def resolve_reg(method: str, reg: RegularizerConfig) -> RegularizerConfig:
    """``reg`` with preset ``method``'s overrides and defaults applied."""
    preset = preset_of(method)
    changes = dict(preset.reg)
    changes.update({k: v for k, v in preset.defaults.items() if getattr(reg, k) == 0})
    return dataclasses.replace(reg, **changes)


def resolve_alignment(method: str, settings):
    """``settings`` (``AlignmentSettings``) with preset ``method``'s alignment overrides."""
    overrides = preset_of(method).alignment
    return dataclasses.replace(settings, **overrides) if overrides else settings


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
