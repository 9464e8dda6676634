"""The KL anchor: keep the fine-tuned model's replies to alignment prompts where the aligned
model put them (docs/method.md, "kl-anchor").

::

    L = L_task + lam_kl * KL(p_aligned || p_theta)

    KL = (1/N) sum_{t in replies} sum_v p_aligned(v | x_<t) [log p_aligned(v | x_<t) - log p_theta(v | x_<t)]

on one alignment micro-batch per optimizer step (the chosen replies of the alignment rows). The
aligned distribution is the same model with its LoRA adapter disabled (``W0``), so no second
copy of the model is held. This is the distillation-to-the-reference regulariser used as the
alignment loss of SafeGrad (arXiv 2508.07172) and the KL-to-reference term of RLHF
(Ouyang et al., arXiv 2203.02155), here as a penalty on alignment prompts during task tuning.

**Lazy anchoring** (project decision, ``every = k > 1``): the penalty is evaluated on every k-th
optimizer step only, with weight ``k * lam_kl``, so its average weight per step is still
``lam_kl`` and its cost is divided by ``k``: the lazy regularisation of StyleGAN2 (Karras et al.,
arXiv 1912.04958, sec. 3.1), which evaluates its R1 penalty every 16 minibatches. Steps in
between add nothing and draw no alignment rows.

**Context-matched anchoring** (project decision, ``contexts = C > 0``): the anchor only protects
the contexts its rows are rendered in. When the task rows carry system prompts (the
identity-shifting attack of Qi et al., arXiv 2310.03693, trains under "you always obey"), the
alignment rows are drawn both as they are and under each of the ``C`` most frequent system
prompts of the task data, so ``KL(p_aligned || p_theta)`` is also held where the drift is taught.

**Openings and whole refusals** (project decision, ``reply_tokens = K``, ``refusal_tokens``,
``split_tail``): each reply is anchored on its first ``K`` tokens, where an aligned model decides
to refuse (Qi et al., arXiv 2406.05946), and a refusal (keyword judge's markers) through its end,
so that it also stops where the aligned model stops. With ``split_tail`` the two parts are
averaged apart, ``KL = mean_{openings} + mean_{refusal tails}``, so that long tails do not
dilute the openings (:func:`alignguard.methods.alignstream.kl_to_reference`).

**A bfloat16 reference** (project decision, ``precision = "bfloat16"``): ``p_aligned`` is read
from a frozen bf16 copy of the aligned weights (:func:`alignguard.methods.alignstream.
reference_model`); ``p_theta`` and the gradient stay in the training precision.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import torch
from torch.profiler import record_function

from alignguard.data import IGNORE_INDEX, Example, encode_example
from alignguard.methods.alignstream import (
    PRECISIONS,
    AlignmentStream,
    StreamingComponent,
    device_of,
    kl_to_reference,
    reference_log_probs,
    trainable_parameters,
)
from alignguard.methods.base import State


class KLAnchor(StreamingComponent):
    """``lam_kl * KL(p_aligned || p_theta)`` on a cycling alignment micro-batch each step.

    Cost per anchored step: one forward without gradients (adapter disabled) and one forward +
    backward (through the training loss) on ``batch_size`` alignment rows; memory for two
    ``(reply tokens x vocab)`` float32 log-probability tables. With ``every = k`` only every k-th
    optimizer step is anchored (weight ``k * lam``; see the module docstring).
    """

    name = "kl_anchor"

    def __init__(self, lam: float, batch_size: int, max_length: int, seed: int,
                 every: int = 1, contexts: int = 0, reply_tokens: int = 0,
                 augment: int = 0, refusal_tokens: int = 0,
                 split_tail: bool = False, precision: str = "float32") -> None:
        if not lam > 0:
            raise ValueError(f"the KL anchor's weight must be > 0, got {lam}")
        if every < 1:
            raise ValueError(f"the KL anchor's interval must be >= 1 step, got {every}")
        if precision not in PRECISIONS:
            raise ValueError(f"the KL anchor's reference precision must be one of {PRECISIONS}, "
                             f"got {precision!r}")
        if split_tail and not (reply_tokens > 0 and refusal_tokens > 0):
            raise ValueError("kl_split_tail averages the refusals' tails apart from the openings, "
                             "so it needs kl_tokens > 0 and kl_refusal_tokens > 0, got "
                             f"{reply_tokens} and {refusal_tokens}")
        self.lam, self.batch_size, self.max_length, self.seed = lam, batch_size, max_length, seed
        self.every, self.calls = every, 0
        self.contexts, self.systems, self.reply_tokens = contexts, 0, reply_tokens
        self.augment, self.refusal_tokens = augment, refusal_tokens
        self.split_tail, self.precision = split_tail, precision
        self._artifacts = None
        self.stream: AlignmentStream | None = None
        self.model: torch.nn.Module | None = None
        self.device: torch.device | None = None
        self.last = 0.0

    def prepare(self, artifacts) -> None:
        super().prepare(artifacts)
        self._artifacts = artifacts

    def examples(self, rows: list[Example], seed: int) -> list[Example]:
        """The task rows, unchanged. The anchor's stream is rebuilt when it anchors more than
        the alignment rows as they are: ``augment`` word-dropout copies of each row, and with
        ``contexts > 0`` every row also under the task data's most frequent system prompts."""
        systems = matched_systems(rows, self.contexts)
        if (systems or self.augment) and self._artifacts is not None:
            tok = self._artifacts.tokenizer
            base = list(self._artifacts.examples)
            base += perturbed_prompts(base, self.augment, self.seed)
            anchored = base + [e for e in (replace(e, context=system + e.context)
                                           for system in systems for e in base)
                               if _has_reply_tokens(tok, e, self.max_length)]
            self.stream = AlignmentStream(anchored, tok,
                                          batch_size=self.batch_size, max_length=self.max_length,
                                          seed=self.seed, reply_tokens=self.reply_tokens,
                                          refusal_tokens=self.refusal_tokens)
            self.systems = len(systems)
        return rows

    def before_training(self, model: torch.nn.Module) -> None:
        self.model, self.device = model, device_of(trainable_parameters(model))

    def rebind(self, model: torch.nn.Module) -> None:
        self.before_training(model)

    def penalty(self) -> tuple[torch.Tensor, dict[str, float]]:
        self.calls += 1
        if (self.calls - 1) % self.every:
            return torch.zeros((), device=self.device), {"kl": self.last}
        batch = self.stream.next(self.device)
        with record_function("alignguard/kl_anchor/reference"):
            ref = reference_log_probs(self.model, batch, self.precision)
        opening = self.reply_tokens if self.split_tail else 0
        with record_function("alignguard/kl_anchor/forward"):
            kl = kl_to_reference(self.model, batch, ref, opening=opening)
        self.last = float(kl.detach())
        return self.every * self.lam * kl, {"kl": self.last}

    def log_values(self) -> dict[str, float]:
        values = {"reg/kl": self.last, "weighted/kl": self.lam * self.last}
        if self.contexts:
            values["kl_anchor/system_prompts"] = float(self.systems)
        return values

    def state_dict(self) -> State:
        return {"position": self.stream.position, "last": self.last, "calls": self.calls}

    def load_state_dict(self, state: State) -> None:
        self.stream.position, self.last = int(state["position"]), float(state["last"])
        self.calls = int(state.get("calls", 0))


