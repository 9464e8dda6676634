"""Static layout of the adapted modules: shape groups and pre-stacked alignment bases.

The AlignGuard-LoRA regularizers (arXiv 2508.02079; spec: method.md section 3) are sums of small
per-module quantities. Computing them module by module is bound by kernel-launch overhead, so
:class:`GeometryLayout` groups the adapted modules by ``(d_out, d_in, r)`` once and stacks each
group's basis tensors, zero-padding ``Q_o``/``Q_i`` to the group's largest ``k`` (padded columns and
their ``nu``/``mu`` are 0, so they contribute nothing; the true ``k`` of every module is kept for
E_geo's ``min(r, k)``). Every step :meth:`GeometryLayout.geometry` stacks the live LoRA factors of
each group (``torch.stack`` keeps the autograd graph) into an
:class:`~alignguard.regularizers.geometry.AdapterGeometry`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from alignguard.alignment.basis import AlignmentBasis, FisherMismatchError, ModuleBasis
from alignguard.alignment.directions import ModuleDirections
from alignguard.parallel import whole
from alignguard.regularizers.geometry import AdapterGeometry
from alignguard.targets import LoraFactors, lora_factors, lora_layers

log = logging.getLogger(__name__)
ORTHO_TOL = 1e-3


@dataclass
class GroupSpec:
    """Modules sharing ``(d_out, d_in, r)`` with their stacked, padded basis tensors.

    Attributes:
        names: module names (relative to the base model), in stacking order.
        A_params, B_params: the live LoRA factor parameters, one per module.
        scale: ``(G,)`` LoRA scales ``s``.
        w0_sq: ``(G,)`` ``||W0||_F^2`` of the base weights (``None`` if unknown).
        q_out, q_in: ``(G, d_out, k_o)``, ``(G, d_in, k_i)`` zero-padded bases (or ``None``).
        nu_mu: ``(G, k_o, k_i)`` outer products ``nu_i mu_j`` (0 on padding).
        gram_out, gram_in: ``(G, k, k)`` ``Q^T Q`` (identity on the kept block, 0 on padding).
        diag_out, diag_in: ``(G, d_out)``, ``(G, d_in)`` mean-normalised factor diagonals.
        k_out, k_in: ``(G,)`` true number of kept directions per module.
        dir_p, dir_r, dir_lam: ``(G, m, d_out, rho)``, ``(G, m, rho, d_in)``, ``(G, m)`` stacked
            weight-space directions (zero-padded, ``lam = 0`` on padding) or ``None``.
        directions: per-module :class:`~alignguard.alignment.directions.ModuleDirections` (or ``None``),
            the source of the stacked tensors.
    """

    names: list[str]
    A_params: list[torch.Tensor]
    B_params: list[torch.Tensor]
    d_out: int
    d_in: int
    r: int
    scale: torch.Tensor
    w0_sq: torch.Tensor | None
    q_out: torch.Tensor | None = None
    q_in: torch.Tensor | None = None
    nu_mu: torch.Tensor | None = None
    gram_out: torch.Tensor | None = None
    gram_in: torch.Tensor | None = None
    diag_out: torch.Tensor | None = None
    diag_in: torch.Tensor | None = None
    k_out: torch.Tensor | None = None
    k_in: torch.Tensor | None = None
    dir_p: torch.Tensor | None = None
    dir_r: torch.Tensor | None = None
    dir_lam: torch.Tensor | None = None
    directions: list[ModuleDirections | None] | None = None

    _TENSORS = ("scale", "w0_sq", "q_out", "q_in", "nu_mu", "gram_out", "gram_in", "diag_out",
                "diag_in", "k_out", "k_in", "dir_p", "dir_r", "dir_lam")

    def stack_directions(self) -> None:
        """(Re)build ``dir_p, dir_r, dir_lam`` from :attr:`directions`, zero-padded."""
        dirs = self.directions or []
        present = [d for d in dirs if d is not None]
        if not present:
            self.dir_p = self.dir_r = self.dir_lam = None
            return
        m = max(d.count for d in present)
        rho = max(int(d.p.shape[2]) for d in present)
        p = torch.zeros(len(dirs), m, self.d_out, rho, dtype=torch.float64)
        r = torch.zeros(len(dirs), m, rho, self.d_in, dtype=torch.float64)
        lam = torch.zeros(len(dirs), m, dtype=torch.float64)
        for i, d in enumerate(dirs):
            if d is not None:
                k, q = d.count, int(d.p.shape[2])
                p[i, :k, :, :q], r[i, :k, :q, :], lam[i, :k] = d.p, d.r, d.lam
        self.dir_p, self.dir_r, self.dir_lam = p, r, lam

    def to_(self, device: torch.device, dtype: torch.dtype) -> None:
        """Move every stacked constant to ``device``/``dtype`` in place (once, not per step)."""
        for key in self._TENSORS:
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, value.to(device=device, dtype=dtype))


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; everything else (fp32, bf16, fp16) is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _pad_cols(q: torch.Tensor, k: int) -> torch.Tensor:
    return torch.nn.functional.pad(q, (0, k - q.shape[1]))


def _check_module_basis(name: str, mb: ModuleBasis, d_out: int, d_in: int) -> None:
    problems = []
    if mb.shape != (d_out, d_in):
        problems.append(f"basis shape (d_out, d_in) = {mb.shape} but the module is {(d_out, d_in)}")
    for vec, q, label in ((mb.nu, mb.q_out, "nu"), (mb.mu, mb.q_in, "mu")):
        if vec.ndim != 1 or vec.shape[0] != q.shape[1] or q.shape[1] < 1:
            problems.append(f"{label} has shape {tuple(vec.shape)} for {q.shape[1]} directions")
    if mb.diag_out.shape != (d_out,) or mb.diag_in.shape != (d_in,):
        problems.append(f"factor diagonals have shapes {tuple(mb.diag_out.shape)}, "
                        f"{tuple(mb.diag_in.shape)}")
    if problems:
        raise FisherMismatchError(
            f"the Fisher basis of module {name!r} does not fit the adapted model: "
            f"{'; '.join(problems)}. Re-estimate it with `alignguard fisher` on this base model."
        )
    for q, label in ((mb.q_out, "q_out"), (mb.q_in, "q_in")):
        q64 = q.detach().to(torch.float64)
        err = float((q64.T @ q64 - torch.eye(q.shape[1], dtype=torch.float64)).abs().max())
        if not err <= ORTHO_TOL:
            raise ValueError(
                f"{label} of module {name!r} is not orthonormal (max |Q^T Q - I| = {err:.2e}), so "
                "P_A would not be a projection; the Fisher file is corrupt: re-estimate it."
            )


def _stack_basis(spec: GroupSpec, bases: list[ModuleBasis]) -> None:
    k_o = max(b.k_out for b in bases)
    k_i = max(b.k_in for b in bases)
    spec.q_out = torch.stack([_pad_cols(b.q_out, k_o) for b in bases])
    spec.q_in = torch.stack([_pad_cols(b.q_in, k_i) for b in bases])
    nu = torch.stack([torch.nn.functional.pad(b.nu, (0, k_o - b.k_out)) for b in bases])
    mu = torch.stack([torch.nn.functional.pad(b.mu, (0, k_i - b.k_in)) for b in bases])
    spec.nu_mu = nu[:, :, None] * mu[:, None, :]
    spec.gram_out = spec.q_out.transpose(1, 2) @ spec.q_out
    spec.gram_in = spec.q_in.transpose(1, 2) @ spec.q_in
    spec.diag_out = torch.stack([b.diag_out for b in bases])
    spec.diag_in = torch.stack([b.diag_in for b in bases])
    spec.k_out = torch.tensor([float(b.k_out) for b in bases])
    spec.k_in = torch.tensor([float(b.k_in) for b in bases])
    spec.directions = [b.directions for b in bases]
    spec.stack_directions()


class GeometryLayout:
    """Built once per (model, basis); :meth:`geometry` gives the live geometry every step.

    Args:
        model: a PEFT-wrapped model (or any model; without LoRA layers the layout is empty and
            every term is 0).
        basis: the alignment basis, or ``None``: then the alignment subspace is empty
            (``dW_A = 0``), basis-dependent terms are 0 and ``L_T = ||dW||^2``.
        adapter: PEFT adapter name.
        seed: seed of the layout's own generator (E_riem block sampling), so that adding the
            regularizers never perturbs the global RNG stream of the training loop.

    Raises:
        FisherMismatchError: the basis misses an adapted module, has the wrong shapes, or was
            estimated on a different model (fingerprint).
    """

    def __init__(self, model: torch.nn.Module | None, basis: AlignmentBasis | None,
                 adapter: str = "default", seed: int = 0) -> None:
        factors, w0_sq = {}, {}
        if model is not None:
            factors = lora_factors(model, adapter)
            for name, layer in lora_layers(model, adapter).items():
                weight = layer.get_base_layer().weight.detach()
                w0_sq[name] = float(weight.to(torch.float64).square().sum())
            if basis is not None and factors:
                basis.check_model(model, sorted(factors))
        self._build(factors, basis, w0_sq, seed)

    @classmethod
    def from_factors(cls, factors: Mapping[str, LoraFactors], basis: AlignmentBasis | None,
                     w0_sq: Mapping[str, float] | None = None, seed: int = 0) -> GeometryLayout:
        """A layout over explicit factors (tests, non-PEFT code); no model fingerprint check.

        Args:
            factors: module name -> ``LoraFactors`` (tensors that may require grad).
            basis: alignment basis covering every name, or ``None``.
            w0_sq: ``||W0||_F^2`` per module (needed only for ``norm="weight"``).
            seed: seed of the E_riem sampling generator.
        """
        self = cls.__new__(cls)
        self._build(dict(factors), basis, dict(w0_sq or {}), seed)
        return self

    def _build(self, factors: dict[str, LoraFactors], basis: AlignmentBasis | None,
               w0_sq: dict[str, float], seed: int) -> None:
        self.basis = basis
        self.names = sorted(factors)
        self.generator = torch.Generator().manual_seed(seed)
        if basis is not None:
            missing = [n for n in self.names if n not in basis.modules]
            if missing:
                raise FisherMismatchError(
                    f"the Fisher basis has no entry for {len(missing)} adapted module(s), e.g. "
                    f"{missing[:3]}. Re-run `alignguard fisher` with the training target modules."
                )
        by_key: dict[tuple[int, int, int], list[str]] = {}
        for name in self.names:
            f = factors[name]
            r, d_in = f.A.shape
            d_out = f.B.shape[0]
            if f.B.shape[1] != r:
                raise ValueError(f"LoRA factors of {name!r}: B {tuple(f.B.shape)} vs A {tuple(f.A.shape)}")
            if basis is not None:
                _check_module_basis(name, basis.modules[name], d_out, d_in)
            by_key.setdefault((d_out, d_in, r), []).append(name)
        self.groups = [self._group(key, names, factors, basis, w0_sq) for key, names in by_key.items()]
        self._placed: tuple[torch.device, torch.dtype] | None = None

    @staticmethod
    def _group(key: tuple[int, int, int], names: list[str], factors: dict[str, LoraFactors],
               basis: AlignmentBasis | None, w0_sq: dict[str, float]) -> GroupSpec:
        d_out, d_in, r = key
        known = all(n in w0_sq for n in names)
        spec = GroupSpec(
            names=names, A_params=[factors[n].A for n in names],
            B_params=[factors[n].B for n in names], d_out=d_out, d_in=d_in, r=r,
            scale=torch.tensor([float(factors[n].scale) for n in names], dtype=torch.float64),
            w0_sq=torch.tensor([w0_sq[n] for n in names], dtype=torch.float64) if known else None,
        )
        if basis is not None:
            _stack_basis(spec, [basis.modules[n].to(dtype=torch.float64) for n in names])
        return spec

    @property
    def n_modules(self) -> int:
        return len(self.names)

    @property
    def has_directions(self) -> bool:
        """Whether any module carries weight-space directions."""
        return any(g.dir_p is not None for g in self.groups)

    def add_directions(self, directions: Mapping[str, ModuleDirections]) -> None:
        """Append weight-space directions (e.g. re-estimated during training) to every module.

        Each added direction measures the whole displacement ``dW`` from ``W0``, like the first.
        """
        missing = [n for n in self.names if n not in directions]
        if missing:
            raise ValueError(f"no new directions for module(s) {missing[:3]}")
        for spec in self.groups:
            old = spec.directions or [None] * len(spec.names)
            new = [directions[n].to(dtype=torch.float64) for n in spec.names]
            spec.directions = [n if o is None else o.to(dtype=torch.float64).cat(n)
                               for o, n in zip(old, new, strict=True)]
            spec.stack_directions()
        self._placed = None  # move the rebuilt constants on the next geometry() call

    def _place(self) -> tuple[torch.device, torch.dtype]:
        first = self.groups[0].A_params[0]
        where = (first.device, compute_dtype(first.dtype))
        if where != self._placed:  # first call, or the model moved: move constants once
            for spec in self.groups:
                spec.to_(*where)
            self._placed = where
        return where

    def rebind(self, model: torch.nn.Module, adapter: str = "default") -> int:
        """Point the layout at the model's current LoRA parameters; returns the modules rebound.

        Wrappers that replace parameter objects (FSDP2's ``fully_shard`` swaps in ``DTensor``
        parameters) leave a layout built before wrapping holding stale tensors.

        Raises:
            ValueError: the model's adapted modules differ from the layout's.
        """
        factors = lora_factors(model, adapter)
        if sorted(factors) != sorted(self.names):
            raise ValueError(f"the model adapts {len(factors)} modules but the layout was built "
                             f"for {len(self.names)}; rebuild the Objective for this model")
        for group in self.groups:
            group.A_params = [factors[n].A for n in group.names]
            group.B_params = [factors[n].B for n in group.names]
        return len(factors)

    def geometry(self) -> AdapterGeometry:
        """Stack the live LoRA factors per group (differentiable) into an AdapterGeometry."""
        if not self.groups:
            return AdapterGeometry([], [], [], has_basis=self.basis is not None,
                                   generator=self.generator)
        device, dtype = self._place()
        # whole(): FSDP2 shards parameters as DTensors; gather them (differentiably)
        As = [torch.stack([whole(a) for a in g.A_params]).to(dtype) for g in self.groups]
        Bs = [torch.stack([whole(b) for b in g.B_params]).to(dtype) for g in self.groups]
        return AdapterGeometry(self.groups, As, Bs, has_basis=self.basis is not None,
                               generator=self.generator, device=device, dtype=dtype)
