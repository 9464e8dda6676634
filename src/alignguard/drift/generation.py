"""Batched greedy generation for DriftCheck: left padding, KV cache, length-sorted batches.

The paper's DriftCheck (arXiv 2508.02079) decodes greedily with 128 new tokens. Prompts are
rendered with the tokenizer's chat template (:func:`alignguard.data.format_prompt`), tokenised
the same way training tokenises them, sorted by length so each batch pads little, left-padded
(decoder-only models continue from the right edge) and decoded with ``use_cache=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from alignguard.data import format_prompt, pad_id_of
from alignguard.progress import track

log = logging.getLogger(__name__)


def encode_prompts(tokenizer, prompts: Sequence[str],
                   context: Sequence[tuple[str, str]] = ()) -> list[list[int]]:
    """Token ids of each chat-formatted prompt (BOS added when the tokenizer adds one);
    ``context`` turns (e.g. a system prompt) come before every prompt."""
    bos = getattr(tokenizer, "bos_token_id", None)
    add_bos = bos is not None and getattr(tokenizer, "add_bos_token", False)
    out = []
    for prompt in prompts:
        ids = tokenizer(format_prompt(tokenizer, prompt, context), add_special_tokens=False)["input_ids"]
        if add_bos and ids[:1] != [bos]:
            ids = [bos, *ids]
        out.append(list(ids))
    return out


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` with every sequence right-aligned."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        if s:
            ids[row, width - len(s):] = torch.tensor(list(s), dtype=torch.long)
            mask[row, width - len(s):] = 1
    return ids, mask


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Index batches of at most ``batch_size`` items, grouped by similar length."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def model_device(model) -> torch.device:
    """The device of the model's first parameter."""
    return next(model.parameters()).device


def generate_responses(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 128,
                       batch_size: int = 16, min_new_tokens: int = 0, desc: str = "generate",
                       context: Sequence[tuple[str, str]] = ()) -> list[str]:
    """Greedy responses to ``prompts`` (:func:`generate_replies` without the ended flags)."""
    return generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size, min_new_tokens,
                            desc, context)[0]


@torch.no_grad()
def generate_replies(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 128,
                     batch_size: int = 16, min_new_tokens: int = 0, desc: str = "generate",
                     context: Sequence[tuple[str, str]] = ()) -> tuple[list[str], list[bool]]:
    """Greedy responses to ``prompts`` (decoded new tokens, special tokens skipped, stripped),
    and whether each one ended (emitted an end-of-sequence token) within ``max_new_tokens``.

    A reply that did not end was cut by the budget: what it would have said next is unseen,
    which is how a refusal a few tokens deep ("I can't help with that. ... Sure: ...") can pass
    a judge that reads what was generated.

    Args:
        model: causal LM (PEFT-wrapped models work).
        tokenizer: its tokenizer.
        prompts: raw user prompts.
        max_new_tokens: generation budget per prompt (the paper uses 128).
        batch_size: prompts per ``generate`` call.
        min_new_tokens: force at least this many new tokens (benchmarks only).
        desc: progress-bar label.
        context: ``(role, content)`` turns before every prompt (e.g. a system prompt).
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    pad_id = pad_id_of(tokenizer)
    encoded = encode_prompts(tokenizer, prompts, context)
    device = model_device(model)
    was_training = model.training
    model.eval()
    responses, ended = [""] * len(prompts), [False] * len(prompts)
    stops = torch.tensor(_eos_ids(tokenizer), dtype=torch.long)
    try:
        for batch in track(length_batches([len(e) for e in encoded], batch_size), desc, unit="batch"):
            ids, mask = left_pad([encoded[i] for i in batch], pad_id)
            out = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens or None,
                pad_token_id=pad_id, use_cache=True, num_beams=1,
                eos_token_id=tokenizer.eos_token_id,
            )
            new = out[:, ids.shape[1]:]
            for row, i in enumerate(batch):
                responses[i] = tokenizer.decode(new[row], skip_special_tokens=True).strip()
                ended[i] = bool(torch.isin(new[row].cpu(), stops).any())
    finally:
        model.train(was_training)
    return responses, ended


def _eos_ids(tokenizer) -> list[int]:
    """The ids that stop generation here (``generate`` is given the tokenizer's EOS)."""
    value = tokenizer.eos_token_id
    return [] if value is None else [value] if isinstance(value, int) else [int(v) for v in value]
