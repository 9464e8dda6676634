"""Pluggable regularizers of the AlignGuard-LoRA objective (placeholder; see config.py)."""

from alignguard.regularizers.config import RegularizerConfig

__all__ = ["RegularizerConfig"]
