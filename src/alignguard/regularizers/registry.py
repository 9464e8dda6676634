"""The regularizer protocol, the registry of terms and the weighted term list.

A regularizer is any object with a ``name`` and ``__call__(geom) -> scalar tensor`` that reads an
:class:`~alignguard.regularizers.geometry.AdapterGeometry` and never mutates anything. Terms are
registered by name with :func:`register`; :func:`build_terms` turns a
:class:`~alignguard.regularizers.config.RegularizerConfig` into one :class:`Term` per registered
name, weights from the config (0 for diagnostic terms), so the training loop can add the weighted
ones to the loss and log all of them (AlignGuard-LoRA, arXiv 2508.02079, section "objective").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from alignguard.regularizers.config import RegularizerConfig

if TYPE_CHECKING:
    from alignguard.regularizers.geometry import AdapterGeometry
    from alignguard.regularizers.layout import GeometryLayout


@runtime_checkable
class Regularizer(Protocol):
    """One term of the objective: a scalar function of the adapter geometry.

    Attributes:
        name: the registry name (also the logging key).
    """

    name: str

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        """The term's value (a 0-dim tensor, differentiable w.r.t. the LoRA factors)."""
        ...


RegularizerFactory = Callable[[RegularizerConfig], Regularizer]
REGULARIZERS: dict[str, RegularizerFactory] = {}

# built-in term name -> RegularizerConfig field holding its weight (others: diagnostic, weight 0)
WEIGHT_FIELDS = {"fisher": "lam_A", "directions": "lam_D", "task": "lam_T", "collision": "lam_NC",
                 "ewc": "lam_ewc"}


def register(name: str) -> Callable[[RegularizerFactory], RegularizerFactory]:
    """Decorator adding a factory ``cfg -> Regularizer`` (a class or function) under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def deco(factory: RegularizerFactory) -> RegularizerFactory:
        if name in REGULARIZERS:
            raise ValueError(f"a regularizer named {name!r} is already registered")
        REGULARIZERS[name] = factory
        return factory

    return deco


@dataclass(frozen=True)
class Term:
    """One registered term bound to its weight.

    Attributes:
        name: registry name.
        weight: weight in the loss (0: logged only).
        fn: the regularizer instance.
        needs_basis: whether the term is meaningful only with an alignment basis.
    """

    name: str
    weight: float
    fn: Regularizer
    needs_basis: bool = True


def build_terms(cfg: RegularizerConfig, layout: GeometryLayout | None = None) -> list[Term]:
    """Every registered term, in registration order, weighted from ``cfg``.

    Args:
        cfg: weights and options.
        layout: if given, checked against the weights: a weighted term that needs an alignment
            basis on a layout without one is an error (instead of a silent 0).

    Raises:
        ValueError: ``cfg.weights`` names an unknown term or a built-in one, or a weighted term
            needs a basis the layout does not have.
    """
    unknown = sorted(set(cfg.weights) - set(REGULARIZERS))
    builtin = sorted(set(cfg.weights) & set(WEIGHT_FIELDS))
    if unknown or builtin:
        raise ValueError(
            f"RegularizerConfig.weights: unknown term(s) {unknown} / built-in term(s) {builtin} "
            f"(weight those with {sorted(WEIGHT_FIELDS.values())}); registered: {sorted(REGULARIZERS)}"
        )
    terms = []
    for name, factory in REGULARIZERS.items():
        field_name = WEIGHT_FIELDS.get(name)
        weight = float(getattr(cfg, field_name) if field_name else cfg.weights.get(name, 0.0))
        fn = factory(cfg)
        terms.append(Term(name, weight, fn, bool(getattr(fn, "needs_basis", True))))
    if layout is not None and layout.basis is None and layout.n_modules:
        missing = [t.name for t in terms if t.weight > 0 and t.needs_basis]
        if missing:
            raise ValueError(
                f"term(s) {missing} have non-zero weight but no alignment basis was given; pass a "
                "Fisher basis (`alignguard fisher`, then --fisher) or set their weights to 0"
            )
    return terms
