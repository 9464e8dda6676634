"""The live geometry of all LoRA updates in one step, with lazily cached shared pieces.

For a module with ``dW = s B A`` (``B``: d_out x r, ``A``: r x d_in) and alignment bases
``Q_o`` (d_out x k_o), ``Q_i`` (d_in x k_i) (AlignGuard-LoRA, arXiv 2508.02079; method.md
sections 2-3), every term except E_riem is a function of small matrices only::

    B^T B, A A^T          (r x r Gram matrices)
    Q_o^T B, A Q_i        (k_o x r, r x k_i)
    C = s (Q_o^T B)(A Q_i)    (k_o x k_i core:  dW_A = Q_o C Q_i^T)
    ||dW||_F^2 = s^2 tr((B^T B)(A A^T))

:class:`GroupGeometry` holds these for one shape group, stacked along a leading module axis
``G``; each is computed at most once per step however many terms use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from alignguard.regularizers.layout import GroupSpec


def _bmm_t(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x^T y`` over the last two axes."""
    return x.transpose(-1, -2) @ y


def _sq_sum(x: torch.Tensor) -> torch.Tensor:
    """Per-module squared Frobenius norm: sum over the last two axes."""
    return x.square().sum((-1, -2))


def whitened_overlap(gram: torch.Tensor, proj: torch.Tensor, floor: float) -> torch.Tensor:
    """``||Q^T X (X^T X + floor I)^(-1/2)||_F^2 = tr((X^T X + floor I)^(-1) P^T P)``, ``P = Q^T X``.

    Computed as ``||L^(-1) P^T||_F^2`` with the Cholesky factor ``L`` of the regularised Gram
    matrix (r x r, float64): no matrix square root or eigen-decomposition, so gradients stay
    finite when the Gram matrix is 0 or has repeated eigenvalues.

    Args:
        gram: ``(G, r, r)`` Gram matrices ``X^T X``.
        proj: ``(G, k, r)`` projections ``Q^T X``.
        floor: ``eps`` added to the diagonal (> 0).

    Returns:
        ``(G,)`` overlaps, each in ``[0, min(r, k)]``.
    """
    eye = torch.eye(gram.shape[-1], dtype=torch.float64, device=gram.device)
    chol = torch.linalg.cholesky(gram.to(torch.float64) + floor * eye)
    y = torch.linalg.solve_triangular(chol, proj.to(torch.float64).transpose(-1, -2), upper=False)
    return _sq_sum(y).to(gram.dtype)


def spectral_overlap(m: torch.Tensor, n: torch.Tensor, proj: torch.Tensor,
                     floor: float) -> torch.Tensor:
    """``||Q^T U||_F^2`` for the smoothly whitened column space ``U`` of ``Y = X m^(1/2)``.

    For ``dW dW^T = X m X^T`` (``X``: d x r, ``m``: r x r PSD) the smooth projector
    ``dW dW^T (dW dW^T + floor I)^(-1) = X (m n + floor I)^(-1) m X^T`` with ``n = X^T X``
    (push-through identity), so with ``P = Q^T X``::

        ||Q^T U||_F^2 = tr((m n + floor I)^(-1) m P^T P)

    Each singular direction of ``dW`` counts with weight ``sigma^2 / (sigma^2 + floor)``: 1 for
    a real direction, 0 at ``dW = 0`` (finite gradients there). r x r solve in float64.

    Args:
        m: ``(G, r, r)`` PSD middle factor.
        n: ``(G, r, r)`` Gram ``X^T X``.
        proj: ``(G, k, r)`` ``P = Q^T X``.
        floor: singular-value-squared floor (> 0).
    """
    m64, n64, p64 = (t.to(torch.float64) for t in (m, n, proj))
    eye = torch.eye(m.shape[-1], dtype=torch.float64, device=m.device)
    sol = torch.linalg.solve(m64 @ n64 + floor * eye, m64 @ (p64.transpose(-1, -2) @ p64))
    return sol.diagonal(dim1=-2, dim2=-1).sum(-1).to(m.dtype)


