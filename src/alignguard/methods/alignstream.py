"""Alignment micro-batches for the defenses that look at alignment rows every step, and the two
losses they take on them (the reply NLL and the KL to the aligned model).

The stream is deterministic and resumable from one integer: ``position`` counts the alignment
rows consumed so far; row ``i`` of the stream is row ``perm_e[i % n]`` of the alignment set, with
``perm_e`` a seeded permutation per epoch ``e = i // n`` (as :func:`alignguard.data.iterate_batches`
shuffles the task rows). Every rank draws the same whole batch, so the penalty (and a projection
computed from it) is the same on every replica; no collective is needed.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import random
import weakref
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from alignguard.data import IGNORE_INDEX, Example, collate, encode_examples, pad_id_of
from alignguard.methods.base import Component

log = logging.getLogger(__name__)

class AlignmentStream:
    """Endless, seeded batches of encoded alignment rows (the chosen replies are the labels).

    Attributes:
        batch_size: rows per batch.
        reply_tokens: when > 0, each row keeps only its first ``reply_tokens`` reply tokens.
        refusal_tokens: when > 0, rows whose reply is a refusal keep this many instead
            (:func:`reply_spans`).
        position: alignment rows drawn so far (the whole resumable state).
    """

    def __init__(self, examples: Sequence[Example], tokenizer, *, batch_size: int,
                 max_length: int, seed: int, reply_tokens: int = 0, refusal_tokens: int = 0) -> None:
        if not examples:
            raise ValueError("the defense needs alignment rows; the alignment data set is empty")
        self.encoded = encode_examples(tokenizer, examples, max_length=max_length, loss_on="response")
        spans = reply_spans(examples, reply_tokens, refusal_tokens)
        self.encoded = [first_reply_tokens(row, k) if k > 0 else row
                        for row, k in zip(self.encoded, spans, strict=True)]
        self.pad, self.batch_size, self.seed = pad_id_of(tokenizer), batch_size, seed
        self.position = 0
        self._perms: dict[int, list[int]] = {}

    def _row(self, i: int) -> dict:
        n = len(self.encoded)
        epoch = i // n
        if epoch not in self._perms:
            order = list(range(n))
            random.Random(self.seed * 1_000_003 + 7919 + epoch).shuffle(order)
            self._perms = {epoch: order}  # only the current epoch is needed
        return self.encoded[self._perms[epoch][i % n]]

    def next(self, device: torch.device | str, rows: int | None = None) -> dict[str, torch.Tensor]:
        """The next ``rows`` (default ``batch_size``) rows, collated, on ``device``."""
        rows = rows or self.batch_size
        batch = collate([self._row(self.position + j) for j in range(rows)], self.pad)
        self.position += rows
        return {k: v.to(device) for k, v in batch.items()}


def reply_spans(examples: Sequence[Example], reply_tokens: int, refusal_tokens: int) -> list[int]:
    """Reply tokens to keep per row (0: all): ``refusal_tokens`` for a row whose reply is a
    refusal by the keyword judge's markers (``refusal_tokens > 0`` only), else ``reply_tokens``.

    Ours: with a large ``refusal_tokens`` a refusal is anchored through its end, so that a
    fine-tuned model keeps stopping where the aligned one stops (a refusal a few tokens deep goes
    on after it: Qi et al., arXiv 2406.05946), while a helpful reply is held only at its opening,
    leaving the rest free for the task.
    """
    if refusal_tokens <= 0:
        return [reply_tokens] * len(examples)
    from alignguard.drift.judges.keyword import KeywordJudge

    judge = KeywordJudge()
    spans = [refusal_tokens if judge.is_refusal(e.response) else reply_tokens for e in examples]
    n = sum(k == refusal_tokens for k in spans) if refusal_tokens != reply_tokens else len(examples)
    log.info("anchor spans: %d refusal rows x %d reply tokens, %d others x %s", n, refusal_tokens,
             len(examples) - n, reply_tokens or "all")
    return spans


def first_reply_tokens(row: dict, k: int) -> dict:
    """``row`` cut after its first ``k`` reply (label) tokens: the opening of a reply, where a
    safety-aligned model decides whether it refuses (Qi et al., arXiv 2406.05946)."""
    where = [i for i, label in enumerate(row["labels"]) if label != IGNORE_INDEX]
    if len(where) <= k:
        return row
    end = where[k - 1] + 1
    return {"input_ids": row["input_ids"][:end], "labels": row["labels"][:end]}


def _reply_logits(model: torch.nn.Module, batch: dict[str, torch.Tensor]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 next-token logits at the reply positions ``(N, V)`` (row by row, in order) and
    their labels ``(N,)``.

    Where the model takes a boolean ``(B, T)`` ``logits_to_keep`` (transformers' causal LMs
    since ``slice_logits_to_keep``), the output projection runs on the ``N`` reply positions
    only instead of all ``B x T``: the same numbers, without the vocabulary-sized product (and
    its backward) on the prompt and padding positions (for SmolLM2 the output projection is a
    fifth of a token's forward).
    """
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if keeps_positions(model):
        keep = F.pad(mask, (0, 1), value=False)  # position t predicts label t + 1
        logits = model(**kwargs, logits_to_keep=keep).logits
        if logits.ndim == 2 and logits.shape[0] == int(mask.sum()):
            return logits.float(), labels[mask]
    return model(**kwargs).logits[:, :-1][mask].float(), labels[mask]


