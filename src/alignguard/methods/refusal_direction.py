"""The refusal-direction anchor (ours, after ProCon, arXiv 2509.06795): keep the fine-tuned
model's hidden states from moving away from refusal along the aligned model's refusal
direction.

Refusal in aligned chat models is mediated by one direction of the residual stream, the
difference of the mean activations on harmful and harmless prompts at the last prompt token
(Arditi et al., arXiv 2406.11717); fine-tuning drifts the hidden states along it, and ProCon
constrains each training sample's projection on it. Here, at the aligned weights ``W0``, per layer
``l``::

    r_l = mean_{harmful} h_l(x) - mean_{harmless} h_l(x),    u_l = r_l / ||r_l||

over the alignment rows (harmful: the rows whose reply is a refusal by the keyword judge's
markers), with ``h_l(x)`` the output of layer ``l`` at the last prompt token. On ``B`` task rows
(``source = "batch"``, the default: the first ``B`` rows of each task micro-batch, their
``p_theta`` read from the task forward itself; ``"stream"``: ``B`` rows per optimizer step from a
seeded stream of the training rows, through a forward of their own) it adds::

    lam_rdir * mean_{l, task rows} relu(p0 - p_theta)^2 / ||r_l||^2

with ``p = <h_l(x), u_l>`` under the fine-tuned weights (``p_theta``) and the aligned ones
(``p0``, the adapter disabled). The term is one-sided: only a move away from refusal (along
``-u_l``) is penalised, so the task stays free to move its rows anywhere else. The task rows are
where the drift is taught: a task that teaches "always comply" moves every prompt along ``-u_l``,
its own rows included, and held-out harmful prompts with them. Dividing by the aligned gap
``||r_l||^2`` makes each layer's term the squared fraction of the harmful/harmless separation
lost. Options (docs/method.md has their measurements): ``task = "two-sided"`` holds the task
rows' projections where they were, ``(p_theta - p0)^2``, as ProCon constrains its training
samples (on the organism it cost 5-13 points of task where the one-sided form cost none);
``refusals = True`` adds the same one-sided term on ``B`` alignment refusal rows (the KL anchor of
the default already holds those rows); ``task = "off"`` keeps the refusal rows only;
``cap = "harmful"`` (ours, stop 49; not adopted) holds each task row at ``min(p0, m_l)``, with
``m_l = <mean_{harmful} h_l(x), u_l>`` the aligned harmful prompts' mean projection: a task row
that the aligned model puts further on the refusal side than its harmful prompts (the organism's
new-skill prompts, up to 2.3 harmful/harmless separations beyond that mean in its first layers)
may move back to that mean without penalty. ``precision = "bfloat16"`` (ours, stop 55) reads the
per-step ``p0`` from a bf16 copy of the aligned weights
(:func:`alignguard.methods.alignstream.reference_model`); the directions ``u_l`` are
estimated once in float32.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence

import torch
from torch.profiler import record_function

from alignguard.data import IGNORE_INDEX, Example, collate, pad_id_of
from alignguard.methods.alignstream import (
    PRECISIONS,
    AlignmentStream,
    StreamingComponent,
    device_of,
    evaluating,
    reference_model,
    trainable_parameters,
)
from alignguard.methods.base import State

log = logging.getLogger(__name__)

TASK_MODES = ("one-sided", "two-sided", "off")
CAPS = ("none", "harmful")  # task rows held at p0, or at min(p0, the harmful prompts' mean)
SOURCES = ("stream", "batch")  # where the task rows come from: their own stream, or the step's batch
DIRECTION_ROWS = 256  # at most this many harmful and this many harmless rows estimate r_l


def prompt_only(row: dict) -> dict:
    """``row`` cut after its last prompt token (the position whose state predicts the reply's
    first token, where refusal is decided); the whole row when truncation left no reply."""
    where = [i for i, label in enumerate(row["labels"]) if label != IGNORE_INDEX]
    end = where[0] if where and where[0] > 0 else len(row["input_ids"])
    return {"input_ids": row["input_ids"][:end], "labels": [IGNORE_INDEX] * end}


def prompt_stream(examples: Sequence[Example], tokenizer, *, batch_size: int, max_length: int,
                  seed: int) -> AlignmentStream:
    """A seeded, resumable stream of ``examples``' prompts (no reply tokens)."""
    stream = AlignmentStream(examples, tokenizer, batch_size=batch_size, max_length=max_length,
                             seed=seed)
    stream.encoded = [prompt_only(r) for r in stream.encoded]
    return stream


def last_prompt_states(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(B, L, d)``: every layer's output at each row's last (non-pad) token, float32.

    The logits are not needed: where the model takes ``logits_to_keep`` (transformers' causal
    LMs) only one position's are computed, which skips most of the output projection's cost.
    """
    kw = {"logits_to_keep": 1} if _keeps_logits(model) else {}
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                output_hidden_states=True, **kw)
    mask = batch["attention_mask"]
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)  # last real token
    rows = torch.arange(last.shape[0], device=last.device)
    return torch.stack([h[rows, last] for h in out.hidden_states[1:]], dim=1).float()


def _keeps_logits(model: torch.nn.Module) -> bool:
    """Whether ``model``'s (or, under PEFT, its base model's) forward takes ``logits_to_keep``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


