"""Kronecker-factored (K-FAC) statistics of linear modules from batched hooks.

For a module with output ``y_t = W x_t (+ b)`` at token position ``t`` the Fisher of the weights is
approximated, tokens as samples, by ``F ~= S_in (x) S_out`` with (method.md section 2, after
AlignGuard-LoRA, arXiv 2508.02079)::

    S_in  = sum_t x_t x_t^T          (d_in x d_in)
    S_out = sum_t g_t g_t^T          (d_out x d_out),   g_t = dL / dy_t

where ``L`` is the SUM of the token negative log-likelihoods of a batch and the sums run over the
selected *prediction positions* (:func:`alignguard.alignment.positions.select_positions`). Everything is gathered from one
batched forward pass (forward hooks capture ``x_t`` and ``y_t``) and one
``torch.autograd.grad(L, [y ...])`` call: no per-sample loop and no weight gradients (all parameters
are frozen during estimation and only the embedding output requires grad), so one batch costs
about one forward plus one activation-only backward pass. Per-batch outer products are formed
in the model's precision (at least float32) and accumulated in float64.

Token positions (the project's documented choice; :mod:`alignguard.alignment.positions`). With the causal-LM shift of Hugging Face
(``logits[:, t]`` predicts ``input_ids[:, t + 1]``), position ``t`` is selected when its next-token
target is selected:

* ``tokens="all"``: ``attention_mask[t] == attention_mask[t + 1] == 1``; the target is
  ``input_ids[t + 1]``. These are all non-pad positions except the last of each sequence (whose
  output influences no selected loss term, so its ``g`` would be exactly 0). Because right-padding
  and the last token carry ``g = 0``, ``sum_t g_t x_t^T`` over the selected positions equals
  ``dL/dW`` exactly.
* ``tokens="response"``: ``labels[t + 1] != -100`` (and ``attention_mask[t] == 1``); the target is
  ``labels[t + 1]``: the positions whose prediction is a response token (the last prompt token up
  to the second-to-last response token).

``x_t`` (module input) and ``g_t`` (gradient of the summed loss w.r.t. the module output) are taken
at the same selected positions, so each selected position contributes one ``(x_t, g_t)`` sample.
``g_t`` includes the influence of ``y_t`` on later loss terms through attention.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from alignguard.alignment.positions import ESTIMATORS, TOKEN_MODES, select_positions, token_loss
from alignguard.targets import TargetModuleError, base_model_of

log = logging.getLogger(__name__)

@dataclass
class KFACFactors:
    """Raw (un-normalised) K-FAC sums of one module.

    Attributes:
        S_in: ``(d_in, d_in)`` float64, ``sum_t x_t x_t^T``.
        S_out: ``(d_out, d_out)`` float64, ``sum_t g_t g_t^T``.
        n_tokens: number of ``(x_t, g_t)`` samples summed.
    """

    S_in: torch.Tensor
    S_out: torch.Tensor
    n_tokens: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_out, d_in)`` of the module weight."""
        return int(self.S_out.shape[0]), int(self.S_in.shape[0])


def module_dims(module: nn.Module) -> tuple[int, int]:
    """``(d_out, d_in)`` of a linear module (``nn.Linear``, GPT-2 ``Conv1D``, or a PEFT wrapper)."""
    layer = getattr(module, "base_layer", module)
    if isinstance(layer, nn.Linear):
        return layer.out_features, layer.in_features
    weight = getattr(layer, "weight", None)
    if type(layer).__name__ == "Conv1D" and weight is not None and weight.dim() == 2:
        return int(weight.shape[1]), int(weight.shape[0])  # Conv1D stores (d_in, d_out)
    raise TargetModuleError(
        f"{type(layer).__name__} is not a linear module (nn.Linear or GPT-2 Conv1D); K-FAC "
        "factors can only be estimated for linear projections"
    )