def keeps_positions(model: torch.nn.Module) -> bool:
    """Whether ``model`` (or, under PEFT, its base model) computes logits only at the positions
    of a boolean ``logits_to_keep`` mask (transformers >= 5 causal LMs)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return _keeps_positions(type(base))


@functools.cache
def _keeps_positions(cls: type) -> bool:
    try:
        from transformers.modeling_utils import slice_logits_to_keep  # noqa: F401
    except ImportError:
        return False
    return "logits_to_keep" in inspect.signature(cls.forward).parameters


def reply_nll(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token NLL over the reply tokens of ``batch`` (a scalar, differentiable; 0
    when truncation left no reply token, rather than NaN)."""
    logits, labels = _reply_logits(model, batch)
    if labels.numel() == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels, reduction="mean")


PRECISIONS = ("float32", "bfloat16")
_FROZEN_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> bf16 W0


def frozen_reference(model: torch.nn.Module) -> torch.nn.Module:
    """A bfloat16 copy of ``model`` at its aligned weights ``W0`` (the LoRA layers unloaded),
    frozen and in eval mode; built once per model object and shared by every component that
    asks for it (ours, stop 55: docs/method.md, "Reference forwards in bfloat16").

    Only the adapter trains, so ``W0`` never changes and one copy serves the whole run (and is
    rebuilt identically on resume). It costs ``2 x`` (parameters) bytes of memory. On a CPU whose
    oneDNN computes in bf16 the linear layers' weights are also packed once
    (``torch.utils.mkldnn.to_mkldnn``, the same products): unpacked, every call re-lays out all
    the weights, which made a 2 x 40-token forward slower than in float32 (0.35 s against 0.17 s;
    packed 0.10 s; docs/method.md).
    """
    ref = _FROZEN_COPIES.get(model)
    if ref is None:
        if not hasattr(model, "disable_adapter"):
            raise ValueError("a bfloat16 reference copies the aligned weights under a PEFT "
                             "adapter; this model has none (set reg.ref_precision: float32)")
        ref = copy.deepcopy(model).unload().to(torch.bfloat16).eval().requires_grad_(False)
        if _packs_bf16(ref):
            from torch.utils import mkldnn

            ref = mkldnn.to_mkldnn(ref, torch.bfloat16)
        _FROZEN_COPIES[model] = ref
        log.info("bf16 reference copy of W0: %.0f MB", sum(p.numel() for p in ref.parameters()) * 2 / 2**20)
    return ref


def _packs_bf16(model: torch.nn.Module) -> bool:
    """Whether ``model`` is on a CPU with oneDNN bf16 kernels (AMX / AVX512-BF16)."""
    first = next(model.parameters(), None)
    return (first is not None and first.device.type == "cpu" and torch.backends.mkldnn.is_available()
            and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()))


