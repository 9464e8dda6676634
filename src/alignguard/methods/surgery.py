"""Gradient-surgery defenses: the task gradient loses the part that would undo alignment
(docs/method.md, "safegrad" and "spf").

Both act in ``on_gradients``: after the last backward of an optimizer step and before clipping,
on the LoRA gradients flattened into one vector ``g`` (global granularity: every trainable
parameter of the adapter together). Their alignment gradients come from
``torch.autograd.grad`` on alignment rows, in eval mode (no dropout: the same vector on every
DDP replica), and never enter ``.grad``.
"""

from __future__ import annotations

import logging

import torch

from alignguard.methods.alignstream import (
    AlignmentStream,
    StreamingComponent,
    device_of,
    evaluating,
    kl_to_reference,
    reference_log_probs,
    reply_nll,
    trainable_parameters,
)
from alignguard.methods.base import State

log = logging.getLogger(__name__)
_EPS = 1e-12


def flat_grad(params: list[tuple[str, torch.nn.Parameter]]) -> torch.Tensor:
    """The trainable gradients as one float32 vector (a missing ``.grad`` counts as zeros)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float()
                      for _, p in params])


def write_flat_grad(params: list[tuple[str, torch.nn.Parameter]], flat: torch.Tensor) -> None:
    """Copy ``flat`` back into the parameters' ``.grad`` (in place; created where missing)."""
    offset = 0
    for _, p in params:
        n = p.numel()
        piece = flat[offset:offset + n].view_as(p).to(p.dtype)
        if p.grad is None:
            p.grad = piece.clone()
        else:
            p.grad.copy_(piece)
        offset += n


def loss_gradient(loss: torch.Tensor, params: list[tuple[str, torch.nn.Parameter]]) -> torch.Tensor:
    """``d loss / d params`` as one float32 vector, by ``torch.autograd.grad`` (``.grad`` untouched)."""
    grads = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                      for g, (_, p) in zip(grads, params, strict=True)])


