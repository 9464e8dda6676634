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

from alignguard.methods.anchors import KLAnchor
from alignguard.methods.base import Component, Method
from alignguard.methods.components import FullParameters, Gate, Penalties, Replay
from alignguard.methods.lisa import Lisa
from alignguard.methods.surgery import SafeGrad, SafetySubspace
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
        replay_fraction: alignment-replay fraction used when the user left ``replay_fraction``
            at 0 (0: no replay unless asked for).
        lr_scaled: weights among ``defaults`` that follow the learning rate when the preset fills
            them: above ``ANCHOR_LR`` they become ``default * ANCHOR_LR / lr``
            (:func:`resolve_reg`).
    """

    components: tuple[str, ...]
    reg: dict[str, float] = field(default_factory=dict)
    defaults: dict[str, float | bool] = field(default_factory=dict)
    summary: str = ""
    alignment: dict[str, Any] = field(default_factory=dict)
    replay_fraction: float = 0.0
    lr_scaled: tuple[str, ...] = ()


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

# --- published defenses, part A (issue 14): replay, kl-anchor, safegrad, spf, lisa ----------
REPLAY_FRACTION = 0.1  # the replay preset's fraction when the user leaves replay_fraction at 0
KL_LAMBDA = 1.0  # kl-anchor's and safegrad's KL weight when reg.lam_kl is left at 0 (method.md)
PRESETS.update({
    "replay": Preset(("penalties",), dict(_ZERO), replay_fraction=REPLAY_FRACTION,
                     summary="plain LoRA + alignment replay (fraction 0.1 unless set)"),
    "kl-anchor": Preset(("penalties", "kl_anchor"), dict(_ZERO), {"lam_kl": KL_LAMBDA},
                        summary="LoRA + lam_kl KL(aligned || theta) on alignment replies"),
    "safegrad": Preset(("penalties", "safegrad"), dict(_ZERO), {"lam_kl": KL_LAMBDA},
                       summary="SafeGrad (arXiv 2508.07172): task gradient projected off the "
                               "KL alignment gradient when they conflict"),
    "spf": Preset(("penalties", "spf"), dict(_ZERO),
                  summary="SPF (arXiv 2601.10141): conflicting part of the task gradient in a "
                          "low-rank safety-gradient subspace removed"),
    "lisa": Preset(("penalties", "lisa"), dict(_ZERO),
                   summary="Lisa (arXiv 2405.18641): alternating alignment/task phases + "
                           "proximal term"),
})
# --- end of published defenses, part A ------------------------------------------------------

# --- AlignGuard's own default (ours, not the paper's: docs/method.md, "alignguard") ----------
ALIGN_BATCH = 8  # alignment rows per step of kl-anchor, safegrad and lisa when align_batch is 0
ALIGNGUARD_ALIGN_BATCH = 2  # alignguard: a small anchor micro-batch on every step
ALIGNGUARD_KL_CONTEXTS = 8  # anchored also under the task data's 8 most frequent system prompts
ALIGNGUARD_KL_TOKENS = 4  # and on the first 4 tokens of each reply, where refusal is decided
# (16 before: 4 kept as much refusal or more at a smaller task cost; docs/method.md)
ANCHOR_LR = 2e-3  # the learning rate the default's anchor weights were chosen at; above it they
# shrink as ANCHOR_LR / lr (at lr x2 the full weights over-refused on SmolLM2; docs/method.md)
ALIGNGUARD_KL_REFUSAL_TOKENS = 256  # but refusals through their end, their tails averaged apart
# (K = 4 alone let refusals run on as the taught persona on identity-shift; docs/method.md)
_KL_DEFAULTS = {"lam_kl": KL_LAMBDA, "align_batch": ALIGNGUARD_ALIGN_BATCH,
                "kl_contexts": ALIGNGUARD_KL_CONTEXTS, "kl_tokens": ALIGNGUARD_KL_TOKENS,
                "kl_refusal_tokens": ALIGNGUARD_KL_REFUSAL_TOKENS, "kl_split_tail": True}
PRESETS["alignguard"] = Preset(
    ("penalties", "kl_anchor", "refusal_direction"), dict(_ZERO),
    {**_KL_DEFAULTS, "lam_rdir": KL_LAMBDA}, lr_scaled=("lam_kl", "lam_rdir"),
    summary="AlignGuard's default method (ours): a context-matched KL behaviour anchor on the "
            "openings of alignment replies and on whole refusals, 2 rows on every step (also "
            "under the task data's system prompts), plus the refusal-direction anchor on 2 task "
            "rows of each micro-batch (since stop 42); both weights x 2e-3/lr above lr 2e-3")
PRESETS["alignguard-kl"] = Preset(
    ("penalties", "kl_anchor"), dict(_ZERO), dict(_KL_DEFAULTS),
    summary="the default of stops 34-41: alignguard without the refusal-direction anchor")

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

# --- published defenses, part A (issue 14) --------------------------------------------------
COMPONENTS.update({
    "kl_anchor": lambda cfg, reg: KLAnchor(reg.lam_kl, reg.align_batch or ALIGN_BATCH,
                                           cfg.max_length, cfg.seed, every=max(1, reg.kl_every),
                                           contexts=reg.kl_contexts, reply_tokens=reg.kl_tokens,
                                           augment=reg.kl_augment,
                                           refusal_tokens=reg.kl_refusal_tokens,
                                           split_tail=bool(reg.kl_split_tail),
                                           precision=reg.ref_precision or "float32"),
    "safegrad": lambda cfg, reg: SafeGrad(reg.lam_kl, reg.align_batch or ALIGN_BATCH,
                                          cfg.max_length, cfg.seed),
    "spf": lambda cfg, reg: SafetySubspace(reg.spf_rank, reg.spf_examples, reg.spf_refresh,
                                           cfg.max_length, cfg.seed),
    "lisa": lambda cfg, reg: Lisa(reg.lisa_rho, reg.lisa_align_steps, reg.lisa_task_steps,
                                  reg.align_batch or ALIGN_BATCH, cfg.max_length, cfg.seed),
})
# --- end of published defenses, part A ------------------------------------------------------

# --- the refusal-direction anchor (ours, after ProCon, arXiv 2509.06795; docs/method.md) -----
PRESETS["refusal-direction"] = Preset(
    ("penalties", "refusal_direction"), dict(_ZERO), {"lam_rdir": KL_LAMBDA},
    summary="LoRA + hidden states held along the aligned refusal direction (ours, after ProCon)")


def _refusal_direction(cfg: TrainConfig, reg: RegularizerConfig) -> Component | None:
    if not reg.lam_rdir > 0:
        return None
    from alignguard.methods.refusal_direction import RefusalDirection

    return RefusalDirection(reg.lam_rdir, reg.align_batch or ALIGN_BATCH, cfg.max_length, cfg.seed,
                            task=reg.rdir_task, refusals=reg.rdir_refusals,
                            source=reg.rdir_source, cap=reg.rdir_cap,
                            precision=reg.ref_precision or "float32")


COMPONENTS["refusal_direction"] = _refusal_direction


def resolve_reg(method: str, reg: RegularizerConfig, lr: float | None = None) -> RegularizerConfig:
    """``reg`` with preset ``method``'s overrides and defaults applied.

    A default named in the preset's ``lr_scaled`` and filled here (the user left it at 0) is
    ``default * min(1, ANCHOR_LR / lr)`` at learning rate ``lr`` (ours): the anchors' pull per
    step grows with the learning rate, and at twice ``ANCHOR_LR`` the full weights made the
    default refuse 5-7 more safe prompts in 100 than the aligned model, where half the weights
    did not (docs/method.md, "Anchor weights that follow the learning rate"). A weight the user
    sets is used as given.
    """
    preset = preset_of(method)
    changes = dict(preset.reg)
    filled = {k: v for k, v in preset.defaults.items() if _unset(getattr(reg, k))}
    if lr is not None and lr > ANCHOR_LR:
        filled.update({k: filled[k] * ANCHOR_LR / lr for k in preset.lr_scaled if k in filled})
    changes.update(filled)
    return dataclasses.replace(reg, **changes)


def _unset(value: Any) -> bool:
    """Whether a regularizer field was left for the preset to fill: ``None``, or a number at 0
    (an explicit ``False`` is a choice, not a gap)."""
    return value is None or (not isinstance(value, bool) and value == 0)


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


def resolve_replay_fraction(method: str, fraction: float) -> float:
    """The replay fraction a run uses: ``fraction``, or the preset's default when it is 0."""
    return fraction if fraction > 0 else preset_of(method).replay_fraction


def build_method(cfg: TrainConfig) -> Method:
    """The :class:`Method` a config asks for: its preset's components (those active at the
    resolved weights), plus alignment replay when the resolved replay fraction is > 0
    (:func:`resolve_replay_fraction`)."""
    reg = resolve_reg(cfg.method, cfg.reg, cfg.lr)
    parts = [COMPONENTS[name](cfg, reg) for name in preset_of(cfg.method).components]
    fraction = resolve_replay_fraction(cfg.method, cfg.replay_fraction)
    if fraction > 0:
        parts.append(Replay(fraction, cfg.replay_data or cfg.alignment.data_or(cfg.model)))
    return Method(cfg.method, [p for p in parts if p is not None])
