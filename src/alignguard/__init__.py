"""AlignGuard: alignment-preserving LoRA fine-tuning.

Implements AlignGuard-LoRA (Das, Borah, Jain, Chadha, arXiv 2508.02079): a Fisher-information
estimate of the alignment-critical subspace of every adapted layer, a regularized LoRA objective,
the DriftCheck benchmark and a scaling-law analysis of catastrophic forgetting.

Importing the package has no side effects; heavy submodules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "estimate_alignment_fisher": "alignguard.alignment.fisher",
    "AlignmentBasis": "alignguard.alignment.basis",
    "ModuleBasis": "alignguard.alignment.basis",
    "train": "alignguard.training.loop",
    "TrainConfig": "alignguard.training.config",
    "AlignGuardTrainer": "alignguard.training.hf",
    "prepare_alignment": "alignguard.alignment.prepare",
    "PRESETS": "alignguard.methods.registry",
    "build_method": "alignguard.methods.registry",
    "REGULARIZERS": "alignguard.regularizers",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'alignguard' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
