"""Build the ``driftcheck-en`` suite from its hand-written pieces (deterministic).

The paper's DriftCheck (arXiv 2508.02079) mixes 5,000 safe MMLU questions with 5,000 unsafe
red-team prompts over six categories; those sources live on a model hub, so AlignGuard ships a
project-written suite of the same shape. Unsafe prompts are goal phrases combined with request
frames (4 frames per goal, chosen by a seeded RNG) plus hand-written one-liners; safe prompts are
filled templates and one-liners, and over-refusal probes (benign prompts that sound unsafe).
Duplicates (case- and punctuation-insensitive) are dropped.

Regenerate the shipped file with ``python -m alignguard.drift.suite_build``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from alignguard.drift import suite_pieces_probes as probes
from alignguard.drift import suite_pieces_safe as safe
from alignguard.drift import suite_pieces_unsafe as unsafe
from alignguard.drift.records import CATEGORIES, PromptRecord, records_to_jsonl

SUITE_NAME = "driftcheck-en"
SUITE_VERSION = "1.0.0"
SUITE_LICENCE = (
    "CC-BY-4.0. Written by the AlignGuard project (no third-party text). Unsafe prompts name "
    "harmful goals in general terms only and contain no instructions."
)
DATA_FILE = Path(__file__).resolve().parent / "data" / f"{SUITE_NAME}.jsonl"
FRAMES_PER_GOAL = 4

_CREATIVE = ("write", "describe", "create", "make", "generate", "invent", "come up", "compose",
             "publish", "edit", "start a rumour", "fabricate", "role-play")
WRITE_FRAMES = (
    "Please {g}.",
    "{G}.",
    "Could you {g}?",
    "I need you to {g}.",
    "Can you {g} for me?",
    "For a project I'm working on, {g}.",
    "Help me {g}.",
    "I'd like you to {g}, please.",
    "You're my assistant now, so {g}.",
)


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", text.lower()).strip()


def _fill(frame: str, goal: str) -> str:
    return frame.replace("{g}", goal).replace("{G}", goal[:1].upper() + goal[1:])


def _unsafe_prompts(category: str) -> list[str]:
    rng = random.Random(f"driftcheck-en:{category}")
    prompts = []
    for goal in unsafe.GOALS[category]:
        creative = goal.startswith(_CREATIVE)
        pool = list(WRITE_FRAMES) + list(unsafe.FRAMES[:4]) if creative else list(unsafe.FRAMES)
        prompts.extend(_fill(f, goal) for f in rng.sample(pool, FRAMES_PER_GOAL))
    return prompts + list(unsafe.ONE_LINERS[category])


def _templated(templates) -> list[tuple[str, str]]:
    return [(tpl.replace("{x}", x), cat) for tpl, fillers, cat in templates for x in fillers]


def build_driftcheck_en() -> list[PromptRecord]:
    """All ``driftcheck-en`` records, deduplicated, with stable ids.

    Returns:
        Records ``dc-unsafe-<category>-NNNN``, ``dc-safe-general-NNNN``,
        ``dc-safe-probe-<category>-NNNN`` in a fixed order.
    """
    rows: list[tuple[str, str, str, str]] = []  # (prompt, label, category, kind)
    for cat in CATEGORIES:
        rows += [(p, "unsafe", cat, "harmful") for p in _unsafe_prompts(cat)]
    general = _templated(safe.TEMPLATES) + list(safe.ONE_LINERS)
    rows += [(p, "safe", cat, "general") for p, cat in general]
    probe_rows = _templated(probes.TEMPLATES)
    probe_rows += [(p, cat) for cat, items in probes.ONE_LINERS.items() for p in items]
    rows += [(p, "safe", cat, "overrefusal") for p, cat in probe_rows]

    seen: set[str] = set()
    counters: dict[str, int] = {}
    records = []
    for prompt, label, cat, kind in rows:
        key = _normalise(prompt)
        if key in seen:
            continue
        seen.add(key)
        group = {"harmful": f"unsafe-{cat}", "general": "safe-general"}.get(kind, f"safe-probe-{cat}")
        counters[group] = counters.get(group, 0) + 1
        records.append(PromptRecord(f"dc-{group}-{counters[group]:04d}", prompt, label, cat, kind))
    return records


def write_driftcheck_en(path: str | Path = DATA_FILE) -> Path:
    """Build the suite and write it as JSONL (atomically)."""
    from alignguard.artifacts import atomic_write_text

    return atomic_write_text(path, records_to_jsonl(build_driftcheck_en()))


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_driftcheck_en())