class _Capture(contextlib.AbstractContextManager):
    """Hooks + temporary model state for K-FAC collection; everything is restored on exit.

    On enter: PEFT adapters are disabled, the model is put in eval mode, every parameter is frozen,
    the input-embedding output is made to require grad, and forward hooks are put on the base
    layers of the target modules. On exit all of that is undone.
    """

    def __init__(self, model: nn.Module, module_names: Iterable[str], keep_pairs: bool = False,
                 keep_adapters: bool = False):
        self.model = model
        self.keep_adapters = keep_adapters
        base = base_model_of(model)
        mods = dict(base.named_modules())
        self.names = list(dict.fromkeys(module_names))
        if not self.names:
            raise TargetModuleError("no target modules given for Fisher estimation")
        missing = [n for n in self.names if n not in mods]
        if missing:
            raise TargetModuleError(
                f"module(s) {missing[:3]} not found in the model (names are relative to the base "
                "model, e.g. 'model.layers.0.self_attn.q_proj'); resolve them with "
                "alignguard.targets.resolve_target_modules"
            )
        self.layers = {n: getattr(mods[n], "base_layer", mods[n]) for n in self.names}
        self.dims = {n: module_dims(mods[n]) for n in self.names}
        merged = [n for n in self.names if getattr(mods[n], "merged", False)]
        if merged and not keep_adapters:
            raise ValueError(f"{merged[:3]} have merged LoRA weights; call unmerge_adapter() "
                             "before estimating the Fisher at the base weights W0")
        self.keep_pairs = keep_pairs
        self.factors: dict[str, KFACFactors] = {}
        self.pairs: dict[str, list[list[torch.Tensor]]] = {}
        self._calls: list[tuple[str, torch.Tensor]] = []
        self._grams: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._idx: torch.Tensor | None = None

    def __enter__(self) -> _Capture:
        model = self.model
        self._training = {m: m.training for m in model.modules()}
        self._grad_flags = {p: p.requires_grad for p in model.parameters()}
        self._tuners = [] if self.keep_adapters else [
            m for m in model.modules() if _is_enabled_tuner_layer(m)]
        self._handles: list = []
        try:
            for m in self._tuners:
                m.enable_adapters(False)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self._hook_embeddings()
            for name, layer in self.layers.items():
                self._handles.append(layer.register_forward_hook(self._make_hook(name)))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        first = next(model.parameters())
        dev = first.device
        # Per-batch products in the model's precision (float64 models stay exact), summed into
        # float64 accumulators: the float64 matmuls were ~60% of the cost (measured 2.2x -> ~1.3x
        # of a forward+backward pass); per-batch float32 sums keep ~1e-6 relative accuracy.
        self._prod_dtype = torch.float64 if first.dtype == torch.float64 else torch.float32
        for n, (d_out, d_in) in self.dims.items():
            self.factors[n] = KFACFactors(
                torch.zeros(d_in, d_in, dtype=torch.float64, device=dev),
                torch.zeros(d_out, d_out, dtype=torch.float64, device=dev),
            )
            self.pairs[n] = [[], []]
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._calls.clear()
        self._grams.clear()
        for m in self._tuners:
            m.enable_adapters(True)
        for p, flag in self._grad_flags.items():
            p.requires_grad_(flag)
        for m, flag in self._training.items():
            m.training = flag

    def _hook_embeddings(self) -> None:
        get = getattr(self.model, "get_input_embeddings", None)
        emb = get() if callable(get) else None
        if emb is None:
            raise TypeError("the model has no get_input_embeddings(); K-FAC collection needs a "
                            "Hugging Face style causal LM")

        def require_grad(_m: nn.Module, _args: tuple, out: torch.Tensor) -> torch.Tensor:
            return out if out.requires_grad else out.detach().requires_grad_(True)

        self._handles.append(emb.register_forward_hook(require_grad))

    def _make_hook(self, name: str):
        d_in = self.dims[name][1]

        def hook(_m: nn.Module, args: tuple, out: torch.Tensor) -> None:
            if self._idx is None:
                return
            cached = self._grams.get(id(args[0]))
            if cached is None or cached[0] is not args[0]:  # q/k/v (gate/up) share one input
                x = args[0].detach().reshape(-1, d_in)
                if x.shape[0] != self._n_positions:
                    raise RuntimeError(f"{name}: expected inputs with {self._n_positions} token "
                                       f"rows (batch x length), got {tuple(args[0].shape)}")
                xs = x.index_select(0, self._idx).to(self._prod_dtype)
                gram = (xs.T @ xs).to(torch.float64)
                cached = self._grams[id(args[0])] = (args[0], xs, gram)
            _, xs, gram = cached
            fac = self.factors[name]
            fac.S_in += gram
            fac.n_tokens += int(xs.shape[0])
            if self.keep_pairs:
                self.pairs[name][0].append(xs.to(torch.float64))
            self._calls.append((name, out))

        return hook

    def batch(self, batch: Mapping[str, torch.Tensor], tokens: str, estimator: str,
              generator: torch.Generator | None) -> int:
        """One batched forward + activation backward; returns the number of selected positions."""
        sel, targets = select_positions(batch, tokens)
        idx = sel.reshape(-1).nonzero().squeeze(1)
        if idx.numel() == 0:
            return 0
        self._idx, self._n_positions = idx, sel.numel()
        try:
            out = self.model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"),
                             use_cache=False)
            self._grams.clear()
            loss = token_loss(out.logits, sel, targets, estimator=estimator, generator=generator)
            calls, self._calls = self._calls, []
            missing = sorted(set(self.names) - {n for n, _ in calls})
            if missing:
                raise RuntimeError(f"module(s) {missing[:3]} were not called in the forward pass")
            outs = [o for _, o in calls]
            if not all(o.requires_grad for o in outs):
                raise RuntimeError("a target module output does not depend on the input embeddings; "
                                   "was the forward run under torch.no_grad()?")
            grads = torch.autograd.grad(loss, outs, allow_unused=True)
        finally:
            self._idx, self._calls = None, []
            self._grams.clear()
        for (name, o), g in zip(calls, grads, strict=True):
            g = torch.zeros_like(o) if g is None else g
            gs = g.reshape(-1, self.dims[name][0]).index_select(0, idx).to(self._prod_dtype)
            self.factors[name].S_out += (gs.T @ gs).to(torch.float64)
            if self.keep_pairs:
                self.pairs[name][1].append(gs.to(torch.float64))
        return int(idx.numel())


