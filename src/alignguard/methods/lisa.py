"""Lisa, lazy safety alignment (Huang et al., arXiv 2405.18641): Bi-State Optimization with a
proximal term (docs/method.md, "lisa").

The run alternates an alignment phase (``K1`` optimizer steps on alignment data) and a task
phase (``K2`` steps on the user's data), starting with alignment. In both, the weights are held
near where the phase began::

    alignment phase:  L = NLL(alignment batch) + rho/2 ||w - w_switch||^2
    task phase:       L = L_task               + rho/2 ||w - w_switch||^2

``w`` are the LoRA factors and ``w_switch`` their values at the last phase switch. Inside the
method protocol, alignment-phase steps give the task rows weight 0 (``row_weights``) and the
penalty adds the alignment NLL of one cycling alignment micro-batch.
"""

from __future__ import annotations

import torch

from alignguard.methods.alignstream import (
    AlignmentStream,
    StreamingComponent,
    device_of,
    reply_nll,
    trainable_parameters,
)
from alignguard.methods.base import State


class Lisa(StreamingComponent):
    """Bi-State Optimization with the proximal term of Lisa (arXiv 2405.18641).

    Cost per optimizer step: the proximal term (one pass over the LoRA factors; memory: one copy
    of them, ``w_switch``); in alignment phases also one forward + backward on ``batch_size``
    alignment rows (the task micro-batches are still run, with weight 0, and so are skipped, not
    deferred).
    """

    name = "lisa"

    def __init__(self, rho: float, align_steps: int, task_steps: int, batch_size: int,
                 max_length: int, seed: int) -> None:
        if rho < 0 or align_steps < 1 or task_steps < 1:
            raise ValueError(f"need rho >= 0 and phases of >= 1 step, got {rho}, {align_steps}, "
                             f"{task_steps}")
        self.rho, self.align_steps, self.task_steps = rho, align_steps, task_steps
        self.batch_size, self.max_length, self.seed = batch_size, max_length, seed
        self.stream: AlignmentStream | None = None
        self.params: list[tuple[str, torch.nn.Parameter]] = []
        self.model: torch.nn.Module | None = None
        self.w_switch: dict[str, torch.Tensor] = {}
        self.steps = self.switches = 0
        self.last: dict[str, float] = {"lisa_prox": 0.0, "lisa_nll": 0.0}

    def aligning(self, step: int) -> bool:
        """Whether 0-based optimizer step ``step`` belongs to an alignment phase."""
        return step % (self.align_steps + self.task_steps) < self.align_steps

    def before_training(self, model: torch.nn.Module) -> None:
        self.model, self.params = model, trainable_parameters(model)
        self.w_switch = {n: p.detach().clone() for n, p in self.params}

    def rebind(self, model: torch.nn.Module) -> None:
        self.model, self.params = model, trainable_parameters(model)

    def row_weights(self, model, batch, losses) -> torch.Tensor | None:
        return torch.zeros_like(losses) if self.aligning(self.steps) else None

    def penalty(self) -> tuple[torch.Tensor, dict[str, float]]:
        step = self.steps
        if step > 0 and self.aligning(step) != self.aligning(step - 1):
            self.w_switch = {n: p.detach().clone() for n, p in self.params}
            self.switches += 1
        prox = sum(((p.float() - self.w_switch[n].float()) ** 2).sum() for n, p in self.params)
        total = 0.5 * self.rho * prox
        nll = torch.zeros(())
        if self.aligning(step):
            nll = reply_nll(self.model, self.stream.next(device_of(self.params)))
            total = total + nll
        self.steps += 1
        self.last = {"lisa_prox": float(prox.detach()), "lisa_nll": float(nll.detach())}
        return total, dict(self.last)

    def log_values(self) -> dict[str, float]:
        row = {f"reg/{k}": v for k, v in self.last.items()}
        row["weighted/lisa_prox"] = 0.5 * self.rho * self.last["lisa_prox"]
        row["weighted/lisa_nll"] = self.last["lisa_nll"]
        row["lisa/aligning"] = float(self.aligning(self.steps - 1)) if self.steps else 1.0
        row["lisa/switches"] = float(self.switches)
        return row

    def state_dict(self) -> State:
        state: State = {"steps": self.steps, "switches": self.switches,
                        "position": self.stream.position, **self.last}
        state.update({f"w_switch/{n}": w for n, w in self.w_switch.items()})
        return state

    def load_state_dict(self, state: State) -> None:
        self.steps, self.switches = int(state["steps"]), int(state["switches"])
        self.stream.position = int(state["position"])
        self.last = {k: float(state[k]) for k in ("lisa_prox", "lisa_nll")}
        device = device_of(self.params)
        self.w_switch = {n: state[f"w_switch/{n}"].to(device) for n, _ in self.params}
