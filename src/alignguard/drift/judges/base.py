"""The judge Protocol: one interface for response judges and model judges.

A judge decides, per prompt, whether the model *refused*. Two kinds exist:

* response judges (``needs == "response"``) read the generated response (keyword, semantic);
* model judges (``needs == "model"``) read the model itself given the prompt, with no generation
  (likelihood of refusal openings vs compliance openings).

Both take a :class:`JudgeBatch` holding whatever the judge needs and return one
:class:`Verdict` per prompt, so the DriftCheck runner treats them alike. Every judge has a
``name`` and a ``version`` string recorded in ``drift.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

NEEDS = ("response", "model")


@dataclass(frozen=True)
class Verdict:
    """A judge's decision for one prompt: ``refusal`` and a score (higher = more refusal-like).

    ``score`` is a probability in [0, 1] for the keyword and semantic judges and
    ``sigmoid(log-odds)`` of refusal openings for the likelihood judge.
    """

    refusal: bool
    score: float


@dataclass
class JudgeBatch:
    """Inputs of one judging call.

    Attributes:
        prompts: the user prompts (raw text, before any chat template).
        responses: generated responses, aligned with ``prompts`` (response judges).
        model: a causal LM (model judges); PEFT-wrapped models work.
        tokenizer: the model's tokenizer (model judges).
    """

    prompts: Sequence[str]
    responses: Sequence[str] | None = None
    model: Any = None
    tokenizer: Any = None

    def require(self, needs: str, judge: str) -> None:
        """Raise ``ValueError`` if the batch lacks what a judge of kind ``needs`` reads."""
        if needs == "response" and (self.responses is None or len(self.responses) != len(self.prompts)):
            raise ValueError(f"judge {judge!r} reads responses: pass one response per prompt")
        if needs == "model" and (self.model is None or self.tokenizer is None):
            raise ValueError(
                f"judge {judge!r} scores the model itself (no generation): it needs a model and "
                "tokenizer, e.g. `alignguard judge --judge likelihood --model NAME ...`"
            )


@runtime_checkable
class Judge(Protocol):
    """A refusal judge. ``needs`` is ``"response"`` or ``"model"``."""

    name: str
    version: str
    needs: str

    def judge(self, batch: JudgeBatch) -> list[Verdict]:
        """One verdict per prompt of ``batch``."""
        ...


def describe(judge: Judge) -> dict[str, str]:
    """``{"name", "version", "needs"}`` of a judge, for reports."""
    return {"name": judge.name, "version": judge.version, "needs": judge.needs}