def _is_enabled_tuner_layer(module: nn.Module) -> bool:
    """True for a PEFT adapter layer (``BaseTunerLayer``) whose adapters are switched on."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:  # PEFT not installed: no adapters to disable
        return False
    return isinstance(module, BaseTunerLayer) and not module.disable_adapters


def _to_device(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    if "input_ids" not in batch:
        raise ValueError(f"each batch needs 'input_ids' (from alignguard.data.collate); got keys "
                         f"{sorted(batch)}")
    return {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)}


def _all_reduce(factors: dict[str, KFACFactors]) -> None:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    for name in sorted(factors):
        fac = factors[name]
        dist.all_reduce(fac.S_in)
        dist.all_reduce(fac.S_out)
        n = torch.tensor([fac.n_tokens], dtype=torch.float64, device=fac.S_in.device)
        dist.all_reduce(n)
        fac.n_tokens = int(round(float(n.item())))


def _batches_with_progress(batches: Iterable[Mapping[str, torch.Tensor]], progress: bool
                           ) -> Iterator[Mapping[str, torch.Tensor]]:
    from alignguard.progress import track

    yield from track(batches, "fisher", show=progress, unit="batch")


def collect_kfac_factors(model: nn.Module, batches: Iterable[Mapping[str, torch.Tensor]],
                         module_names: Iterable[str], *, tokens: str = "all",
                         estimator: str = "empirical", seed: int = 0, progress: bool = True
                         ) -> dict[str, KFACFactors]:
    """Accumulate K-FAC factors ``S_in = sum_t x_t x_t^T`` and ``S_out = sum_t g_t g_t^T``.

    Each batch costs one batched forward pass and one activation-only backward pass
    (``torch.autograd.grad`` w.r.t. the captured module outputs; parameters are frozen, so no
    weight gradient is formed and no ``.grad`` is touched). Token positions and the loss are
    defined in the module docstring and :func:`token_loss`. For a PEFT ``LoraLayer`` the hooks sit
    on its ``base_layer`` and all adapters are disabled during estimation (the Fisher is taken at
    ``W0``). If ``torch.distributed`` is initialised, ``S_in``, ``S_out`` and ``n_tokens`` are
    summed over processes before returning.

    Args:
        model: a causal LM (optionally PEFT-wrapped); its train/eval mode, ``requires_grad`` flags
            and adapter state are restored afterwards.
        batches: dicts with ``input_ids``, ``attention_mask`` and (for ``tokens="response"``)
            ``labels`` as made by :func:`alignguard.data.collate`.
        module_names: module names relative to the base model.
        tokens: ``"all"`` (every non-pad next-token prediction) or ``"response"`` (label != -100).
        estimator: ``"empirical"`` (given targets) or ``"sampled"`` (importance-sampled true Fisher).
        seed: seed of the target sampler (``estimator="sampled"``).
        progress: show a tqdm bar.

    Returns:
        Module name -> :class:`KFACFactors` (float64 sums, on the model's device).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if tokens not in TOKEN_MODES:
        raise ValueError(f"tokens must be one of {TOKEN_MODES}, got {tokens!r}")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed) if estimator == "sampled" else None
    with _Capture(model, module_names) as cap:
        for batch in _batches_with_progress(batches, progress):
            cap.batch(_to_device(batch, device), tokens, estimator, generator)
        factors = cap.factors
    _all_reduce(factors)
    return factors


