"""Measuring forgetting at a point of a sweep: held-out losses and refusal.

Forgetting of a data set is the increase of its token-weighted mean next-token NLL over the
pre-fine-tuning value ``L0`` (Bethune et al. 2025; Kalajdzievski 2024; arXiv 2508.02079 reports
the same "loss escalation"):

    L(D)  = sum_i sum_t NLL_it / sum_i T_i        (T_i: target tokens of example i)
    F(D)  = L(D) - L0

Alignment data is scored on the aligned responses only (``loss_on="response"``), pre-training
text on all tokens (``loss_on="all"``), task data on responses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from alignguard.data import IGNORE_INDEX, Example, collate, encode_examples, pad_id_of

# model, tokenizer -> behaviour metrics; must hold "refusal" (refusal accuracy on unsafe prompts)
BehaviourFn = Callable[[torch.nn.Module, object], dict[str, float]]
BEHAVIOUR_KEYS = ("refusal", "harmful_compliance", "over_refusal", "task_score", "degenerate_rate")


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Evaluation mode without gradients; restores the previous train/eval mode on exit."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def mean_nll(model: torch.nn.Module, tokenizer, examples: Sequence[Example], *,
             loss_on: str = "response", batch_size: int = 16, max_length: int = 128) -> float:
    """Token-weighted mean next-token NLL of ``examples`` under ``model`` (nats per token).

    ``L = sum_i sum_t -log p(y_it | y_i<t) / sum_i T_i`` over the label tokens chosen by
    ``loss_on`` ("response": the response and EOS; "all": every token).

    Raises:
        ValueError: no examples, or a non-positive batch size.
    """
    if not examples:
        raise ValueError("mean_nll needs at least one example")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    encoded = encode_examples(tokenizer, examples, max_length, loss_on)
    pad = pad_id_of(tokenizer)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with eval_mode(model):
        for lo in range(0, len(encoded), batch_size):
            batch = {k: v.to(device) for k, v in collate(encoded[lo:lo + batch_size], pad).items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"][:, 1:]
            nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                  labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
            total += float(nll)
            count += int((labels != IGNORE_INDEX).sum())
    return total / count


@dataclass
class EvalSets:
    """Held-out data for one sweep: alignment, pre-training text and task examples."""

    align: list[Example]
    pretrain: list[Example]
    task: list[Example]
    batch_size: int = 16
    max_length: int = 128


def measure(model: torch.nn.Module, tokenizer, sets: EvalSets,
            behaviour_fn: BehaviourFn | None = None) -> dict[str, float | None]:
    """Losses on the held-out sets and behaviour metrics (:data:`BEHAVIOUR_KEYS`).

    Behaviour metrics come from ``behaviour_fn`` (greedy generation, e.g. the organism's
    evaluator); they are ``None`` without one.

    Raises:
        ValueError: ``behaviour_fn`` returned no ``"refusal"``.
    """
    kw = {"batch_size": sets.batch_size, "max_length": sets.max_length}
    out: dict[str, float | None] = {
        "align_loss": mean_nll(model, tokenizer, sets.align, loss_on="response", **kw),
        "pretrain_loss": mean_nll(model, tokenizer, sets.pretrain, loss_on="all", **kw),
        "task_loss": mean_nll(model, tokenizer, sets.task, loss_on="response", **kw),
        **dict.fromkeys(BEHAVIOUR_KEYS),
    }
    if behaviour_fn is not None:
        with eval_mode(model):
            metrics = behaviour_fn(model, tokenizer)
        if "refusal" not in metrics:
            raise ValueError(f"the behaviour function must return 'refusal'; got {sorted(metrics)}")
        out.update({k: float(metrics[k]) for k in BEHAVIOUR_KEYS if metrics.get(k) is not None})
    return out


def trainable_parameters(model: torch.nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (the LoRA factors for a PEFT model)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
