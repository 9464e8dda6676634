"""Pluggable regularizers of the AlignGuard-LoRA objective (arXiv 2508.02079; docs/method.md).

    L = L_task + lam_A * L_A + lam_T * L_T + lam_NC * E_col (+ lam_ewc * L_ewc)

Usage in a training loop::

    layout = GeometryLayout(peft_model, basis)          # once
    terms = build_terms(cfg, layout)                     # once
    geom = layout.geometry()                             # every step (live, differentiable)
    loss = task + sum(t.weight * t.fn(geom) for t in terms if t.weight > 0)

New terms plug in with ``@register("name")`` on a factory ``cfg -> Regularizer``.
"""

from alignguard.regularizers import terms as _builtin_terms  # noqa: F401  (registers built-ins)
from alignguard.regularizers.config import RegularizerConfig
from alignguard.regularizers.geometry import AdapterGeometry, GroupGeometry
from alignguard.regularizers.layout import GeometryLayout
from alignguard.regularizers.registry import (
    REGULARIZERS,
    Regularizer,
    Term,
    build_terms,
    register,
)

__all__ = [
    "REGULARIZERS",
    "AdapterGeometry",
    "GeometryLayout",
    "GroupGeometry",
    "Regularizer",
    "RegularizerConfig",
    "Term",
    "build_terms",
    "register",
]
