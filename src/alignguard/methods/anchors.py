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
"""

from __future__ import annotations

import torch

from alignguard.methods.alignstream import (
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
                 every: int = 1) -> None:
        if not lam > 0:
            raise ValueError(f"the KL anchor's weight must be > 0, got {lam}")
        if every < 1:
            raise ValueError(f"the KL anchor's interval must be >= 1 step, got {every}")
        self.lam, self.batch_size, self.max_length, self.seed = lam, batch_size, max_length, seed
        self.every, self.calls = every, 0
        self.stream: AlignmentStream | None = None
        self.model: torch.nn.Module | None = None
        self.device: torch.device | None = None
        self.last = 0.0

    def before_training(self, model: torch.nn.Module) -> None:
        self.model, self.device = model, device_of(trainable_parameters(model))

    def rebind(self, model: torch.nn.Module) -> None:
        self.before_training(model)

    def penalty(self) -> tuple[torch.Tensor, dict[str, float]]:
        self.calls += 1
        if (self.calls - 1) % self.every:
            return torch.zeros((), device=self.device), {"kl": self.last}
        batch = self.stream.next(self.device)
        ref = reference_log_probs(self.model, batch)
        kl = kl_to_reference(self.model, batch, ref)
        self.last = float(kl.detach())
        return self.every * self.lam * kl, {"kl": self.last}

    def log_values(self) -> dict[str, float]:
        return {"reg/kl": self.last, "weighted/kl": self.lam * self.last}

    def state_dict(self) -> State:
        return {"position": self.stream.position, "last": self.last, "calls": self.calls}

    def load_state_dict(self, state: State) -> None:
        self.stream.position, self.last = int(state["position"]), float(state["last"])
        self.calls = int(state.get("calls", 0))
