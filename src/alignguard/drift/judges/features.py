"""The semantic judge's input features: two MiniLM embeddings and the lexicon's cue features.

For a response ``r`` with English gloss ``g = gloss(r)`` (:func:`~alignguard.drift.judges.lexicon.gloss`):

    x(r) = [ e(g[:OPENING]) , e(g) , cues(r) ]      (384 + 384 + 10 numbers)

``e`` is the MiniLM sentence embedding (mean pooling, L2 norm). The opening's embedding is kept
separately because a refusal announces itself in its first sentence, while a long answer's
mean-pooled embedding is dominated by its body; the cue features (multilingual decline cues,
answer openers, redirects, deflections, script, length, structure, degenerate flag) carry what
the English-centric embedder cannot read.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from alignguard.drift.judges.lexicon import FEATURES, cue_features, gloss

OPENING = 160
EMBED_DIM = 384
FEATURE_NAMES = (*(f"open_{i}" for i in range(EMBED_DIM)), *(f"full_{i}" for i in range(EMBED_DIM)), *FEATURES)


def opening(text: str, limit: int = OPENING) -> str:
    """The first ``limit`` characters of ``text``, cut back to a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def featurize(texts: Sequence[str], embedder) -> torch.Tensor:
    """``(len(texts), 778)`` float32 features (see the module docstring); ``embedder.embed`` maps a
    list of strings to unit vectors."""
    if not texts:
        return torch.zeros((0, len(FEATURE_NAMES)))
    glossed = [gloss(t) for t in texts]
    openings = [opening(g) for g in glossed]
    full_emb = embedder.embed(glossed)
    open_emb = full_emb.clone()
    longer = [i for i, (o, g) in enumerate(zip(openings, glossed, strict=True)) if o != " ".join(g.split())]
    if longer:  # short responses are their own opening: embedded once
        open_emb[torch.tensor(longer)] = embedder.embed([openings[i] for i in longer])
    cues = torch.tensor([cue_features(t) for t in texts], dtype=torch.float32)
    return torch.cat([open_emb, full_emb, cues], dim=1)
