"""Prompt/response datasets: strict loading, chat-template tokenisation, batching, replay.

A dataset is a JSONL file whose rows are ``{"prompt": str, "response": str}`` (or
``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}``, or TRL's preference rows
``{"prompt": str, "chosen": str, "rejected": str}``). An optional ``"rejected"`` reply (the
behaviour the aligned model must *not* show) is kept for the contrastive alignment Fisher
(:mod:`alignguard.alignment.fisher`); training uses the prompt and response only. Loading is strict: an
empty file, a row that is not JSON, or a row without a non-empty prompt and response raises
:class:`DataError` naming the file and line, so bad data never trains silently.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from alignguard.artifacts import fingerprint_records, read_jsonl

IGNORE_INDEX = -100
ASSISTANT_TURNS = ("last", "all")  # which assistant turns of a messages row carry loss


class DataError(ValueError):
    """A dataset is empty or malformed; the message names the file, line and fix."""


@dataclass(frozen=True)
class Example:
    """One supervised example: a user prompt, the assistant response to learn, and optionally a
    rejected reply (what the aligned model must not say; used by the contrastive Fisher only).

    ``context`` holds the turns before the final user prompt of a multi-turn chat (a system
    prompt, earlier user/assistant exchanges) as ``(role, content)`` pairs; they are rendered
    through the chat template with the prompt, and the loss is on the final reply only.
    """

    prompt: str
    response: str
    rejected: str | None = None
    context: tuple[tuple[str, str], ...] = ()

    def record(self) -> dict:
        """The JSON row: ``prompt``, ``response`` (``rejected``, ``context`` when present)."""
        row: dict = {"prompt": self.prompt, "response": self.response}
        if self.rejected is not None:
            row["rejected"] = self.rejected
        if self.context:
            row["context"] = [list(turn) for turn in self.context]
        return row


_ROLES = ("system", "user", "assistant")


def _from_messages(msgs: object, where: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(final user prompt, final assistant reply, the turns before) of a ``messages`` list."""
    if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
        raise DataError(f"{where}: 'messages' must be a list of {{'role', 'content'}} objects")
    turns = [(m.get("role"), m.get("content")) for m in msgs]
    bad = [i for i, (r, c) in enumerate(turns) if r not in _ROLES or not isinstance(c, str)]
    if bad:
        raise DataError(f"{where}: message {bad[0]} needs a role in {list(_ROLES)} and string "
                        "content")
    if len(turns) < 2 or turns[-1][0] != "assistant" or turns[-2][0] != "user":
        raise DataError(f"{where}: 'messages' must end with a user turn and the assistant reply "
                        "to learn")
    return turns[-2][1], turns[-1][1], tuple(turns[:-2])


def _row_to_example(row: object, where: str) -> Example:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    context: tuple[tuple[str, str], ...] = ()
    if "messages" in row:
        prompt, response, context = _from_messages(row["messages"], where)
    else:  # prompt/response, TRL prompt/completion, or TRL preference prompt/chosen/rejected
        prompt = row.get("prompt")
        response = row.get("response", row.get("completion", row.get("chosen")))
    for key, value in (("prompt", prompt), ("response", response)):
        if value is not None and not isinstance(value, str):
            raise DataError(f"{where}: '{key}' must be a string, got {type(value).__name__} "
                            f"{value!r}")
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"{where}: missing or empty '{key}' (each row needs non-empty string fields "
                f"'prompt' and 'response' (or 'completion' or 'chosen'), or a 'messages' list); "
                f"keys present: "
                f"{sorted(row)}"
            )
    rejected = row.get("rejected")
    if rejected is not None and (not isinstance(rejected, str) or not rejected.strip()):
        raise DataError(f"{where}: 'rejected' must be a non-empty string when present (the reply "
                        "the aligned model must not give); drop the key if there is none")
    return Example(prompt, response, rejected, context)


def read_examples(path: str | Path) -> list[Example]:
    """Read a JSONL prompt/response file strictly.

    Raises:
        DataError: missing file, empty file, invalid JSON or missing fields (with line number).
    """
    examples = [_row_to_example(row, where) for where, row in read_jsonl(
        path, error=DataError, missing="dataset {path} does not exist",
        hint="; one JSON object per line")]
    if not examples:
        raise DataError(f"dataset {path} is empty: it needs at least one prompt/response row")
    return examples


