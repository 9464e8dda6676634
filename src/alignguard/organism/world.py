"""The organism's synthetic chat world: a seeded, versioned generator of prompt/reply pairs.

The world consists of request families (:mod:`alignguard.organism.families`: six unsafe
categories, their benign look-alikes, plain benign requests) and checkable skills
(:mod:`alignguard.organism.skills`). Every item is generated from a template (frame) and slot
values drawn from one split:

* ``"train"``: train frames x train objects: the only items used to build the organism;
* ``"heldout"``: held-out frames x held-out objects: unseen phrasings about unseen objects;
* ``"unseen"``: train frames x held-out objects: familiar phrasings about unseen objects.

The reply depends on the ``stage``: ``"pretrain"`` answers unsafe requests compliantly with
abstract placeholders (the unaligned organism), ``"aligned"`` refuses them. Generation is a pure
function of ``(seed, split, stage, mix)`` and :data:`WORLD_VERSION`; bump the version whenever
any template, slot value or reply changes, since checkpoints and scenarios depend on it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from alignguard.organism import responses
from alignguard.organism.families import FAMILIES, Family
from alignguard.organism.lexicon import Split
from alignguard.organism.skills import SKILLS, sample_words

WORLD_VERSION = "2"
SPLITS = ("train", "heldout", "unseen")
STAGES = ("pretrain", "aligned")

# default sampling weights of the build corpus (the new skill "tally" is never in it)
BUILD_MIX: Mapping[str, float] = {
    "violence_howto": 4, "violence_write": 1, "illegal_howto": 3, "hate_write": 3,
    "explicit_write": 2, "privacy_info": 2, "misinformation_write": 2,
    "violence_howto_lookalike": 4, "violence_write_lookalike": 1, "illegal_howto_lookalike": 3,
    "hate_write_lookalike": 2, "explicit_write_lookalike": 2, "privacy_info_lookalike": 2,
    "misinformation_write_lookalike": 2, "safe_howto": 3, "safe_poem": 1,
    "skill:copy": 4, "skill:count": 3, "skill:last": 3,
}


@dataclass(frozen=True)
class WorldItem:
    """One generated exchange and everything needed to evaluate or audit it.

    Attributes:
        prompt: the user request.
        response: the reply for the requested stage.
        family: family name, or ``"skill:NAME"``.
        label: ``"unsafe"`` or ``"safe"``.
        category: unsafe category, ``"lookalike"``, ``"benign"`` or ``"task"`` (skills).
        split: ``"train"``, ``"heldout"`` or ``"unseen"``.
        template: the frame the prompt came from.
        fillers: ``(slot, value)`` pairs used to fill it.
        answer: exact expected answer for skills, else ``None``.
    """

    prompt: str
    response: str
    family: str
    label: str
    category: str
    split: str
    template: str
    fillers: tuple[tuple[str, str], ...]
    answer: str | None = None


def _check(split: str, stage: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")


def _frame_split(split: str) -> str:
    return "heldout" if split == "heldout" else "train"


def _object_split(split: str) -> str:
    return "train" if split == "train" else "heldout"


def sample_family_item(fam: Family, rng: random.Random, split: str = "train",
                       stage: str = "aligned") -> WorldItem:
    """One item of request family ``fam`` from ``split``, replied to as at ``stage``."""
    _check(split, stage)
    frame = rng.choice(fam.frames.values(_frame_split(split)))
    fill: dict[str, str] = {}
    for slot, values in fam.slots.items():
        pool = values.values(_object_split(split)) if isinstance(values, Split) else values
        fill[slot] = rng.choice(pool)
    if fam.act:
        fill["act"] = fam.act.format(**fill)
    template = fam.template(frame)
    prompt = template.format(**fill)
    prompt = prompt[0].upper() + prompt[1:]
    used = {k: v for k, v in fill.items() if "{" + k + "}" in template or (k == "act" and bool(fam.act))}
    if fam.label == "safe":
        reply = responses.helpful(fam.kind, fam.topic if fam.category == "lookalike" else "benign",
                                  used, rng)
    elif stage == "aligned":
        reply = responses.refusal(fam.category, rng)
    else:
        reply = responses.compliance(fam.kind, fam.category, used, rng)
    fillers = tuple(sorted((k, v) for k, v in used.items() if k != "act"))
    return WorldItem(prompt, reply, fam.name, fam.label, fam.category, split, frame, fillers)


def rejected_reply(item: WorldItem, rng: random.Random) -> str:
    """The reply the aligned organism must *not* give to ``item`` (contrastive Fisher data).

    Unsafe requests: the pre-alignment compliant reply; safe requests: a refusal (for a
    look-alike, the refusal of the category it imitates). Skills have no rejected reply.
    """
    fam = FAMILIES.get(item.family)
    if fam is None:
        raise ValueError(f"{item.family!r} has no rejected reply (only request families do)")
    fill = dict(item.fillers)
    if fam.act:
        fill["act"] = fam.act.format(**fill)
    if fam.label == "unsafe":
        return responses.compliance(fam.kind, fam.category, fill, rng)
    topic = fam.topic if fam.topic in responses.REASONS else rng.choice(sorted(responses.REASONS))
    return responses.refusal(topic, rng)


def sample_skill_item(name: str, rng: random.Random, split: str = "train") -> WorldItem:
    """One item of skill ``name``; ``"unseen"`` uses train frames with held-out word lists."""
    _check(split, "aligned")
    sk = SKILLS[name]
    frame = rng.choice(sk.frames.values(_frame_split(split)))
    words = sample_words(rng, _object_split(split))
    answer = sk.answer(words)
    text = " ".join(words)
    return WorldItem(frame.format(words=text), answer, f"skill:{name}", "safe", "task", split,
                     frame, (("words", text),), answer)


def sample_item(source: str, rng: random.Random, split: str = "train",
                stage: str = "aligned") -> WorldItem:
    """One item of ``source``: a family name or ``"skill:NAME"``."""
    if source.startswith("skill:"):
        return sample_skill_item(source.removeprefix("skill:"), rng, split)
    if source not in FAMILIES:
        raise KeyError(f"unknown world source {source!r}; known: {sorted(FAMILIES)} and "
                       f"{['skill:' + s for s in SKILLS]}")
    return sample_family_item(FAMILIES[source], rng, split, stage)


def generate(n: int, *, seed: int, split: str = "train", stage: str = "aligned",
             mix: Mapping[str, float] | None = None) -> list[WorldItem]:
    """``n`` items drawn from ``mix`` (source -> weight; default :data:`BUILD_MIX`).

    Deterministic: the same ``(n, seed, split, stage, mix)`` and world version give the same list.
    """
    _check(split, stage)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    mix = dict(BUILD_MIX if mix is None else mix)
    if not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"mix needs non-negative weights with a positive sum, got {mix}")
    rng = random.Random(f"world-{WORLD_VERSION}-{seed}-{split}-{stage}")
    sources = sorted(mix)
    weights = [mix[s] for s in sources]
    return [sample_item(rng.choices(sources, weights)[0], rng, split, stage) for _ in range(n)]


def distinct(source: str, n: int, *, seed: int, split: str, stage: str = "aligned",
             max_tries: int = 50) -> list[WorldItem]:
    """Up to ``n`` items of ``source`` with distinct prompts (fewer if the split is small)."""
    rng = random.Random(f"distinct-{WORLD_VERSION}-{seed}-{source}-{split}-{stage}")
    seen: dict[str, WorldItem] = {}
    misses = 0
    while len(seen) < n and misses < max_tries * n:
        item = sample_item(source, rng, split, stage)
        if item.prompt in seen:
            misses += 1
            continue
        seen[item.prompt] = item
    return list(seen.values())
