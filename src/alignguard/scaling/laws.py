"""Functional forms of the forgetting scaling laws (method.md section 5).

AlignGuard-LoRA (arXiv 2508.02079) fits a law for post-fine-tuning loss escalation and reports
that AGL "flattens" it (smaller amplitude and residual) while preserving adaptation. The paper's
exact form is not available offline; two published forms fit the description, and both are
instances of one multiplicative power law with an additive residual,

    F(x) = A * prod_j x_j ** (s_j * e_j) + E,

with amplitude ``A >= 0``, residual ``E >= 0``, exponents ``e_j`` and fixed signs ``s_j``:

* :data:`BETHUNE` (Bethune et al. 2025, "Scaling laws for forgetting during finetuning with
  pretraining data injection"): ``L_post(D) = L0 + A * D**beta / N**alpha + E``, with ``D`` the
  fine-tuning amount (steps or tokens) and ``N`` the model's parameter count. ``L0`` is the
  pre-fine-tuning loss (measured at ``D = 0`` by the sweep), so the fitted target is the
  forgetting ``L_post - L0 = A * D**beta / N**alpha + E``. In a sweep over one base model ``N`` is
  constant and ``alpha`` is not identifiable: the fitter then fixes ``alpha = 0``.
* :data:`KALAJDZIEVSKI` (Kalajdzievski 2024, "Scaling laws for forgetting when fine-tuning large
  language models with LoRA"): forgetting is a shifted power law in the number of fine-tuned
  parameters ``P`` and update steps ``t``: ``F(P, t) = A * P**alpha * t**beta + E``.

Internally every variable is divided by a reference value ``x_ref`` (the geometric mean of the
data unless given) so the fit is well conditioned; :meth:`PowerLaw.amplitude_raw` converts the
amplitude back to raw units, ``A = A_ref * prod_j x_ref_j ** (-s_j * e_j)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


class ScalingFitError(ValueError):
    """Input to a scaling-law fit is degenerate; the message says what is wrong and the fix."""


@dataclass(frozen=True)
class PowerLaw:
    """``F(x) = A_ref * prod_j (x_j / x_ref_j) ** (s_j * e_j) + E``.

    Attributes:
        name: short name ("bethune", "kalajdzievski").
        variables: names of the input columns, in order (e.g. ``("D", "N")``).
        exponents: per variable, ``(exponent parameter name, sign s_j)``.
        bounds: default ``(low, high)`` per parameter (``A``, ``E`` and the exponents).
        formula: human-readable form, stored in the fit report.
    """

    name: str
    variables: tuple[str, ...]
    exponents: tuple[tuple[str, float], ...]
    bounds: tuple[tuple[str, tuple[float, float]], ...]
    formula: str

    @property
    def params(self) -> tuple[str, ...]:
        """Parameter names in the order the optimiser sees them: ``A``, exponents, ``E``."""
        return ("A", *(e for e, _ in self.exponents), "E")

    def default_bounds(self) -> dict[str, tuple[float, float]]:
        """The law's default parameter bounds as a dict."""
        return dict(self.bounds)

    def basis(self, x: np.ndarray, theta: Mapping[str, float], x_ref: np.ndarray) -> np.ndarray:
        """``prod_j (x_j / x_ref_j) ** (s_j * e_j)`` for each row of ``x`` (shape ``(n, k)``)."""
        z = np.log(x / x_ref)
        expo = np.array([sign * theta[name] for name, sign in self.exponents])
        return np.exp(z @ expo)

    def predict(self, x: np.ndarray, theta: Mapping[str, float], x_ref: np.ndarray) -> np.ndarray:
        """``F(x)`` with the amplitude ``theta["A"]`` given at the reference point ``x_ref``."""
        return theta["A"] * self.basis(x, theta, x_ref) + theta["E"]

    def amplitude_raw(self, theta: Mapping[str, float], x_ref: np.ndarray) -> float:
        """The amplitude in raw units: ``A = A_ref * prod_j x_ref_j ** (-s_j * e_j)``."""
        log_a = sum(-sign * theta[name] * np.log(ref) for (name, sign), ref in
                    zip(self.exponents, x_ref, strict=True))
        return float(theta["A"] * np.exp(log_a))


BETHUNE = PowerLaw(
    name="bethune",
    variables=("D", "N"),
    exponents=(("beta", 1.0), ("alpha", -1.0)),
    bounds=(("A", (0.0, np.inf)), ("beta", (0.0, 3.0)), ("alpha", (0.0, 2.0)),
            ("E", (0.0, np.inf))),
    formula="L_post - L0 = A * D^beta / N^alpha + E  (Bethune et al. 2025)",
)

KALAJDZIEVSKI = PowerLaw(
    name="kalajdzievski",
    variables=("P", "t"),
    exponents=(("alpha", 1.0), ("beta", 1.0)),
    bounds=(("A", (0.0, np.inf)), ("alpha", (-2.0, 2.0)), ("beta", (0.0, 3.0)),
            ("E", (0.0, np.inf))),
    formula="F(P, t) = A * P^alpha * t^beta + E  (Kalajdzievski 2024)",
)

LAWS: dict[str, PowerLaw] = {BETHUNE.name: BETHUNE, KALAJDZIEVSKI.name: KALAJDZIEVSKI}


def validate_inputs(law: PowerLaw, x: np.ndarray, y: np.ndarray, offset: np.ndarray,
                    n_free: int) -> None:
    """Check that ``x``, ``y`` and ``offset`` can be fitted by ``law`` with ``n_free`` parameters.

    Raises:
        ScalingFitError: wrong shapes, too few points or distinct inputs, non-finite values,
            non-positive inputs (a power law needs ``x > 0``), or ``offset + y <= 0`` (the fit
            works on log residuals).
    """
    if x.ndim != 2 or x.shape[1] != len(law.variables):
        raise ScalingFitError(
            f"{law.name}: x must have shape (n, {len(law.variables)}) with columns "
            f"{law.variables}, got {x.shape}"
        )
    if y.shape != (x.shape[0],) or offset.shape != y.shape:
        raise ScalingFitError(f"{law.name}: y and offset must have shape ({x.shape[0]},)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(np.isfinite(offset))):
        raise ScalingFitError(f"{law.name}: inputs contain NaN or infinite values; drop those rows")
    if np.any(x <= 0):
        bad = sorted({law.variables[j] for j in np.nonzero(np.any(x <= 0, axis=0))[0]})
        raise ScalingFitError(
            f"{law.name}: variable(s) {bad} have non-positive values; a power law needs "
            "x > 0 (drop the D = 0 baseline rows: they enter as L0, not as points)"
        )
    if np.any(offset + y <= 0):
        raise ScalingFitError(
            f"{law.name}: offset + y must be > 0 for log residuals, but "
            f"{int(np.sum(offset + y <= 0))} point(s) are <= 0; fit a positive target or pass "
            "an offset (e.g. the base loss L0, so that residuals are taken on L_post)"
        )
    n_distinct = len({tuple(row) for row in x})
    if x.shape[0] < n_free + 1 or n_distinct < n_free:
        raise ScalingFitError(
            f"{law.name}: {x.shape[0]} point(s) at {n_distinct} distinct input(s) cannot "
            f"determine {n_free} free parameters; need at least {n_free + 1} points at "
            f"{n_free} or more distinct inputs (add fine-tuning amounts to the sweep)"
        )