class RefusalDirection(StreamingComponent):
    """``lam_rdir`` times the refusal-direction constraint of the module docstring.

    Cost per step: ``batch`` source, one forward without gradients (adapter disabled) on the
    ``B`` rows' prompts per micro-batch; ``stream`` source, two forwards on ``B`` task prompts (one
    without gradients) and the backward of one (``2B`` prompts with ``refusals``); once, at
    ``W0``, a forward over up to 512 alignment prompts.
    """

    name = "refusal_direction"

    def __init__(self, lam: float, batch_size: int, max_length: int, seed: int,
                 task: str = "one-sided", refusals: bool = False, source: str = "batch",
                 cap: str = "none", precision: str = "float32") -> None:
        if not lam > 0:
            raise ValueError(f"the refusal-direction anchor's weight must be > 0, got {lam}")
        if task not in TASK_MODES:
            raise ValueError(f"task must be one of {TASK_MODES}, got {task!r}")
        if task == "off" and not refusals:
            raise ValueError("with task='off' and refusals=False the anchor holds no rows")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if cap not in CAPS:
            raise ValueError(f"cap must be one of {CAPS}, got {cap!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        self.task_mode, self.refusals, self.source, self.cap = task, refusals, source, cap
        self.reads_hidden_states = source == "batch" and task != "off"
        self.lam, self.batch_size, self.max_length, self.seed = lam, batch_size, max_length, seed
        self.tokenizer = None
        self.harmful: list[Example] = []
        self.harmless: list[Example] = []
        self.stream: AlignmentStream | None = None  # refusal rows (with ``refusals``)
        self.task: AlignmentStream | None = None
        self.model: torch.nn.Module | None = None
        self.units: torch.Tensor | None = None  # (L, d) unit directions u_l
        self.gaps: torch.Tensor | None = None  # (L,) ||r_l||
        self.harmful_level: torch.Tensor | None = None  # (L,) m_l, the harmful prompts' mean <h_l, u_l>
        self.last = {"harmful": 0.0, "task": 0.0}
        self._warned = False

    def prepare(self, artifacts) -> None:
        from alignguard.drift.judges.keyword import KeywordJudge

        judge = KeywordJudge()
        self.tokenizer = artifacts.tokenizer
        self.harmful = [e for e in artifacts.examples if judge.is_refusal(e.response)]
        self.harmless = [e for e in artifacts.examples if not judge.is_refusal(e.response)]
        if not self.harmful or not self.harmless:
            raise ValueError("the refusal-direction anchor needs alignment rows of both kinds: "
                             f"{len(self.harmful)} refusals and {len(self.harmless)} others found")
        if self.refusals:
            self.stream = prompt_stream(self.harmful, self.tokenizer, batch_size=self.batch_size,
                                        max_length=self.max_length, seed=self.seed)

    def examples(self, rows: list[Example], seed: int) -> list[Example]:
        """The task rows, unchanged; their prompts also feed the constraint on training rows."""
        if self.tokenizer is not None and rows and self.task_mode != "off" and self.source == "stream":
            self.task = prompt_stream(rows, self.tokenizer, batch_size=self.batch_size,
                                      max_length=self.max_length, seed=self.seed + 1)
        return rows

    def before_training(self, model: torch.nn.Module) -> None:
        if self.task_mode != "off" and self.source == "stream" and self.task is None:
            raise ValueError("the refusal-direction anchor holds the task rows' prompts but was "
                             "given none; with the Trainer integration pass rows=... (the task "
                             "rows as Examples) to alignguard.training.hf.prepare_method")
        self.model = model
        if self.units is None:
            self.units, self.gaps, self.harmful_level = self._directions(model)
            log.info("refusal directions: %d layers, separation %s", len(self.gaps),
                     ", ".join(f"{g:.3g}" for g in self.gaps.tolist()))

    def rebind(self, model: torch.nn.Module) -> None:
        self.model = model

    @torch.no_grad()
    def _directions(self, model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(u_l, ||r_l||, m_l)`` at ``W0`` (adapter disabled, eval mode)."""
        device = device_of(trainable_parameters(model))
        means = []
        for rows in (self.harmful[:DIRECTION_ROWS], self.harmless[:DIRECTION_ROWS]):
            stream = prompt_stream(rows, self.tokenizer, batch_size=16,
                                   max_length=self.max_length, seed=self.seed)
            total = None
            for start in range(0, len(stream.encoded), 16):
                batch = collate(stream.encoded[start:start + 16], pad_id_of(self.tokenizer))
                states = self._reference_states({k: v.to(device) for k, v in batch.items()},
                                                 "float32")
                total = states.sum(0) if total is None else total + states.sum(0)
            means.append(total / len(stream.encoded))
        r = means[0] - means[1]
        gaps = r.norm(dim=-1).clamp_min(1e-8)
        units = r / gaps[:, None]
        return units, gaps, (means[0] * units).sum(-1)

    def _reference_states(self, batch: dict[str, torch.Tensor],
                          precision: str | None = None) -> torch.Tensor:
        """Last-prompt-token states at ``W0`` in ``precision`` (default: the anchor's, for the
        per-step ``p0``; the one-time direction estimate passes ``"float32"``)."""
        with torch.no_grad(), evaluating(self.model), \
                reference_model(self.model, precision or self.precision) as ref:
            return last_prompt_states(ref, batch)

    def _shift(self, batch: dict[str, torch.Tensor], task: bool = False) -> torch.Tensor:
        """``(B, L)``: ``(p_theta - p0) / ||r_l||`` per row and layer (``task``: ``p0`` capped as
        :meth:`_task_reference` says)."""
        p0 = (self._reference_states(batch) * self.units).sum(-1)
        p0 = self._task_reference(p0) if task else p0
        p = (last_prompt_states(self.model, batch) * self.units).sum(-1)
        return (p - p0) / self.gaps

    def _task_reference(self, p0: torch.Tensor) -> torch.Tensor:
        """Where a task row is held: ``p0``, or ``min(p0, m_l)`` with ``cap = "harmful"``."""
        if self.cap == "none":
            return p0
        if self.harmful_level is None:
            raise ValueError("cap='harmful' needs the harmful prompts' mean projection, which this "
                             "checkpoint of the refusal-direction anchor does not hold")
        return torch.minimum(p0, self.harmful_level.to(p0.device))

    def _held(self, shift: torch.Tensor) -> torch.Tensor:
        """The task term of the shifts ``(p_theta - p0) / ||r_l||``: mean squared move away from
        refusal (one-sided) or mean squared move (two-sided)."""
        return (torch.relu(-shift) if self.task_mode == "one-sided" else shift).pow(2).mean()

    def penalty(self) -> tuple[torch.Tensor, dict[str, float]]:
        device = device_of(trainable_parameters(self.model))
        self.units, self.gaps = self.units.to(device), self.gaps.to(device)
        total = torch.zeros((), device=device)
        if self.stream is not None:
            harmful = torch.relu(-self._shift(self.stream.next(device))).pow(2).mean()
            total = total + harmful
            self.last["harmful"] = float(harmful.detach())
        if self.task is not None:
            task = self._held(self._shift(self.task.next(device), task=True))
            total = total + task
            self.last["task"] = float(task.detach())
        return self.lam * total, {"rdir_harmful": self.last["harmful"],
                                  "rdir_task": self.last["task"]}

    def task_penalty(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                     hidden_states) -> tuple[torch.Tensor | None, dict[str, float]]:
        """``source = "batch"``: the task term on the first ``B`` rows of the task micro-batch,
        their ``p_theta`` read from the task forward's own hidden states (no second forward with
        gradients) and ``p0`` from one no-grad forward of their prompts."""
        if not self.reads_hidden_states or hidden_states is None:
            return None, {}
        labels = batch["labels"] != IGNORE_INDEX
        first = labels.int().argmax(dim=1)
        rows = (labels.any(dim=1) & (first > 0)).nonzero().squeeze(1)[: self.batch_size]
        if rows.numel() == 0:
            if not self._warned:
                self._warned = True
                log.warning("the refusal-direction anchor found no prompt in a task batch (the "
                            "labels start at the first token), so it holds nothing there; mask "
                            "the prompt out of the labels (TRL: completion-only loss) for it to act")
            return None, {}
        pos = first[rows] - 1  # the last prompt token of each row
        units, gaps = self.units.to(pos.device), self.gaps.to(pos.device)
        p = (torch.stack([h[rows, pos] for h in hidden_states[1:]], dim=1).float() * units).sum(-1)
        width = int(pos.max()) + 1
        prompts = {"input_ids": batch["input_ids"][rows, :width],
                   "attention_mask": batch["attention_mask"][rows, :width]
                   * (torch.arange(width, device=pos.device)[None] <= pos[:, None])}
        with record_function("alignguard/refusal_direction/reference"):
            p0 = self._task_reference((self._reference_states(prompts) * units).sum(-1))
        task = self._held((p - p0) / gaps)
        self.last["task"] = float(task.detach())
        return self.lam * task, {"rdir_task": self.last["task"]}

    def log_values(self) -> dict[str, float]:
        return {"reg/rdir_harmful": self.last["harmful"], "reg/rdir_task": self.last["task"],
                "weighted/rdir": self.lam * (self.last["harmful"] + self.last["task"])}

    def state_dict(self) -> State:
        state: State = {"units": self.units, "gaps": self.gaps}
        if self.harmful_level is not None:
            state["harmful_level"] = self.harmful_level
        if self.stream is not None:
            state["position"] = self.stream.position
        if self.task is not None:
            state["task_position"] = self.task.position
        return state

    def load_state_dict(self, state: State) -> None:
        if self.stream is not None:
            self.stream.position = int(state["position"])
        self.units, self.gaps = state["units"], state["gaps"]
        self.harmful_level = state.get("harmful_level")
        if self.task is not None:
            self.task.position = int(state.get("task_position", 0))
