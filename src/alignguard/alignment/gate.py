"""The alignment gate: task rows whose gradient step points toward the rejected behaviour get no weight.

A quadratic penalty around the aligned weights (L_A, L_D) resists a *persistent* push toward
compliance only to first order: with a few harmful rows in every epoch the model walks around it
(docs/method.md, decision "alignment gate"). The gate acts on the data instead. With the
*preference direction* of every adapted module, taken at the aligned weights ``W0``::

    D_l = 1/N sum_n ( grad_W NLL(rejected_n) - grad_W NLL(chosen_n) ),   ||D||_2 = 1 over all l

a gradient step on row ``x`` moves the weights by ``-eta grad L_x`` and so toward the rejected
replies (``-D``) by ``eta <grad L_x, D>``. The gate scores each row at the current weights by a
central difference along ``D`` (two forward passes, no backward)::

    score(x) = (L_x(W + eps D) - L_x(W - eps D)) / (2 eps) / s_ref

where ``s_ref = ||mean_n (grad NLL(rejected_n) - grad NLL(chosen_n))||`` is the score gap between
a typical rejected reply and its chosen one at ``W0`` (so a row that pushes like a rejected reply
scores about 1 when the chosen replies are already learned), and gives the rows with
``score >= tau`` weight 0. At ``W0`` on the organism the
cosine between a row's gradient and ``D`` is 0.33-0.65 for harmful compliance rows and within
+-0.1 for the new skill, the benign look-alikes and the replay rows (10th-90th percentiles).
``D`` is the first moment of the contrastive per-example gradients whose second moment is the
contrastive Fisher (method.md section 2).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from alignguard.data import IGNORE_INDEX, DataError, Example

log = logging.getLogger(__name__)


def _summed_gradients(model: nn.Module, examples: Sequence[Example], tokenizer,
                      names: Sequence[str], *, batch_size: int, max_length: int
                      ) -> dict[str, torch.Tensor]:
    """Exact ``grad_W sum_n NLL(response_n)`` of every module's weight (parameter layout)."""
    from alignguard.data import encoded_batches
    from alignguard.targets import base_model_of

    mods = dict(base_model_of(model).named_modules())
    weights = [getattr(mods[n], "base_layer", mods[n]).weight for n in names]
    flags, training = [w.requires_grad for w in weights], model.training
    batches = encoded_batches(tokenizer, examples, batch_size=batch_size, max_length=max_length)
    total = [torch.zeros_like(w, dtype=torch.float32) for w in weights]
    try:
        model.eval()
        for w in weights:
            w.requires_grad_(True)
        for batch in batches:
            grads = torch.autograd.grad(row_losses(model, batch).sum(), weights)
            for t, g in zip(total, grads, strict=True):
                t += g.float()
    finally:
        for w, flag in zip(weights, flags, strict=True):
            w.requires_grad_(flag)
        model.train(training)
    return dict(zip(names, total, strict=True))


def row_losses(model: nn.Module, batch: Mapping[str, torch.Tensor],
               params: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """``(B,)`` summed next-token NLL of each row's label tokens (optionally with swapped params)."""
    kw = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if params:
        out = torch.func.functional_call(model, dict(params), args=(), kwargs=kw, strict=False)
    else:
        out = model(**kw)
    logits, labels = out.logits[:, :-1], batch["labels"][:, 1:]
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                          ignore_index=IGNORE_INDEX, reduction="none")
    return nll.view(labels.shape).sum(1)