class GroupGeometry:
    """Shared intermediates of one group of same-shape modules, each cached on first use.

    Attributes:
        spec: the static :class:`~alignguard.regularizers.layout.GroupSpec`.
        A: ``(G, r, d_in)`` stacked live ``A`` factors.
        B: ``(G, d_out, r)`` stacked live ``B`` factors.
    """

    def __init__(self, spec: GroupSpec, A: torch.Tensor, B: torch.Tensor) -> None:
        self.spec, self.A, self.B = spec, A, B
        self._overlap: dict[tuple[str, float], torch.Tensor] = {}
        self.cache: dict[object, torch.Tensor] = {}  # for terms' own per-step intermediates

    @property
    def scale(self) -> torch.Tensor:
        """``(G,)`` LoRA scales ``s``."""
        return self.spec.scale

    @cached_property
    def btb(self) -> torch.Tensor:
        """``(G, r, r)`` ``B^T B``."""
        return _bmm_t(self.B, self.B)

    @cached_property
    def aat(self) -> torch.Tensor:
        """``(G, r, r)`` ``A A^T``."""
        return self.A @ self.A.transpose(-1, -2)

    @cached_property
    def dw_sq(self) -> torch.Tensor:
        """``(G,)`` ``||dW||_F^2 = s^2 tr((B^T B)(A A^T))`` (both symmetric)."""
        return self.scale.square() * (self.btb * self.aat).sum((-1, -2))

    @cached_property
    def qob(self) -> torch.Tensor:
        """``(G, k_o, r)`` ``Q_o^T B``."""
        return _bmm_t(self.spec.q_out, self.B)

    @cached_property
    def aqi(self) -> torch.Tensor:
        """``(G, r, k_i)`` ``A Q_i``."""
        return self.A @ self.spec.q_in

    @cached_property
    def core(self) -> torch.Tensor:
        """``(G, k_o, k_i)`` ``C = s (Q_o^T B)(A Q_i) = Q_o^T dW Q_i``."""
        return self.scale[:, None, None] * (self.qob @ self.aqi)

    @cached_property
    def core_sq(self) -> torch.Tensor:
        """``(G,)`` ``||C||_F^2 = ||dW_A||_F^2`` (orthonormal bases)."""
        return _sq_sum(self.core)

    @cached_property
    def task_sq(self) -> torch.Tensor:
        """``(G,)`` ``||dW_T||_F^2 = ||dW||^2 - ||C||^2`` (Pythagoras), clamped at 0."""
        return (self.dw_sq - self.core_sq).clamp_min(0.0)

    @cached_property
    def fisher(self) -> torch.Tensor:
        """``(G,)`` ``sum_ij nu_i mu_j C_ij^2 = vec(dW_A)^T F vec(dW_A)``."""
        return (self.spec.nu_mu * self.core.square()).sum((-1, -2))

    def _overlap_cached(self, key: tuple[str, float], fn) -> torch.Tensor:
        if key not in self._overlap:
            self._overlap[key] = fn()
        return self._overlap[key]

    def overlap_out(self, geo_eps: float) -> torch.Tensor:
        """``(G,)`` ``||Q_o^T U||_F^2``, ``U``: smoothly whitened column space of ``dW``.

        ``dW dW^T = B (s^2 A A^T) B^T``; floor ``geo_eps * d_out * d_in`` on ``sigma^2``.
        """
        floor = geo_eps * self.spec.d_out * self.spec.d_in
        m = self.scale.square()[:, None, None] * self.aat
        return self._overlap_cached(
            ("out", geo_eps), lambda: spectral_overlap(m, self.btb, self.qob, floor))

    def overlap_in(self, geo_eps: float) -> torch.Tensor:
        """``(G,)`` ``||Q_i^T V||_F^2``, ``V``: smoothly whitened row space of ``dW``.

        ``dW^T dW = A^T (s^2 B^T B) A``; same floor as :meth:`overlap_out`.
        """
        floor = geo_eps * self.spec.d_out * self.spec.d_in
        m = self.scale.square()[:, None, None] * self.btb
        return self._overlap_cached(
            ("in", geo_eps),
            lambda: spectral_overlap(m, self.aat, self.aqi.transpose(-1, -2), floor))

    def factor_overlaps(self, geo_eps: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-factor variant: ``U = B (B^T B + eps d_out I)^(-1/2)``, ``V`` likewise for ``A^T``.

        The spec's literal whitening; unlike :meth:`overlap_out`/:meth:`overlap_in` the ``A``
        side is not 0 at LoRA init (``A`` is random there while ``dW = 0``).
        """
        out = self._overlap_cached(
            ("fout", geo_eps),
            lambda: whitened_overlap(self.btb, self.qob, geo_eps * self.spec.d_out))
        inn = self._overlap_cached(
            ("fin", geo_eps),
            lambda: whitened_overlap(self.aat, self.aqi.transpose(-1, -2), geo_eps * self.spec.d_in))
        return out, inn

    @cached_property
    def align_sq_gram(self) -> torch.Tensor:
        """``(G,)`` ``||Q_o C Q_i^T||_F^2 = tr(C^T (Q_o^T Q_o) C (Q_i^T Q_i))`` (no orthonormality assumed)."""
        return (_bmm_t(self.core, self.spec.gram_out @ self.core) * self.spec.gram_in).sum((-1, -2))

    @cached_property
    def dir_coeffs(self) -> torch.Tensor:
        """``(G, m)`` ``c_m = <V_m, dW> = s tr((P_m^T B)(A R_m^T))`` for ``V_m = P_m R_m``."""
        ptb = torch.einsum("gmdp,gdr->gmpr", self.spec.dir_p, self.B)
        ar = torch.einsum("grk,gmpk->gmrp", self.A, self.spec.dir_r)
        return self.scale[:, None] * torch.einsum("gmpr,gmrp->gm", ptb, ar)

    @cached_property
    def directions(self) -> torch.Tensor:
        """``(G,)`` ``sum_m lam_m c_m^2``: the weight-space Fisher energy of ``dW`` (0 without)."""
        if self.spec.dir_p is None:
            return torch.zeros_like(self.scale)
        return (self.spec.dir_lam * self.dir_coeffs.square()).sum(-1)

    @cached_property
    def ewc(self) -> torch.Tensor:
        """``(G,)`` ``sum_ij dout_i din_j dW_ij^2 = s^2 tr((B^T D_o B)(A D_i A^T))``."""
        bdb = _bmm_t(self.B, self.spec.diag_out[:, :, None] * self.B)
        ada = (self.A * self.spec.diag_in[:, None, :]) @ self.A.transpose(-1, -2)
        return self.scale.square() * (bdb * ada).sum((-1, -2))

    def norm_factor(self, norm: str) -> torch.Tensor | float:
        """Per-module divisor of quadratic terms: ``||W0||_F^2``, ``d_out d_in`` or 1."""
        if norm == "weight":
            if self.spec.w0_sq is None:
                raise ValueError(
                    "norm='weight' needs ||W0||_F^2 of every adapted module; build the layout from "
                    "the model (GeometryLayout(model, basis)) or pass w0_sq to from_factors"
                )
            return self.spec.w0_sq.clamp_min(torch.finfo(self.spec.w0_sq.dtype).tiny)
        if norm == "element":
            return float(self.spec.d_out * self.spec.d_in)
        return 1.0


class AdapterGeometry:
    """The LoRA updates of all adapted modules at one step, grouped by shape.

    Terms compute a ``(G,)`` tensor per group and combine them with :meth:`reduce`.

    Attributes:
        groups: one :class:`GroupGeometry` per shape group.
        has_basis: whether an alignment basis is attached (otherwise ``dW_A = 0``).
        n_modules: number of adapted modules.
        generator: the layout's random generator (E_riem block sampling).
    """

    def __init__(self, specs: Sequence[GroupSpec], As: Sequence[torch.Tensor],
                 Bs: Sequence[torch.Tensor], *, has_basis: bool, generator: torch.Generator,
                 device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> None:
        self.groups = [GroupGeometry(s, a, b) for s, a, b in zip(specs, As, Bs, strict=True)]
        self.has_basis = has_basis
        self.n_modules = sum(len(s.names) for s in specs)
        self.generator = generator
        self.device, self.dtype = device, dtype

    @property
    def module_names(self) -> list[str]:
        """Module names in the order of the concatenated per-group values."""
        return [n for g in self.groups for n in g.spec.names]

    def zero(self) -> torch.Tensor:
        """A scalar 0 on the geometry's device (terms that do not apply)."""
        return torch.zeros((), device=self.device, dtype=self.dtype)

    def reduce(self, per_group: Sequence[torch.Tensor], reduction: str = "mean") -> torch.Tensor:
        """Sum (``"sum"``) or average (``"mean"``) per-module values over all modules."""
        if not per_group:
            return self.zero()
        total = torch.cat(list(per_group)).sum()
        return total / self.n_modules if reduction == "mean" else total

    def per_module(self, per_group: Sequence[torch.Tensor]) -> dict[str, float]:
        """Per-module values as a name -> float mapping (diagnostics)."""
        flat = torch.cat(list(per_group)).detach().cpu().tolist() if per_group else []
        return dict(zip(self.module_names, flat, strict=True))