def token_gradients(model: nn.Module, batch: Mapping[str, torch.Tensor],
                    module_names: Iterable[str], *, tokens: str = "all",
                    estimator: str = "empirical", seed: int = 0, keep_adapters: bool = False
                    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-token ``(X, G)`` of one batch (at ``W0``, or at ``W0 + dW`` with ``keep_adapters``).

    With ``keep_adapters=True`` PEFT adapters stay on: the hooks on each ``base_layer`` still see
    the module input ``x_t`` and, because a LoRA output is ``base(x) + lora(x)``, the gradient
    ``g_t`` of the whole module output, so ``G.T @ X`` is ``dL/dW`` at the current weights.

    Returns:
        Module name -> ``(X, G)`` float64 with one row per selected position (and per call of the
        module): ``X`` is ``(n, d_in)`` inputs, ``G`` is ``(n, d_out)`` output gradients, so that
        ``G.T @ X`` is ``dL/dW`` (for ``tokens="all"``) in ``(d_out, d_in)`` layout.
    """
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed) if estimator == "sampled" else None
    with _Capture(model, module_names, keep_pairs=True, keep_adapters=keep_adapters) as cap:
        cap.batch(_to_device(batch, device), tokens, estimator, generator)
        pairs = cap.pairs
    out = {}
    for name, (xs, gs) in pairs.items():
        d_out, d_in = cap.dims[name]
        x = torch.cat(xs) if xs else torch.zeros(0, d_in, dtype=torch.float64)
        g = torch.cat(gs) if gs else torch.zeros(0, d_out, dtype=torch.float64)
        out[name] = (x, g)
    return out


__all__ = [
    "ESTIMATORS", "TOKEN_MODES", "KFACFactors", "collect_kfac_factors", "module_dims",
    "select_positions", "token_gradients", "token_loss",
]
