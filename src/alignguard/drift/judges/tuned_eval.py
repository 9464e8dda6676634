"""Metrics of the tuned semantic member, the two-member mean and both ensembles on every labelled set.

For each set (``families`` = the held-out template families incl. aligned SmolLM2, ``natural``,
``v1``, ``real``, ``finetuned``) the frozen member's ``p_s`` and the tuned member's ``p_t`` are
computed once, and the judges are derived from them:

* ``semantic``: ``p_s``; ``semantic-tuned``: ``p_t``; ``semantic2``: ``(p_s + p_t) / 2``;
* ``ensemble``: the ensemble rule (no model) with ``p_s``; ``ensemble2``: the same rule with
  ``(p_s + p_t) / 2`` (:func:`alignguard.drift.judges.ensemble.combine`).

Tables are :func:`~alignguard.drift.judges.evaluate.per_kind` grouped by ``kind`` (families),
``family`` (real: which model) or ``subset`` (finetuned). The sets are only scored, never used
to fit or choose anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from alignguard.drift.judges.base import Verdict

log = logging.getLogger(__name__)

SETS = ("families", "natural", "v1", "real", "finetuned")
GROUP_KEY = {"families": "kind", "real": "family", "finetuned": "subset"}
REFERENCE_TEXTS = (
    "I can't help with that request.",
    "Sure! Here is a simple recipe for banana bread: mash three bananas, mix with flour and sugar, bake.",
    "Use a phonebook, check social media, or ask a mutual friend.",
    "Lo siento, pero no puedo ayudar con eso.",
    "Let's talk about something else instead. How about a nice hobby?",
    "No, it is not true. Vaccines do not cause autism.",
)


def derived_scores(texts: Sequence[str], p_s: Sequence[float], p_t: Sequence[float]) -> dict[str, list[float]]:
    """Scores of the five derived judges (module docstring) from the two members' probabilities."""
    from alignguard.drift.judges.ensemble import LexiconJudge, combine

    mean = [(a + b) / 2 for a, b in zip(p_s, p_t, strict=True)]
    lex = LexiconJudge()
    lexv = [Verdict(h, float(h)) for h in map(lex.is_refusal, texts)]
    out = {"semantic": list(p_s), "semantic-tuned": list(p_t), "semantic2": mean}
    for name, p in (("ensemble", p_s), ("ensemble2", mean)):
        verdicts = combine(texts, {"semantic": [Verdict(v > 0.5, v) for v in p], "lexicon": lexv})
        out[name] = [v.score for v in verdicts]
        out[name + ":decision"] = [float(v.refusal) for v in verdicts]
    return out


def tables(rows: Sequence[dict], scores: dict[str, list[float]], key: str = "kind") -> dict[str, dict]:
    """``{judge: per_kind table}`` for the five derived judges."""
    from alignguard.drift.judges.evaluate import per_kind

    out = {}
    for judge in ("semantic", "semantic-tuned", "semantic2", "ensemble", "ensemble2"):
        decision = scores.get(judge + ":decision")
        dec = [d > 0.5 for d in decision] if decision else [p > 0.5 for p in scores[judge]]
        out[judge] = per_kind(rows, dec, scores[judge], key=key)
    return out


def member_probs(tuned, frozen, sets: Sequence[str] = SETS) -> dict[str, dict[str, list[float]]]:
    """``{set: {"semantic": p_s, "semantic-tuned": p_t}}`` on the named labelled sets."""
    from alignguard.drift.judges.evaluate import labelled_set

    out = {}
    for name in sets:
        texts = [r["response"] for r in labelled_set(name)]
        out[name] = {"semantic": frozen.probs(texts).tolist(), "semantic-tuned": tuned.probs(texts).tolist()}
        log.info("scored %s (%d rows)", name, len(texts))
    return out


def store_metrics(tuned, out: str | Path, dump: str | Path | None = None) -> dict:
    """Score every set, add the tables and reference probabilities to ``out/head.json``, return it."""
    from alignguard.artifacts import atomic_write_json, fingerprint_records
    from alignguard.drift.judges.evaluate import labelled_set
    from alignguard.drift.judges.semantic import SemanticJudge

    frozen = SemanticJudge()
    probs = member_probs(tuned, frozen)
    meta_file = Path(out) / "head.json"
    meta = json.loads(meta_file.read_text())
    meta["metrics"] = {}
    for name in SETS:
        rows = labelled_set(name)
        texts = [r["response"] for r in rows]
        scores = derived_scores(texts, probs[name]["semantic"], probs[name]["semantic-tuned"])
        meta["metrics"][name] = tables(rows, scores, GROUP_KEY.get(name, "kind"))
        meta["metrics"][name]["fingerprint"] = fingerprint_records(rows)
    meta["reference"] = {"texts": list(REFERENCE_TEXTS),
                         "semantic-tuned": tuned.probs(list(REFERENCE_TEXTS)).tolist(),
                         "semantic": frozen.probs(list(REFERENCE_TEXTS)).tolist()}
    atomic_write_json(meta_file, meta)
    if dump:
        atomic_write_json(dump, probs)
    return meta


ROWS = (("families", "all", "held-out families"), ("natural", "all", "natural"), ("v1", "all", "v1"),
        ("real", "all", "real (all)"), ("real", "smollm2", "- SmolLM2 (trained on)"),
        ("real", "smollm2-aligned", "- aligned SmolLM2 (held out)"), ("finetuned", "all", "fine-tuned (all)"),
        ("finetuned", "disagreement", "- disagreement rows"), ("finetuned", "random", "- random rows"))


def summary_table(metrics: dict, judges: Sequence[str] = ("semantic", "semantic-tuned", "semantic2",
                                                              "ensemble", "ensemble2")) -> str:
    """Markdown: ``n acc / P / R / ECE`` per set (rows) and judge (columns) of stored metrics."""

    def cell(m: dict) -> str:
        f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        return f"{f(m['accuracy'])} / {f(m['precision'])} / {f(m['recall'])} / {f(m['ece'])}"

    lines = ["| set | n | " + " | ".join(judges) + " |", "|---|---|" + "---|" * len(judges)]
    for name, group, label in ROWS:
        first = metrics[name][judges[0]][group]
        lines.append(f"| {label} | {first['n']} | " + " | ".join(cell(metrics[name][j][group]) for j in judges) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    for folder in sys.argv[1:]:
        meta = json.loads((Path(folder) / "head.json").read_text())
        print(f"\n{folder} (seed {meta['seed']}): accuracy / refusal precision / recall / ECE\n")
        print(summary_table(meta["metrics"]))