def pcgrad_project(g: torch.Tensor, g_a: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``g - (<g, g_a> / ||g_a||^2) g_a`` when ``<g, g_a> < 0``, else ``g``; and whether it did."""
    dot, norm2 = torch.dot(g, g_a), torch.dot(g_a, g_a)
    if dot < 0 and norm2 > _EPS:
        return g - (dot / norm2) * g_a, True
    return g, False


def drop_conflicts(g: torch.Tensor, basis: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Remove from ``g`` its negative coordinates along the orthonormal rows of ``basis``::

        c = U g;   g <- g - U^T (c * 1[c < 0])

    Returns the new vector and how many directions conflicted.
    """
    coords = basis @ g
    neg = torch.clamp(coords, max=0.0)
    return g - basis.T @ neg, int((coords < 0).sum())


def _refuse_sharded(params: list[tuple[str, torch.nn.Parameter]], name: str) -> None:
    if any(hasattr(p, "device_mesh") for _, p in params):
        raise ValueError(f"{name} projects the whole LoRA gradient and does not run on FSDP2 "
                         "shards yet; use distributed: ddp")


class SafeGrad(StreamingComponent):
    """SafeGrad (Yi et al., arXiv 2508.07172): project the task gradient off the alignment
    gradient when they conflict, then descend on both objectives::

        g_a = grad_theta KL(p_aligned || p_theta)   on an alignment micro-batch
        g'  = g - (<g, g_a> / ||g_a||^2) g_a         if <g, g_a> < 0, else g
        update direction: g' + lam g_a

    ``g`` is the whole LoRA gradient (one vector over all adapter parameters); ``lam`` weighs
    the KL alignment loss (``reg.lam_kl``, 1.0 in the preset; 0 keeps the projection). Cost per
    step: one forward without gradients (adapter disabled) and one forward + backward on
    ``batch_size`` alignment rows, plus two flat copies of the LoRA gradient.
    """

    name = "safegrad"

    def __init__(self, lam: float, batch_size: int, max_length: int, seed: int) -> None:
        if not lam >= 0:
            raise ValueError(f"the alignment loss weight must be >= 0, got {lam}")
        self.lam, self.batch_size, self.max_length, self.seed = lam, batch_size, max_length, seed
        self.stream: AlignmentStream | None = None
        self.params: list[tuple[str, torch.nn.Parameter]] = []
        self.model: torch.nn.Module | None = None
        self.steps = self.projected = 0
        self.last: dict[str, float] = {}

    def before_training(self, model: torch.nn.Module) -> None:
        self.model, self.params = model, trainable_parameters(model)

    def rebind(self, model: torch.nn.Module) -> None:
        self.before_training(model)
        _refuse_sharded(self.params, self.name)

    def on_gradients(self, model: torch.nn.Module) -> dict[str, float]:
        batch = self.stream.next(device_of(self.params))
        with torch.enable_grad(), evaluating(self.model):
            kl = kl_to_reference(self.model, batch, reference_log_probs(self.model, batch))
            g_a = loss_gradient(kl, self.params)
        g = flat_grad(self.params)
        dot = float(torch.dot(g, g_a))
        new, done = pcgrad_project(g, g_a)
        if done or self.lam > 0:
            write_flat_grad(self.params, new + self.lam * g_a)
        self.steps, self.projected = self.steps + 1, self.projected + int(done)
        cos = dot / (float(g.norm() * g_a.norm()) + _EPS)
        self.last = {"safegrad_kl": float(kl.detach()), "safegrad/cos": cos,
                     "safegrad/projected": float(done)}
        return dict(self.last)

    def log_values(self) -> dict[str, float]:
        row = {k: v for k, v in self.last.items() if k != "safegrad_kl"}
        kl = self.last.get("safegrad_kl", 0.0)
        return {**row, "safegrad/fraction": self.projected / max(1, self.steps),
                "reg/safegrad_kl": kl, "weighted/safegrad_kl": self.lam * kl}

    def state_dict(self) -> State:
        return {"position": self.stream.position, "steps": self.steps, "projected": self.projected}

    def load_state_dict(self, state: State) -> None:
        self.stream.position = int(state["position"])
        self.steps, self.projected = int(state["steps"]), int(state["projected"])


class SafetySubspace(StreamingComponent):
    """SPF, safety-preserving fine-tuning (Zhang et al., arXiv 2601.10141): the task gradient
    loses its component that conflicts with a low-rank safety-gradient subspace (the paper's
    mechanism; the estimator and the one-sided removal below are our reading, docs/method.md).

    Every ``refresh`` optimizer steps (from step 0)::

        G = [grad_theta NLL(refusal_i)]_{i=1..n}            (n x P, per-example, reply tokens)
        U = top-k right singular vectors of G, each signed so that <u_j, mean_i G_i> >= 0

    and every step, with ``c = U g``::

        g <- g - U^T (c * 1[c < 0])

    A descent step ``-g`` with ``c_j < 0`` would raise the refusal loss along ``u_j``; only
    those coordinates are removed (the rest of ``g``, in and out of the subspace, stays).
    Cost: per refresh ``n`` forward + backward passes on single rows and an SVD of an
    ``n x P`` matrix (memory ``n P`` floats); per step two ``k x P`` products and the basis
    (``k P`` floats, saved in checkpoints).
    """

    name = "spf"

    def __init__(self, rank: int, n_examples: int, refresh: int, max_length: int, seed: int) -> None:
        if not 1 <= rank <= n_examples or refresh < 1:
            raise ValueError(f"need 1 <= rank <= n_examples and refresh >= 1, got {rank}, "
                             f"{n_examples}, {refresh}")
        self.rank, self.n, self.refresh = rank, n_examples, refresh
        self.max_length, self.seed = max_length, seed
        self.stream: AlignmentStream | None = None
        self.params: list[tuple[str, torch.nn.Parameter]] = []
        self.model: torch.nn.Module | None = None
        self.basis: torch.Tensor | None = None
        self.steps = 0
        self.last: dict[str, float] = {}

    def stream_batch_size(self) -> int:
        return 1

    def before_training(self, model: torch.nn.Module) -> None:
        self.model, self.params = model, trainable_parameters(model)

    def rebind(self, model: torch.nn.Module) -> None:
        self.before_training(model)
        _refuse_sharded(self.params, self.name)

    def safety_gradients(self) -> torch.Tensor:
        """``G``: the per-example reply-NLL gradients of the next ``n`` alignment rows."""
        device = device_of(self.params)
        with torch.enable_grad(), evaluating(self.model):
            rows = [loss_gradient(reply_nll(self.model, self.stream.next(device)), self.params)
                    for _ in range(self.n)]
        return torch.stack(rows)

    def refresh_basis(self) -> None:
        """Recompute ``U`` from :meth:`safety_gradients` (top-k, oriented, null directions dropped)."""
        grads = self.safety_gradients()
        _, s, vh = torch.linalg.svd(grads, full_matrices=False)
        keep = s[: self.rank] > 1e-6 * max(float(s[0]), _EPS)  # drop null directions
        basis = vh[: self.rank][keep]
        signs = torch.sign(basis @ grads.mean(0))
        self.basis = basis * torch.where(signs == 0, torch.ones_like(signs), signs)[:, None]

    def on_gradients(self, model: torch.nn.Module) -> dict[str, float]:
        if self.steps % self.refresh == 0 or self.basis is None:
            self.refresh_basis()
        g = flat_grad(self.params)
        new, conflicts = drop_conflicts(g, self.basis)
        if conflicts:
            write_flat_grad(self.params, new)
        self.steps += 1
        removed = float((g - new).norm() / (g.norm() + _EPS))
        self.last = {"spf/conflicts": float(conflicts), "spf/removed": removed,
                     "spf/rank": float(self.basis.shape[0])}
        return dict(self.last)

    def log_values(self) -> dict[str, float]:
        return dict(self.last)

    def state_dict(self) -> State:
        state: State = {"position": self.stream.position, "steps": self.steps}
        if self.basis is not None:
            state["basis"] = self.basis
        return state

    def load_state_dict(self, state: State) -> None:
        self.stream.position, self.steps = int(state["position"]), int(state["steps"])
        if "basis" in state:
            self.basis = state["basis"].to(device_of(self.params))
