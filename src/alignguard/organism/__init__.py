"""The model organism: a small aligned Llama built entirely by project code (placeholder)."""

from __future__ import annotations

from pathlib import Path

CHECKPOINT_ROOT = Path(__file__).resolve().parent / "checkpoints"


def checkpoint_path(stage: str = "aligned") -> Path:
    """Folder of the shipped organism checkpoint for ``stage`` ("pretrained" or "aligned")."""
    if stage not in ("pretrained", "aligned"):
        raise ValueError(f"stage must be 'pretrained' or 'aligned', got {stage!r}")
    path = CHECKPOINT_ROOT / stage
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the organism checkpoint {path} is missing; build it with `alignguard organism build`"
        )
    return path