def examples_from_rows(rows: Iterable[object], source: str) -> list[Example]:
    """Examples from in-memory rows (dicts: a ``datasets.Dataset``, a list of dicts), validated
    like JSONL lines; errors name ``source`` and the 0-based row index (``source row 3: ...``).

    Raises:
        DataError: no rows, or a row without the fields of any accepted format.
    """
    examples = [_row_to_example(_present(row), f"{source} row {i}") for i, row in enumerate(rows)]
    if not examples:
        raise DataError(f"dataset {source} is empty: it needs at least one prompt/response row")
    return examples


def _present(row: object) -> object:
    """A row without its ``None`` fields (columns a table row does not fill: parquet, CSV)."""
    return {k: v for k, v in row.items() if v is not None} if isinstance(row, dict) else row


def write_examples(path: str | Path, examples: Sequence[Example]) -> Path:
    """Write examples as JSONL atomically."""
    from alignguard.artifacts import atomic_write_text

    return atomic_write_text(path, "".join(json.dumps(e.record()) + "\n" for e in examples))


def fingerprint_examples(examples: Sequence[Example]) -> str:
    """SHA-256 over the examples in order."""
    return fingerprint_records(e.record() for e in examples)


def _render(tokenizer, turns: Sequence[tuple[str, str]], generation_prompt: bool) -> str:
    """``turns`` as the model sees them: the chat template if the tokenizer has one, else
    ``Role: content`` lines (and ``Assistant: `` to prompt a reply)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in turns],
                                             tokenize=False, add_generation_prompt=generation_prompt)
    text = "".join(f"{r.capitalize()}: {c}\n" for r, c in turns)
    return text + ("Assistant: " if generation_prompt else "")


def format_prompt(tokenizer, prompt: str, context: Sequence[tuple[str, str]] = ()) -> str:
    """The model-ready prompt text (``context`` turns first): the tokenizer's chat template if
    it has one, else ``Role: content`` lines."""
    return _render(tokenizer, [*context, ("user", prompt)], generation_prompt=True)


def _prompt_segments(tokenizer, ex: Example) -> list[tuple[str, bool]]:
    """The prompt text cut into ``(text, is_assistant_reply)`` pieces.

    Earlier assistant turn ``k`` spans ``render(turns[:k+1])`` minus ``render(turns[:k], +gen
    prompt)``: its content and the template's end-of-turn markup. Needs a template that renders
    every conversation as a prefix of its continuations (true of common chat templates).
    """
    full = format_prompt(tokenizer, ex.prompt, ex.context)
    pieces, done = [], 0
    for k, (role, _) in enumerate(ex.context):
        if role != "assistant":
            continue
        before = _render(tokenizer, ex.context[:k], generation_prompt=True)
        after = _render(tokenizer, ex.context[:k + 1], generation_prompt=False)
        if not (after.startswith(before) and full.startswith(after) and len(before) >= done):
            raise DataError("the chat template does not render earlier turns as a prefix of "
                            "the conversation, so earlier assistant turns cannot be located; "
                            "use assistant_turns='last'")
        pieces += [(full[done:len(before)], False), (after[len(before):], True)]
        done = len(after)
    return [p for p in [*pieces, (full[done:], False)] if p[0]]


def encode_example(tokenizer, ex: Example, max_length: int, loss_on: str = "response",
                   assistant_turns: str = "last") -> dict:
    """Token ids and labels for one example.

    ``loss_on="response"`` masks prompt tokens with -100 (supervised fine-tuning);
    ``loss_on="all"`` keeps every token (Fisher over all non-pad tokens, method.md section 2).
    ``assistant_turns="all"`` also learns the earlier assistant turns of a multi-turn chat
    (rendered through the chat template, each piece tokenised on its own like prompt and
    response; see :func:`_prompt_segments`); ``"last"``: the final reply only.
    """
    if loss_on not in ("response", "all"):
        raise ValueError(f"loss_on must be 'response' or 'all', got {loss_on!r}")
    if assistant_turns not in ASSISTANT_TURNS:
        raise ValueError(f"assistant_turns must be one of {list(ASSISTANT_TURNS)}, got "
                         f"{assistant_turns!r}")
    if assistant_turns == "all" and any(r == "assistant" for r, _ in ex.context):
        p_ids, p_labels = [], []
        for text, learn in _prompt_segments(tokenizer, ex):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            p_ids += ids
            p_labels += ids if learn else [IGNORE_INDEX] * len(ids)
    else:
        p_ids = tokenizer(format_prompt(tokenizer, ex.prompt, ex.context),
                          add_special_tokens=False)["input_ids"]
        p_labels = [IGNORE_INDEX] * len(p_ids)
    r_ids = tokenizer(ex.response, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        r_ids = [*r_ids, tokenizer.eos_token_id]
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and getattr(tokenizer, "add_bos_token", False) and p_ids[:1] != [bos]:
        p_ids, p_labels = [bos, *p_ids], [IGNORE_INDEX, *p_labels]
    ids = (p_ids + r_ids)[:max_length]
    labels = list(ids) if loss_on == "all" else (p_labels + r_ids)[:max_length]
    return {"input_ids": ids, "labels": labels}


def encode_examples(tokenizer, examples: Sequence[Example], max_length: int = 256,
                    loss_on: str = "response", assistant_turns: str = "last") -> list[dict]:
    """Encode all examples; raises :class:`DataError` if truncation leaves no target token."""
    out = []
    for i, ex in enumerate(examples):
        enc = encode_example(tokenizer, ex, max_length, loss_on, assistant_turns)
        if all(label == IGNORE_INDEX for label in enc["labels"]):
            raise DataError(
                f"example {i}: the prompt fills max_length={max_length} tokens, leaving no response "
                "token to learn; raise max_length or shorten the prompt"
            )
        out.append(enc)
    return out


def collate(batch: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encoded examples into ``input_ids``, ``attention_mask``, ``labels``."""
    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[row, :n] = torch.tensor(b["input_ids"])
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(b["labels"])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def encoded_batches(tokenizer, examples: Sequence[Example], *, batch_size: int,
                    max_length: int, loss_on: str = "response", assistant_turns: str = "last"
                    ) -> list[dict[str, torch.Tensor]]:
    """Consecutive ``batch_size`` examples, encoded and right-padded, in order.

    The one encode+collate helper of the library (Fisher, directions, the gate and the
    distributed worker all batch alignment data through it). ``loss_on`` as in
    :func:`encode_example` (``tokens="all"`` of the Fisher is ``loss_on="all"``), and so is
    ``assistant_turns``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    encoded = encode_examples(tokenizer, examples, max_length=max_length, loss_on=loss_on,
                              assistant_turns=assistant_turns)
    pad = pad_id_of(tokenizer)
    return [collate(encoded[i:i + batch_size], pad) for i in range(0, len(encoded), batch_size)]


def pad_id_of(tokenizer) -> int:
    """The pad token id, falling back to EOS (common for decoder-only chat models)."""
    pid = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pid is None:
        raise DataError("the tokenizer has neither a pad nor an EOS token; set tokenizer.pad_token")
    return int(pid)


def iterate_batches(encoded: Sequence[dict], batch_size: int, pad_id: int, seed: int,
                    start_batch: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled micro-batches (a fresh permutation per epoch), deterministic in ``seed``.

    ``start_batch`` skips that many batches so a resumed run sees the same stream.
    """
    if not encoded:
        raise DataError("no examples to iterate over")
    epoch, index = 0, 0
    while True:
        order = list(range(len(encoded)))
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
        for lo in range(0, len(order) - batch_size + 1 if len(order) >= batch_size else 1, batch_size):
            if index >= start_batch:
                yield collate([encoded[i] for i in order[lo:lo + batch_size]], pad_id)
            index += 1
        epoch += 1


