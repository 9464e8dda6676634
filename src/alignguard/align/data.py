"""Project-written safety-alignment SFT data for real instruct models (``alignguard align``).

AlignGuard-LoRA (arXiv 2508.02079) starts from an *aligned* model. SmolLM2-135M-Instruct answers
harmful requests out of the box, so the project aligns it first with refusal SFT on this data:

* **harmful rows** (:mod:`alignguard.align.harmful`): requests over the six DriftCheck categories,
  a request frame around a goal phrase that names a harmful goal in general terms (never
  instructions), answered with a refusal that opens with a standard refusal phrase, gives a
  one-line reason and offers a safe alternative;
* **helpful rows** (:mod:`alignguard.align.helpful`): safe questions, general questions and
  look-alikes that share words with harmful requests ("kill the sound on my laptop"), answered
  helpfully, so that the model does not learn to refuse everything.

Everything here is written for this project (CC BY 4.0, like the DriftCheck suite). Prompts,
goals and frames are disjoint from ``driftcheck-en``'s and are not near duplicates of its prompts
(:func:`near_duplicates`; tests check it), so DriftCheck measures held-out refusal and
over-refusal, not memorisation. No response contains actionable harmful content.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from alignguard.align.harmful import CATEGORIES, FRAMES, GOALS, harmful_prompts, refusal
from alignguard.align.helpful import GENERAL, GENERAL_EXTRA, HELPFUL, WRITING
from alignguard.align.lookalikes import BENIGN_GOALS, LOOKALIKES
from alignguard.data import Example

HELPFUL_FRAMES = ("{q}", "Quick question: {q}", "{q} Please keep it short.", "Hi! {q}")
DATA_VERSION = "2.1"

__all__ = ["BENIGN_GOALS", "CATEGORIES", "DATA_VERSION", "FRAMES", "GENERAL", "GENERAL_EXTRA",
           "GOALS", "HELPFUL", "HELPFUL_FRAMES", "LOOKALIKES", "WRITING", "alignment_examples",
           "harmful_prompts", "helpful_pool", "near_duplicates", "refusal"]

# function words and the helpful frames' fillers ("Hi!", "Quick question:", "Please keep it short.")
_STOP = frozenset((
    "a", "an", "the", "i", "i'm", "my", "me", "to", "of", "in", "on", "for", "and", "or", "how",
    "do", "does", "can", "could", "what", "what's", "is", "it", "you", "your", "with", "without",
    "at", "by", "from", "be", "should", "would", "this", "that", "some", "any", "are", "was", "get",
    "into", "about", "hi", "quick", "question", "please", "keep", "short"))


def content_words(text: str) -> frozenset[str]:
    """Lower-case words of ``text`` without common function words."""
    return frozenset(w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP)


def near_duplicates(ours: Iterable[str], theirs: Iterable[str],
                    threshold: float = 0.6) -> list[tuple[str, str, float]]:
    """Pairs whose content-word Jaccard similarity ``|A & B| / |A | B|`` is ``>= threshold``.

    Catches paraphrases such as "How can I X?" / "How do I X?" that an exact comparison misses.
    """
    index = [(t, content_words(t)) for t in theirs]
    hits = []
    for text in ours:
        words = content_words(text)
        for other, other_words in index:
            union = words | other_words
            score = len(words & other_words) / len(union) if union else 0.0
            if score >= threshold:
                hits.append((text, other, score))
    return hits


def helpful_pool() -> list[Example]:
    """Every helpful row: :data:`HELPFUL`, :data:`GENERAL`, :data:`GENERAL_EXTRA`, :data:`WRITING`
    and :data:`LOOKALIKES` in each :data:`HELPFUL_FRAMES` framing, then :data:`BENIGN_GOALS` in each
    request frame (except the "without getting caught" and "no limits" ones)."""
    questions = HELPFUL + GENERAL + GENERAL_EXTRA + LOOKALIKES + WRITING
    rows = [Example(frame.format(q=q), a) for frame in HELPFUL_FRAMES for q, a in questions]
    frames = [f for f in FRAMES if "caught" not in f and "no limits" not in f
              and "guidelines" not in f]
    rows += [Example(frame.format(g=goal), a) for frame in frames for goal, a in BENIGN_GOALS]
    return rows


def alignment_examples(n_harmful: int = 240, n_helpful: int = 240, seed: int = 0) -> list[Example]:
    """A shuffled refusal-SFT set: ``n_harmful`` refusals and ``n_helpful`` helpful answers.

    Both are sampled without replacement from their pools (:func:`harmful_prompts`,
    :func:`helpful_pool`), so every row is distinct.

    Raises:
        ValueError: a count is negative, both are 0, or a count exceeds its pool.
    """
    pool, helpful = harmful_prompts(), helpful_pool()
    if n_harmful < 0 or n_helpful < 0 or n_harmful + n_helpful == 0:
        raise ValueError(f"need n_harmful >= 0, n_helpful >= 0 and at least one row, got "
                         f"{n_harmful} and {n_helpful}")
    if n_harmful > len(pool) or n_helpful > len(helpful):
        raise ValueError(f"n_harmful={n_harmful} / n_helpful={n_helpful} exceeds the {len(pool)} "
                         f"harmful / {len(helpful)} helpful distinct rows")
    rng = random.Random(seed)
    rows = [Example(p, refusal(c, rng)) for c, p in rng.sample(pool, n_harmful)]
    rows += rng.sample(helpful, n_helpful)
    rng.shuffle(rows)
    return rows
