"""Configuration of the AlignGuard objective (method.md section 3).

    L = L_task + lam_A * L_A + lam_T * L_T + lam_NC * E_col (+ lam_ewc * L_ewc, a baseline)

Owned by the regularizers package; defaults are calibrated on the model organism and documented
in docs/method.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RegularizerConfig:
    """Weights and options of the regularizer terms.

    Attributes:
        lam_A: weight of the Fisher penalty on the alignment-critical part dW_A.
        lam_T: weight of the task-specific stability term on dW_T.
        lam_NC: weight of the collision term E_col.
        alpha: blend E_col = alpha * E_riem + (1 - alpha) * E_geo.
        riem_weight: "sigmoid" (paper-style eta) or "fisher_diag" (Fisher-diagonal metric).
        geo_form: "grassmann" (default) or "cosine" (paper-literal, identically ~0).
        lam_ewc: weight of a diagonal-EWC penalty (baseline; 0 in AGL).
        reduction: how per-module terms combine: "mean" or "sum" over adapted modules.
    """

    lam_A: float = 10.0
    lam_T: float = 0.0
    lam_NC: float = 0.0
    alpha: float = 0.5
    riem_weight: str = "sigmoid"
    riem_beta: float = 1.0
    riem_tau: float = 0.0
    riem_temp: float = 1.0
    geo_form: str = "grassmann"
    lam_ewc: float = 0.0
    reduction: str = "mean"