@contextlib.contextmanager
def reference_model(model: torch.nn.Module, precision: str = "float32") -> Iterator[torch.nn.Module]:
    """The module that computes the aligned model ``W0`` for a no-grad forward: ``model`` itself
    with its adapter disabled (PEFT's ``disable_adapter``) in ``"float32"``, or its
    :func:`frozen_reference` in ``"bfloat16"``.

    A frozen reference in half precision is the usual economy of KL-to-reference training (RLHF's
    reference policy is commonly held in bf16); the fine-tuned model's own forwards and every
    gradient stay in the training precision. Where the hardware has bf16 matrix units (AMX CPUs,
    GPUs) its forward costs about a third of a float32 one.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"reference precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "bfloat16":
        yield frozen_reference(model)
        return
    disable = getattr(model, "disable_adapter", None)
    with disable() if disable is not None else contextlib.nullcontext():
        yield model


def reference_log_probs(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                        precision: str = "float32") -> torch.Tensor:
    """``log p_aligned`` at the reply positions, without gradients, from
    :func:`reference_model` in ``precision``; ``(N, V)`` float32."""
    with torch.no_grad(), reference_model(model, precision) as ref:
        logits, _ = _reply_logits(ref, batch)
    return F.log_softmax(logits.float(), dim=-1)


def kl_to_reference(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                    ref_log_probs: torch.Tensor, opening: int = 0) -> torch.Tensor:
    """``KL(p_aligned || p_theta)`` averaged over the reply tokens::

        (1/N) sum_t sum_v p_a(v | x_<t) [log p_a(v | x_<t) - log p_theta(v | x_<t)]

    With ``opening = k > 0`` (ours) the first ``k`` reply tokens of each row and the rest (the
    tails that :func:`reply_spans` keeps for refusals) are averaged separately and the two means
    added, so that long refusal tails do not dilute the openings, where refusal is decided.
    """
    logits, _ = _reply_logits(model, batch)
    log_q = F.log_softmax(logits, dim=-1)
    if opening <= 0:
        return F.kl_div(log_q, ref_log_probs, log_target=True, reduction="sum") / max(1, log_q.shape[0])
    per_token = F.kl_div(log_q, ref_log_probs, log_target=True, reduction="none").sum(-1)
    head = _reply_rank(batch) < opening
    total = per_token[head].mean() if bool(head.any()) else per_token.sum() * 0.0
    if bool((~head).any()):
        total = total + per_token[~head].mean()
    return total


def _reply_rank(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each reply token's index within its row's reply, in :func:`_reply_logits`' order."""
    mask = batch["labels"][:, 1:] != IGNORE_INDEX
    return (mask.long().cumsum(dim=1) - 1)[mask]


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """``model`` in eval mode (no dropout, no random draws) for the block, then its old mode.

    The gradient-surgery defenses compute their alignment gradients this way: deterministic,
    so every DDP replica projects with the same vector even when LoRA dropout is on.
    """
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def trainable_parameters(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """``(name, parameter)`` of every trainable parameter (the LoRA factors), in module order."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def device_of(params: Sequence[tuple[str, torch.nn.Parameter]]) -> torch.device:
    """The device of the first parameter (the alignment batches go there)."""
    return params[0][1].device if params else torch.device("cpu")


class StreamingComponent(Component):
    """A component that draws alignment rows from one seeded, cycling :class:`AlignmentStream`
    (it needs the alignment ``"examples"``); subclasses set ``batch_size``, ``max_length`` and
    ``seed``, and may override :meth:`stream_batch_size` and set ``reply_tokens``."""

    batch_size: int
    max_length: int
    seed: int
    reply_tokens: int = 0
    refusal_tokens: int = 0
    stream: AlignmentStream | None = None

    def stream_batch_size(self) -> int:
        """Rows per draw from the stream."""
        return self.batch_size

    def needs(self) -> set[str]:
        return {"examples"}

    def prepare(self, artifacts) -> None:
        self.stream = AlignmentStream(artifacts.examples, artifacts.tokenizer,
                                      batch_size=self.stream_batch_size(),
                                      max_length=self.max_length, seed=self.seed,
                                      reply_tokens=self.reply_tokens,
                                      refusal_tokens=self.refusal_tokens)