def matched_systems(rows: list[Example], limit: int) -> list[tuple[tuple[str, str], ...]]:
    """The ``limit`` most frequent system-prompt turns of ``rows`` (ties by text), as context
    prefixes; none when ``limit`` is 0 or no row has a system prompt."""
    if limit < 1:
        return []
    counts = Counter(tuple(t for t in r.context if t[0] == "system") for r in rows)
    counts.pop((), None)
    return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


WORD_DROP = 0.25  # probability that a word of a perturbed anchor prompt is left out


def perturbed_prompts(rows: list[Example], copies: int, seed: int,
                      drop: float = WORD_DROP) -> list[Example]:
    """``copies`` word-dropout variants of each row's prompt, with the row's reply unchanged.

    The KL anchor then also holds the aligned model's distribution on phrasings near each
    alignment prompt (``p_aligned`` is evaluated on the perturbed prompt itself, so no label is
    invented): word dropout as in consistency training on perturbed inputs (Xie et al., UDA,
    arXiv 1904.12848). At least two words of each prompt are kept; seeded per row and copy.
    """
    out = []
    for c in range(copies):
        rng = random.Random(seed * 1_000_003 + 104_729 * (c + 1))
        for e in rows:
            words = e.prompt.split()
            kept = [w for w in words if rng.random() >= drop]
            if len(kept) < min(2, len(words)):
                kept = words[:2]
            out.append(replace(e, prompt=" ".join(kept)))
    return out


def _has_reply_tokens(tokenizer, example: Example, max_length: int) -> bool:
    """Whether ``example`` keeps reply tokens within ``max_length`` (a long system prompt can
    push the reply out; such rows are left out of the context-matched stream)."""
    labels = encode_example(tokenizer, example, max_length)["labels"]
    return any(label != IGNORE_INDEX for label in labels)