class AlignmentGate:
    """Scores task rows against the preference direction and zeroes the weight of eroding ones.

    Attributes:
        direction: module name (relative to the base model) -> ``D_l`` (d_out x d_in).
        s_ref: the unit of the score (``||mean(grad NLL(rejected) - grad NLL(chosen))||`` at ``W0``).
        tau: rows scoring ``>= tau`` get weight 0.
        eps: central-difference step along the unit-norm ``D``.
        seen, gated: rows scored and rows gated so far.
    """

    def __init__(self, direction: dict[str, torch.Tensor], s_ref: float, tau: float,
                 eps: float = 1e-2) -> None:
        self.direction, self.s_ref, self.tau, self.eps = direction, s_ref, tau, eps
        self.seen = self.gated = 0
        self._names: dict[int, dict[str, tuple[nn.Parameter, torch.Tensor]]] = {}

    @classmethod
    def estimate(cls, model: nn.Module, examples: Sequence[Example], tokenizer,
                 names: Sequence[str], *, tau: float, eps: float = 1e-2, batch_size: int = 16,
                 max_length: int = 128) -> AlignmentGate:
        """The gate of ``model`` (at ``W0``) from alignment rows with ``rejected`` replies."""
        pairs = [e for e in examples if e.rejected is not None]
        if not pairs:
            raise DataError("the alignment gate needs alignment rows with a 'rejected' reply (TRL "
                            "prompt/chosen/rejected rows); add them or turn it off with reg.gate=0")
        kw = {"batch_size": batch_size, "max_length": max_length}
        rejected = [Example(e.prompt, e.rejected, context=e.context) for e in pairs]
        chosen = [Example(e.prompt, e.response, context=e.context) for e in pairs]
        g_rej = _summed_gradients(model, rejected, tokenizer, names, **kw)
        g_cho = _summed_gradients(model, chosen, tokenizer, names, **kw)
        direction = {n: (g_rej[n] - g_cho[n]) / len(pairs) for n in names}
        norm = float(torch.sqrt(sum(d.double().square().sum() for d in direction.values())))
        if not norm > 0:
            raise DataError("the rejected and chosen replies have identical gradients; the "
                            "alignment gate needs pairs that differ (or set reg.gate=0)")
        gate = cls({n: d / norm for n, d in direction.items()}, norm, tau, eps)
        log.info("alignment gate: %d preference pairs, s_ref %.3g%s", len(pairs), gate.s_ref,
                 f", tau {tau:g}" if math.isfinite(tau) else " (tau set by the method: reg.gate)")
        return gate

    def _params(self, model: nn.Module) -> dict[str, tuple[nn.Parameter, torch.Tensor]]:
        """Parameter name in ``model`` -> (base weight, its ``D``), found by identity."""
        key = id(model)
        if key not in self._names:
            from alignguard.targets import base_model_of

            mods = dict(base_model_of(model).named_modules())
            weights = {id(getattr(mods[n], "base_layer", mods[n]).weight): n for n in self.direction}
            found = {pn: (p, self.direction[weights[id(p)]])
                     for pn, p in model.named_parameters(remove_duplicate=False) if id(p) in weights}
            if len(found) != len(self.direction):
                raise ValueError("the alignment gate could not find every adapted base weight in "
                                 "the model (sharded parameters are not supported; set reg.gate=0)")
            self._names[key] = found
        return self._names[key]

    @torch.no_grad()
    def raw_scores(self, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``(B,)`` ``<grad L_x, D>`` by central differences, in eval mode (no dropout)."""
        params = self._params(model)
        training = model.training
        model.eval()
        try:
            plus = row_losses(model, batch, {n: w + self.eps * d.to(w) for n, (w, d) in params.items()})
            minus = row_losses(model, batch, {n: w - self.eps * d.to(w) for n, (w, d) in params.items()})
        finally:
            model.train(training)
        return (plus - minus) / (2 * self.eps)

    @torch.no_grad()
    def _one_sided(self, model: nn.Module, batch: Mapping[str, torch.Tensor],
                   losses: torch.Tensor) -> torch.Tensor:
        """``(L_x(W + eps D) - L_x(W)) / eps`` reusing the training forward's ``L_x(W)``."""
        params = self._params(model)
        plus = row_losses(model, batch, {n: w + self.eps * d.to(w) for n, (w, d) in params.items()})
        return (plus - losses) / self.eps

    def weights(self, model: nn.Module, batch: Mapping[str, torch.Tensor],
                losses: torch.Tensor | None = None) -> torch.Tensor:
        """``(B,)`` row weights: 0 where ``score >= tau``, else 1; counts into ``seen``/``gated``.

        With the rows' current ``losses`` (detached) and no active dropout, one extra forward
        pass (a one-sided difference; at ``eps = 1e-2`` within 1e-4 of the exact directional
        derivative on a float64 test model) instead of two.
        """
        if losses is not None and not _dropout_active(model):
            raw = self._one_sided(model, batch, losses.detach())
        else:
            raw = self.raw_scores(model, batch)
        keep = (raw / self.s_ref < self.tau).float()
        self.seen += int(keep.numel())
        self.gated += int((keep == 0).sum())
        return keep

    @property
    def fraction(self) -> float:
        """Fraction of the rows scored so far that were gated."""
        return self.gated / self.seen if self.seen else 0.0


def _dropout_active(model: nn.Module) -> bool:
    """Whether a forward pass of ``model`` would draw dropout masks."""
    return model.training and any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())


__all__ = ["AlignmentGate", "row_losses"]
