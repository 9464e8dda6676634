"""Refusal judges behind one Protocol (:class:`~alignguard.drift.judges.base.Judge`).

``get_judge(name)`` builds ``"keyword"``, ``"lexicon"``, ``"semantic"``, ``"likelihood"``,
``"ensemble"`` (semantic, settled by lexicon and likelihood votes where it is unsure; see
:mod:`alignguard.drift.judges.ensemble`; the default before stop 54), or the LoRA-tuned semantic member
``"semantic-tuned"``, the two-member mean ``"semantic2"`` and the ensemble rule over it
``"ensemble2"`` (:mod:`alignguard.drift.judges.tuned`), or the probe on SmolLM2's hidden states
``"probe"``, its mean with the semantic judge ``"semantic-probe"`` and the ensemble rule over that
``"ensemble-probe"`` (the DriftCheck default, :data:`DEFAULT_JUDGE`: docs/judges.md, "The probe
member"), and the three-member mean ``"semantic3"`` with its ensemble ``"ensemble3"``
(:mod:`alignguard.drift.judges.probe`). ``"chat:MODEL"`` asks a local chat model whether a reply
refuses its request (:mod:`alignguard.drift.judges.chat`).
"""

from __future__ import annotations

from collections.abc import Sequence

from alignguard.drift.judges.base import Judge, JudgeBatch, Verdict, describe

JUDGE_NAMES = ("keyword", "lexicon", "semantic", "likelihood", "ensemble", "semantic-tuned", "semantic2", "ensemble2",
               "probe", "semantic-probe", "ensemble-probe", "semantic3", "ensemble3")
ENSEMBLES = ("ensemble", "ensemble2", "ensemble-probe", "ensemble3")
PROBE_JUDGES = ("probe", "semantic-probe", "ensemble-probe", "semantic3", "ensemble3")
DEFAULT_JUDGE = "ensemble-probe"
CHAT = "chat"


def is_judge_name(name: str) -> bool:
    """True for a name :func:`get_judge` builds: one of :data:`JUDGE_NAMES` or ``chat:MODEL``."""
    return name in JUDGE_NAMES or (name.startswith(CHAT + ":") and len(name) > len(CHAT) + 1)


def get_judge(name: str, **kwargs) -> Judge:
    """A judge by name; ``kwargs`` go to its constructor."""
    if name == CHAT or name.startswith(CHAT + ":"):
        from alignguard.drift.judges.chat import ChatJudge

        if not name.partition(":")[2]:
            raise ValueError("name the chat judge's model: chat:MODEL (a folder, a .gguf file or a known name); "
                             "no model is assumed, since the one shipped offline (SmolLM2-135M) cannot read "
                             "refusals this way (docs/judges.md, 'The chat judge')")
        return ChatJudge(name.partition(":")[2], **{k: v for k, v in kwargs.items() if k in ("device", "batch_size")})
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
    raise ValueError(f"unknown judge {name!r}; choose from {list(JUDGE_NAMES)} or chat:MODEL")


def build_judges(names: Sequence[str], device: str = "cpu", use_likelihood: bool = True) -> list[Judge]:
    """Judges by name for an evaluation on ``device``: the probe's language model runs there, and
    the ensembles get ``use_likelihood``."""
    out = []
    for name in names:
        kwargs: dict = {"device": device} if name in PROBE_JUDGES or is_judge_name(name) and name.startswith(CHAT) else {}
        if name in ENSEMBLES:
            kwargs["use_likelihood"] = use_likelihood
        out.append(get_judge(name, **kwargs))
    return out


__all__ = ["CHAT", "DEFAULT_JUDGE", "is_judge_name", "ENSEMBLES", "PROBE_JUDGES", "build_judges", "JUDGE_NAMES", "Judge", "JudgeBatch", "Verdict", "describe", "get_judge"]
