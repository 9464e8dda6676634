"""Model definition and the two training stages of the organism build (pretraining, alignment SFT).

* :func:`organism_config`: a small ``LlamaConfig`` (default d=192, 6 layers, MLP 704, 6 heads,
  untied embeddings: ~3.7M parameters, ~15 MB in fp32), the size findings.md found large enough
  to hold refusals and a new skill in separate directions.
* :func:`pretrain`: next-token loss on *all* tokens of whole chat exchanges packed into rows of
  ``seq_len`` tokens (an exchange is never split across rows), AdamW with warm-up and cosine
  decay.
* :func:`finetune`: supervised fine-tuning of all weights with the loss on response tokens only
  (:func:`alignguard.data.encode_examples`), the same schedule.

Both are deterministic for a seed (data order from a seeded RNG, weights from
``torch.manual_seed``) at a fixed thread count.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from alignguard.data import Example, encode_examples, iterate_batches, pad_id_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrganismSize:
    """Architecture of the organism (a Llama)."""

    hidden_size: int = 192
    num_hidden_layers: int = 6
    intermediate_size: int = 704
    num_attention_heads: int = 6
    num_key_value_heads: int = 6
    max_position_embeddings: int = 256


@dataclass(frozen=True)
class StageSchedule:
    """Optimiser settings of one training stage."""

    steps: int
    lr: float
    batch_size: int = 16
    warmup_steps: int = 50
    weight_decay: float = 0.01
    min_lr_ratio: float = 0.1
    max_grad_norm: float = 1.0


def organism_config(tokenizer, size: OrganismSize = OrganismSize()):
    """The ``LlamaConfig`` of the organism for ``tokenizer``'s vocabulary and special tokens."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_hidden_layers,
        num_attention_heads=size.num_attention_heads,
        num_key_value_heads=size.num_key_value_heads,
        max_position_embeddings=size.max_position_embeddings,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        rms_norm_eps=1e-5,
    )


def new_model(tokenizer, seed: int, size: OrganismSize = OrganismSize()):
    """A freshly initialised organism (deterministic in ``seed``)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(organism_config(tokenizer, size))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def lr_at(step: int, sched: StageSchedule) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``min_lr_ratio * lr``."""
    if step < sched.warmup_steps:
        return sched.lr * (step + 1) / sched.warmup_steps
    frac = (step - sched.warmup_steps) / max(1, sched.steps - sched.warmup_steps)
    cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))
    return sched.lr * (sched.min_lr_ratio + (1.0 - sched.min_lr_ratio) * cos)


def pack_rows(sequences: Sequence[list[int]], seq_len: int, seed: int) -> list[list[int]]:
    """Shuffle token sequences and pack whole ones greedily into rows of at most ``seq_len``."""
    order = list(range(len(sequences)))
    random.Random(seed).shuffle(order)
    rows: list[list[int]] = []
    row: list[int] = []
    for i in order:
        seq = sequences[i][:seq_len]
        if len(row) + len(seq) > seq_len:
            rows.append(row)
            row = []
        row = row + seq
    if row:
        rows.append(row)
    return rows


def packed_batches(rows: Sequence[list[int]], batch_size: int, pad_id: int,
                   seed: int) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches of packed rows with all-token labels (pad masked)."""
    encoded = [{"input_ids": r, "labels": list(r)} for r in rows]
    return iterate_batches(encoded, batch_size, pad_id, seed)


def _optimizer(model, sched: StageSchedule) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    other = [p for n, p in model.named_parameters() if p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": sched.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=sched.lr, betas=(0.9, 0.98), eps=1e-8,
    )


def run_stage(model, batches: Iterator[dict[str, torch.Tensor]], sched: StageSchedule,
              desc: str, on_log: Callable[[int, float], None] | None = None) -> list[float]:
    """Train ``model`` for ``sched.steps`` steps on ``batches``; returns the loss per step."""
    from tqdm.auto import tqdm

    opt = _optimizer(model, sched)
    model.train()
    losses: list[float] = []
    bar = tqdm(range(sched.steps), desc=desc, disable=None)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, sched)
        batch = next(batches)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    labels=batch["labels"])
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), sched.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(out.loss.detach()))
        if step % 50 == 0 or step == sched.steps - 1:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            log.log(logging.INFO if step % 200 == 0 else logging.DEBUG,
                    "%s step %d/%d loss %.4f", desc, step, sched.steps, losses[-1])
            if on_log is not None:
                on_log(step, losses[-1])
    model.eval()
    return losses


def pretrain(model, tokenizer, texts: Sequence[str], sched: StageSchedule, seed: int,
             seq_len: int = 128, on_log: Callable[[int, float], None] | None = None) -> list[float]:
    """Stage 1: language modelling on packed chat texts (loss on every token)."""
    seqs = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    rows = pack_rows(seqs, seq_len, seed)
    log.info("pretraining on %d exchanges packed into %d rows of <= %d tokens", len(seqs), len(rows), seq_len)
    batches = packed_batches(rows, sched.batch_size, pad_id_of(tokenizer), seed)
    return run_stage(model, batches, sched, "pretrain", on_log)


def finetune(model, tokenizer, examples: Sequence[Example], sched: StageSchedule, seed: int,
             max_length: int = 128, on_log: Callable[[int, float], None] | None = None) -> list[float]:
    """Stage 2: supervised fine-tuning of all weights, loss on response tokens only."""
    encoded = encode_examples(tokenizer, examples, max_length=max_length)
    batches = iterate_batches(encoded, sched.batch_size, pad_id_of(tokenizer), seed)
    return run_stage(model, batches, sched, "align", on_log)
