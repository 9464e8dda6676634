"""The built-in terms of the AlignGuard-LoRA objective (arXiv 2508.02079; method.md section 3).

    L = L_task + lam_A L_A + lam_D L_D + lam_T L_T + lam_NC E_col (+ lam_ewc L_ewc)

Per module, with ``C = Q_o^T dW Q_i`` (see :mod:`alignguard.regularizers.geometry`)::

    fisher      L_A   = sum_ij nu_i mu_j C_ij^2                      / N_l
    directions  L_D   = sum_m lam_m <V_m, dW>^2                      / N_l
    task        L_T   = ||dW||_F^2 - ||C||_F^2                       / N_l
    ewc         L_ewc = s^2 tr((B^T D_o B)(A D_i A^T))               / N_l
    update_norm       = ||dW||_F^2 = s^2 tr((B^T B)(A A^T))          / N_l
    geodesic    E_geo = 1/2 (||Q_o^T U||^2 / min(r,k_o) + ||Q_i^T V||^2 / min(r,k_i))
                U, V: smoothly whitened left/right singular spaces of dW (r x r solves)
    cosine            = <dW_A, dW_T>^2 / (||dW_A||^2 ||dW_T||^2)      (paper-literal, ~0)
    riemannian  E_riem (see :mod:`alignguard.regularizers.riemannian`)
    collision   E_col = alpha E_riem + (1 - alpha) E_geo

``N_l`` is ``||W0||_F^2`` (``norm="weight"``), ``d_out d_in`` ("element") or 1 ("none"); module
values are averaged or summed per ``reduction``. Without a basis the alignment subspace is empty:
basis terms are 0 and ``L_T`` equals ``update_norm``.
"""

from __future__ import annotations

import torch

from alignguard.regularizers.config import RegularizerConfig
from alignguard.regularizers.geometry import AdapterGeometry, GroupGeometry
from alignguard.regularizers.registry import register
from alignguard.regularizers.riemannian import RiemOptions, riem_values


def riem_options(cfg: RegularizerConfig) -> RiemOptions:
    """E_riem options from the config."""
    return RiemOptions(weight=cfg.riem_weight, beta=cfg.riem_beta, tau=cfg.riem_tau,
                       temp=cfg.riem_temp, norm=cfg.riem_norm, sample=cfg.riem_sample,
                       chunk=cfg.riem_chunk, eps=cfg.riem_eps)


def geo_grassmann(g: GroupGeometry, geo_eps: float, factors: bool = False) -> torch.Tensor:
    """``(G,)`` mean squared cosine of the principal angles between update and alignment spaces.

    ``factors=False``: singular spaces of ``dW`` (default); ``True``: column spaces of ``B`` and
    ``A^T`` whitened separately (geo_form "grassmann_factors").
    """
    r = float(g.spec.r)
    if factors:
        out, inn = g.factor_overlaps(geo_eps)
    else:
        out, inn = g.overlap_out(geo_eps), g.overlap_in(geo_eps)
    return 0.5 * (out / g.spec.k_out.clamp(max=r) + inn / g.spec.k_in.clamp(max=r))


def cosine_sq(g: GroupGeometry) -> torch.Tensor:
    """``(G,)`` literal ``cos^2(dW_A, dW_T)`` in factored form, 0 where either part is 0.

    With ``a = ||Q_o C Q_i^T||^2`` (Gram form: orthonormality not assumed, so this checks it)
    ``<dW_A, dW_T> = ||C||^2 - a`` and ``||dW_T||^2 = ||dW||^2 - 2 ||C||^2 + a``.
    """
    a = g.align_sq_gram
    num = g.core_sq - a
    den = a * (g.dw_sq - 2.0 * g.core_sq + a).clamp_min(0.0)
    ok = den > torch.finfo(den.dtype).tiny
    return torch.where(ok, num.square() / torch.where(ok, den, torch.ones_like(den)),
                       torch.zeros_like(den))


