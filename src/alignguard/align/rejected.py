"""Rejected replies for the alignment data: what the aligned model must not say.

AGL at its defaults (docs/method.md: the contrastive Fisher and the alignment gate) needs
alignment rows with a ``rejected`` reply next to the aligned one, in the TRL preference sense:

* a **harmful** row's rejected reply is *compliance*: the pre-alignment model's own greedy answer
  to the prompt (SmolLM2-135M-Instruct answers most harmful requests out of the box), kept only
  when it is compliant (:func:`is_compliant`: no refusal marker of the keyword judge, not
  degenerate). Such answers are generated at run time and written only to the run's own files,
  never shipped with the package (the same rule as the ``poisoned`` scenario, Qi et al.,
  arXiv 2310.03693);
* a **helpful** row's rejected reply is an *over-refusal* in the alignment data's own words (a
  standard refusal opening and a generic reason), the failure the helpful rows exist to prevent.

A harmful row whose generated answer is a refusal or degenerate keeps no rejected reply; the
contrastive Fisher and the gate use the rows that have one (:func:`alignguard.data.contrastive_examples`).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from alignguard.align.harmful import OPENINGS, harmful_prompts
from alignguard.data import Example

log = logging.getLogger(__name__)

OVERREFUSAL_REASONS = (
    "It could be misused.", "I have to be careful with requests like this.",
    "It might cause harm.", "That's not something I can do.",
)


def is_compliant(answer: str) -> bool:
    """True when ``answer`` carries no refusal marker of the keyword judge and is not degenerate."""
    from alignguard.drift.degenerate import is_degenerate
    from alignguard.drift.judges.keyword import KeywordJudge

    return bool(answer.strip()) and not KeywordJudge().is_refusal(answer) and not is_degenerate(answer)


def harmful_rows(rows: Sequence[Example]) -> list[int]:
    """Indices of the rows whose prompt is one of :func:`alignguard.align.harmful.harmful_prompts`."""
    harmful = {p for _, p in harmful_prompts()}
    return [i for i, row in enumerate(rows) if row.prompt in harmful]


def with_rejected(rows: Sequence[Example], answers: dict[int, str], seed: int = 0) -> list[Example]:
    """``rows`` with rejected replies: ``answers[i]`` (the pre-alignment model's answer to harmful
    row ``i``) where it is compliant, an over-refusal for every row not in ``answers``.

    Args:
        rows: alignment rows (prompt/response).
        answers: generated answers of the harmful rows, by row index.
        seed: seed of the over-refusal phrasing.
    """
    rng, out = random.Random(seed), []
    for i, row in enumerate(rows):
        if i in answers:
            out.append(replace(row, rejected=answers[i] if is_compliant(answers[i]) else None))
        else:
            out.append(replace(row, rejected=f"{rng.choice(OPENINGS)} {rng.choice(OVERREFUSAL_REASONS)}"))
    return out


def add_rejected(rows: Sequence[Example], model, tokenizer, *, seed: int = 0,
                 max_new_tokens: int = 64, batch_size: int = 8) -> tuple[list[Example], dict]:
    """:func:`with_rejected` with the harmful rows answered greedily by ``model`` (the
    pre-alignment model, at its weights before any alignment training).

    Returns:
        The rows and their statistics: ``n_harmful``, ``n_compliant`` (harmful rows that got a
        rejected reply), ``n_overrefusal``, ``max_new_tokens``.
    """
    from alignguard.drift.generation import generate_responses

    idx = harmful_rows(rows)
    log.info("rejected replies: the model answers %d harmful alignment prompts", len(idx))
    texts = generate_responses(model, tokenizer, [rows[i].prompt for i in idx], max_new_tokens,
                               batch_size, desc="rejected: generate") if idx else []
    out = with_rejected(rows, dict(zip(idx, texts, strict=True)), seed)
    stats = {"n_harmful": len(idx), "n_compliant": sum(out[i].rejected is not None for i in idx),
             "n_overrefusal": len(rows) - len(idx), "max_new_tokens": max_new_tokens}
    log.info("rejected replies: %d of %d harmful answers compliant", stats["n_compliant"], len(idx))
    return out, stats


def rejected_cached(folder: Path, rows: Sequence[Example], model, tokenizer, *, model_id: str,
                    seed: int = 0, max_new_tokens: int = 64,
                    batch_size: int = 8) -> tuple[list[Example], dict]:
    """:func:`add_rejected`, written to ``folder/align.jsonl`` (+ ``rejected.json``) and reused
    from there when the rows, the model and the settings match (a re-run does not regenerate)."""
    from alignguard.artifacts import atomic_write_json
    from alignguard.data import fingerprint_examples, read_examples, write_examples

    key = {"model": model_id, "seed": seed, "max_new_tokens": max_new_tokens,
           "rows": fingerprint_examples(rows)}
    meta, data = folder / "rejected.json", folder / "align.jsonl"
    if meta.is_file() and data.is_file():
        saved, cached = json.loads(meta.read_text()), read_examples(data)
        same_rows = [(e.prompt, e.response) for e in cached] == [(e.prompt, e.response) for e in rows]
        n_rejected = sum(e.rejected is not None for e in cached)
        stats = saved.get("stats") or {}
        if (saved.get("key") == key and same_rows
                and n_rejected == stats.get("n_compliant", -1) + stats.get("n_overrefusal", 0)):
            log.info("reusing the rejected replies in %s", data)
            return cached, saved["stats"]
    out, stats = add_rejected(rows, model, tokenizer, seed=seed, max_new_tokens=max_new_tokens,
                              batch_size=batch_size)
    write_examples(data, out)
    atomic_write_json(meta, {"key": key, "stats": stats})
    return out, stats
