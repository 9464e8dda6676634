"""Refusal judges behind one Protocol (:class:`~alignguard.drift.judges.base.Judge`).

``get_judge(name)`` builds ``"keyword"``, ``"lexicon"``, ``"semantic"``, ``"likelihood"`` or
``"ensemble"`` (the DriftCheck default: semantic, settled by lexicon and likelihood votes where
it is unsure; see :mod:`alignguard.drift.judges.ensemble`).
"""

from __future__ import annotations

from alignguard.drift.judges.base import Judge, JudgeBatch, Verdict, describe

JUDGE_NAMES = ("keyword", "lexicon", "semantic", "likelihood", "ensemble")
DEFAULT_JUDGE = "ensemble"


def get_judge(name: str, **kwargs) -> Judge:
    """A judge by name; ``kwargs`` go to its constructor."""
    if name == "keyword":
        from alignguard.drift.judges.keyword import KeywordJudge

        return KeywordJudge(**kwargs)
    if name == "semantic":
        from alignguard.drift.judges.semantic import SemanticJudge

        return SemanticJudge(**kwargs)
    if name == "lexicon":
        from alignguard.drift.judges.ensemble import LexiconJudge

        return LexiconJudge(**kwargs)
    if name == "ensemble":
        from alignguard.drift.judges.ensemble import EnsembleJudge

        return EnsembleJudge(**kwargs)
    if name == "likelihood":
        from alignguard.drift.judges.likelihood import LikelihoodJudge

        return LikelihoodJudge(**kwargs)
    raise ValueError(f"unknown judge {name!r}; choose from {list(JUDGE_NAMES)}")


__all__ = ["DEFAULT_JUDGE", "JUDGE_NAMES", "Judge", "JudgeBatch", "Verdict", "describe", "get_judge"]
