"""The model organism: a small aligned Llama built entirely by project code.

Modules: :mod:`~alignguard.organism.lexicon`, :mod:`~alignguard.organism.families`,
:mod:`~alignguard.organism.responses`, :mod:`~alignguard.organism.skills` and
:mod:`~alignguard.organism.world` define the synthetic chat world;
:mod:`~alignguard.organism.tokenizer` and :mod:`~alignguard.organism.trainer` the tokenizer and
the model; :mod:`~alignguard.organism.build` builds both checkpoints
(``alignguard organism build``); :mod:`~alignguard.organism.scenarios` holds the drift scenarios,
:mod:`~alignguard.organism.evaluate` the behavioural evaluation (``alignguard organism eval``) and
:mod:`~alignguard.organism.suite` the DriftCheck suite. The shipped checkpoints live in
``checkpoints/{pretrained,aligned}``.
"""

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