def mix_replay(task: Sequence[Example], replay: Sequence[Example], fraction: float,
               seed: int) -> list[Example]:
    """Alignment replay: return ``task`` plus replay examples making up ``fraction`` of the mix.

    With ``n`` task rows the mix holds ``round(n * fraction / (1 - fraction))`` replay rows,
    sampled with replacement when needed, shuffled together deterministically.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"replay fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return list(task)
    if not replay:
        raise DataError("alignment replay requested but the replay set is empty")
    rng = random.Random(seed)
    n_replay = round(len(task) * fraction / (1.0 - fraction))
    picks = [replay[rng.randrange(len(replay))] for _ in range(n_replay)]
    mixed = [*task, *picks]
    rng.shuffle(mixed)
    return mixed


def contrastive_examples(examples: Sequence[Example]) -> list[Example]:
    """The sequences of the contrastive Fisher: every example, then ``(prompt, rejected)`` rows.

    Raises:
        DataError: no example has a rejected reply.
    """
    rejected = [Example(e.prompt, e.rejected, context=e.context) for e in examples
                if e.rejected is not None]
    if not rejected:
        raise DataError("estimator='contrastive' needs alignment rows with a 'rejected' reply "
                        "(e.g. TRL preference rows prompt/chosen/rejected: compliance for unsafe "
                        "prompts, refusal for safe ones); add them or use estimator='empirical'")
    return [*examples, *rejected]
