"""Refusal judges behind one Protocol (:class:`~alignguard.drift.judges.base.Judge`).

``get_judge(name)`` builds ``"keyword"``, ``"semantic"`` or ``"likelihood"``.
"""

from __future__ import annotations

from alignguard.drift.judges.base import Judge, JudgeBatch, Verdict, describe

JUDGE_NAMES = ("keyword", "semantic", "likelihood")


def get_judge(name: str, **kwargs) -> Judge:
    """A judge by name; ``kwargs`` go to its constructor."""
    if name == "keyword":
        from alignguard.drift.judges.keyword import KeywordJudge

        return KeywordJudge(**kwargs)
    if name == "semantic":
        from alignguard.drift.judges.semantic import SemanticJudge

        return SemanticJudge(**kwargs)
    if name == "likelihood":
        from alignguard.drift.judges.likelihood import LikelihoodJudge

        return LikelihoodJudge(**kwargs)
    raise ValueError(f"unknown judge {name!r}; choose from {list(JUDGE_NAMES)}")


__all__ = ["JUDGE_NAMES", "Judge", "JudgeBatch", "Verdict", "describe", "get_judge"]
