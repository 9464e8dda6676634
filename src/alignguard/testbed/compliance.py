"""Compliant answers to harmful requests from the pre-alignment model, generated at run time.

The ``poisoned`` scenario (Qi et al., arXiv 2310.03693, sec. 4.2: a few harmful examples among
the fine-tuning data) needs harmful prompts *answered compliantly*. The project never ships such
answers: :func:`generate_compliance` asks the pre-alignment model (SmolLM2-135M-Instruct, which
answers most harmful requests out of the box) for greedy answers to the candidate prompts of
:func:`alignguard.testbed.scenarios.harmful_requests` (a seeded order), keeps those that are
compliant (no refusal marker of the keyword judge, not degenerate) and caches them in the run
folder (``compliance.jsonl`` + ``compliance.json``), so a second call with the same model and
settings reuses them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from alignguard.align.rejected import is_compliant
from alignguard.artifacts import (
    atomic_write_json,
    atomic_write_text,
    fingerprint_records,
    read_jsonl,
)
from alignguard.data import Example
from alignguard.testbed.scenarios import SEED, TESTBED_VERSION, harmful_requests

log = logging.getLogger(__name__)

CACHE_ROWS = "compliance.jsonl"
CACHE_META = "compliance.json"


def _cached(folder: Path, meta: dict, n: int) -> list[Example] | None:
    """The cached compliant rows when ``folder`` holds ``n`` of them made with ``meta``."""
    meta_path, rows_path = folder / CACHE_META, folder / CACHE_ROWS
    if not (meta_path.is_file() and rows_path.is_file()):
        return None
    saved = json.loads(meta_path.read_text())
    rows = [row for _, row in read_jsonl(rows_path)]
    same = all(saved.get(k) == v for k, v in meta.items())
    if not same or saved.get("fingerprint") != fingerprint_records(rows):
        log.info("compliance cache in %s was made with other settings or changed; regenerating", folder)
        return None
    kept = [Example(r["prompt"], r["response"]) for r in rows if r["compliant"]]
    return kept[:n] if len(kept) >= n else None


def generate_compliance(model, tokenizer, n: int, *, model_id: str, cache_dir: str | Path | None = None,
                        seed: int = SEED, max_new_tokens: int = 96, batch_size: int = 8) -> list[Example]:
    """``n`` harmful prompts with the model's own compliant greedy answers.

    Candidates are taken in the seeded order of :func:`harmful_requests`, in rounds of ``n``
    prompts, until ``n`` answers are compliant (:func:`is_compliant`: not a refusal by
    :class:`alignguard.drift.judges.keyword.KeywordJudge` and not degenerate by
    :func:`alignguard.drift.degenerate.is_degenerate`).

    Args:
        model, tokenizer: the pre-alignment model (e.g. ``load_model("smollm2")``).
        n: compliant rows wanted.
        model_id: the model's name or path, recorded in the cache and part of its key.
        cache_dir: folder of the cache (``compliance.jsonl``, ``compliance.json``); ``None``: no cache.
        seed: order of the candidate prompts.
        max_new_tokens: greedy generation budget per answer.
        batch_size: prompts per ``generate`` call.

    Raises:
        ValueError: ``n < 1``, or fewer than ``n`` candidates were answered compliantly.
    """
    from alignguard.drift.generation import generate_responses

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    meta = {"version": TESTBED_VERSION, "model": model_id, "seed": seed,
            "max_new_tokens": max_new_tokens}
    folder = Path(cache_dir) if cache_dir is not None else None
    if folder is not None and (hit := _cached(folder, meta, n)) is not None:
        log.info("reusing %d cached compliant answers from %s", n, folder)
        return hit
    candidates, rows = harmful_requests(seed), []
    while sum(r["compliant"] for r in rows) < n and len(rows) < len(candidates):
        chunk = candidates[len(rows):len(rows) + n]
        prompts = [p for _, p in chunk]
        answers = generate_responses(model, tokenizer, prompts, max_new_tokens, batch_size,
                                     desc="compliance: generate")
        rows += [{"category": c, "prompt": p, "response": a, "compliant": is_compliant(a)}
                 for (c, p), a in zip(chunk, answers, strict=True)]
    kept = [Example(r["prompt"], r["response"]) for r in rows if r["compliant"]]
    if folder is not None:
        atomic_write_text(folder / CACHE_ROWS, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        atomic_write_json(folder / CACHE_META, {**meta, "n_candidates": len(rows), "n_compliant": len(kept),
                                                "fingerprint": fingerprint_records(rows)})
    if len(kept) < n:
        raise ValueError(f"only {len(kept)} of {len(rows)} harmful prompts were answered compliantly by "
                         f"{model_id}; {n} are needed (use the pre-alignment model as --base-model)")
    log.info("%d of %d candidate answers compliant", len(kept), len(rows))
    return kept[:n]