class _Term:
    """Base of the built-in terms: keeps the options they need from the config."""

    name = ""
    needs_basis = True

    def __init__(self, cfg: RegularizerConfig) -> None:
        self.cfg = cfg

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def _reduce(self, geom: AdapterGeometry, vals: list[torch.Tensor]) -> torch.Tensor:
        return geom.reduce(vals, self.cfg.reduction)

    def _quadratic(self, geom: AdapterGeometry, attr: str) -> torch.Tensor:
        """Reduce a per-module quadratic (``GroupGeometry.<attr>``) divided by ``N_l``."""
        norm = self.cfg.norm
        return self._reduce(geom, [getattr(g, attr) / g.norm_factor(norm) for g in geom.groups])


@register("fisher")
class FisherPenalty(_Term):
    """L_A: Fisher-weighted energy of the alignment-critical part ``dW_A``."""

    name = "fisher"

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        return self._quadratic(geom, "fisher") if geom.has_basis else geom.zero()


@register("directions")
class DirectionPenalty(_Term):
    """L_D: energy of ``dW`` along the weight-space Fisher directions (:mod:`alignguard.alignment.directions`)."""

    name = "directions"

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        return self._quadratic(geom, "directions") if geom.has_basis else geom.zero()


@register("task")
class TaskStability(_Term):
    """L_T: trust region on the task-specific part, ``||dW_T||^2 = ||dW||^2 - ||C||^2``."""

    name = "task"
    needs_basis = False

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        return self._quadratic(geom, "task_sq" if geom.has_basis else "dw_sq")


@register("riemannian")
class RiemannianOverlap(_Term):
    """E_riem: metric-weighted coordinate-wise overlap of ``dW_A`` and ``dW_T``."""

    name = "riemannian"

    def __init__(self, cfg: RegularizerConfig) -> None:
        super().__init__(cfg)
        self.opts = riem_options(cfg)

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        if not geom.has_basis:
            return geom.zero()
        return self._reduce(geom, [riem_values(g, self.opts, geom.generator) for g in geom.groups])


@register("geodesic")
class GeodesicSeparation(_Term):
    """E_geo: Grassmann overlap (default) or the paper-literal cosine, per ``geo_form``."""

    name = "geodesic"

    def values(self, g: GroupGeometry) -> torch.Tensor:
        """``(G,)`` per-module E_geo."""
        if self.cfg.geo_form == "cosine":
            return cosine_sq(g)
        return geo_grassmann(g, self.cfg.geo_eps, factors=self.cfg.geo_form == "grassmann_factors")

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        if not geom.has_basis:
            return geom.zero()
        return self._reduce(geom, [self.values(g) for g in geom.groups])


@register("collision")
class CollisionEnergy(_Term):
    """E_col = alpha E_riem + (1 - alpha) E_geo (a component with blend weight 0 is skipped)."""

    name = "collision"

    def __init__(self, cfg: RegularizerConfig) -> None:
        super().__init__(cfg)
        self.riem = RiemannianOverlap(cfg)
        self.geo = GeodesicSeparation(cfg)

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        if not geom.has_basis:
            return geom.zero()
        alpha = self.cfg.alpha
        vals = []
        for g in geom.groups:
            parts = []
            if alpha > 0:
                parts.append(alpha * riem_values(g, self.riem.opts, geom.generator))
            if alpha < 1:
                parts.append((1.0 - alpha) * self.geo.values(g))
            vals.append(parts[0] + parts[1] if len(parts) == 2 else parts[0])
        return self._reduce(geom, vals)


@register("ewc")
class DiagonalEWC(_Term):
    """Diagonal-EWC baseline: ``sum_ij diag(S_out)_i diag(S_in)_j dW_ij^2`` (factored)."""

    name = "ewc"

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        return self._quadratic(geom, "ewc") if geom.has_basis else geom.zero()


@register("cosine")
class LiteralCosine(_Term):
    """Sanity metric: the paper-literal ``cos^2(dW_A, dW_T)``, expected ~0 (P_A orthogonal)."""

    name = "cosine"

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        if not geom.has_basis:
            return geom.zero()
        return self._reduce(geom, [cosine_sq(g) for g in geom.groups])


@register("update_norm")
class UpdateNorm(_Term):
    """Diagnostic: ``||dW||_F^2 = s^2 tr((B^T B)(A A^T))`` (basis-free)."""

    name = "update_norm"
    needs_basis = False

    def __call__(self, geom: AdapterGeometry) -> torch.Tensor:
        return self._quadratic(geom, "dw_sq")
