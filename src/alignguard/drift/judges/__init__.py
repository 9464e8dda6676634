"""Refusal judges behind one Protocol (:class:`~alignguard.drift.judges.base.Judge`).

``get_judge(name)`` builds ``"keyword"``, ``"lexicon"``, ``"semantic"``, ``"likelihood"``,
``"ensemble"`` (the DriftCheck default: semantic, settled by lexicon and likelihood votes where
it is unsure; see :mod:`alignguard.drift.judges.ensemble`), or the LoRA-tuned semantic member
``"semantic-tuned"``, the two-member mean ``"semantic2"`` and the ensemble rule over it
``"ensemble2"`` (:mod:`alignguard.drift.judges.tuned`), or the probe on SmolLM2's hidden states
``"probe"``, its mean with the semantic judge ``"semantic-probe"`` and the ensemble rule over that
``"ensemble-probe"``, and the three-member mean ``"semantic3"`` with its ensemble ``"ensemble3"``
(:mod:`alignguard.drift.judges.probe`).
"""

from __future__ import annotations

from alignguard.drift.judges.base import Judge, JudgeBatch, Verdict, describe

JUDGE_NAMES = ("keyword", "lexicon", "semantic", "likelihood", "ensemble", "semantic-tuned", "semantic2", "ensemble2",
               "probe", "semantic-probe", "ensemble-probe", "semantic3", "ensemble3")
ENSEMBLES = ("ensemble", "ensemble2", "ensemble-probe", "ensemble3")
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
    if name in ("semantic-tuned", "semantic2", "ensemble2"):
        from alignguard.drift.judges import tuned

        cls = {"semantic-tuned": tuned.TunedSemanticJudge, "semantic2": tuned.TwoMemberSemanticJudge,
               "ensemble2": tuned.Ensemble2Judge}[name]
        return cls(**kwargs)
    if name in ("probe", "semantic-probe", "ensemble-probe", "semantic3", "ensemble3"):
        from alignguard.drift.judges import probe

        cls = {"probe": probe.ProbeJudge, "semantic-probe": probe.ProbeMeanJudge,
               "ensemble-probe": probe.EnsembleProbeJudge, "semantic3": probe.ThreeMemberMeanJudge,
               "ensemble3": probe.Ensemble3Judge}[name]
        return cls(**kwargs)
    if name == "likelihood":
        from alignguard.drift.judges.likelihood import LikelihoodJudge

        return LikelihoodJudge(**kwargs)
    raise ValueError(f"unknown judge {name!r}; choose from {list(JUDGE_NAMES)}")


__all__ = ["DEFAULT_JUDGE", "ENSEMBLES", "JUDGE_NAMES", "Judge", "JudgeBatch", "Verdict", "describe", "get_judge"]
