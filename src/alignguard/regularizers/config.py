"""Configuration of the AlignGuard objective (method.md section 3; arXiv 2508.02079).

    L = L_task + lam_A * L_A + lam_D * L_D + lam_T * L_T + lam_NC * E_col (+ lam_ewc * L_ewc)

Owned by the regularizers package. Every normalisation and default is explained in
docs/method.md; the paper-literal (unnormalised) forms stay selectable with ``norm="none"``,
``riem_norm="none"``, ``riem_sample=0`` and ``geo_form="cosine"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RIEM_WEIGHTS = ("sigmoid", "fisher_diag")
RIEM_NORMS = ("energy", "none")
GEO_FORMS = ("grassmann", "grassmann_factors", "cosine")
NORMS = ("weight", "element", "none")
REDUCTIONS = ("mean", "sum")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


@dataclass
class RegularizerConfig:
    """Weights and options of the regularizer terms.

    Attributes:
        lam_A: weight of the Fisher penalty ``L_A`` on the alignment-critical part ``dW_A``.
        lam_D: weight of ``L_D``, the energy of ``dW`` along the weight-space Fisher directions
            (alignguard.alignment.directions; needs a basis with directions).
        lam_T: weight of the task-specific stability term ``L_T = ||dW_T||_F^2``.
        lam_NC: weight of the collision term ``E_col``.
        alpha: blend ``E_col = alpha * E_riem + (1 - alpha) * E_geo``, in ``[0, 1]``.
        riem_weight: metric of ``E_riem``: "sigmoid" (paper-style
            ``eta = 1 + beta * sigmoid((|dW_ij| - tau) / temp)``) or "fisher_diag"
            (``eta_ij = diag(S_out)_i * diag(S_in)_j``, each diagonal mean-normalised).
        riem_beta: ``beta`` of the sigmoid weight.
        riem_tau: ``tau`` of the sigmoid weight (in RMS units of ``dW`` when
            ``riem_norm="energy"``, absolute otherwise).
        riem_temp: ``temp`` of the sigmoid weight (same units as ``riem_tau``).
        riem_norm: "energy" divides ``E_riem`` of a module by ``mean(dW^2)`` (scale-free);
            "none" is the paper-literal ``mean_ij eta_ij |dW_A,ij dW_T,ij|``.
        riem_sample: side of the random ``n x n`` block of entries per module on which
            ``E_riem`` is estimated each step (unbiased); 0 computes every entry (exact, dense,
            chunked and checkpointed).
        riem_chunk: exact mode only: at most this many dense entries are materialised at once.
        riem_eps: floor added to ``mean(dW^2)`` in the energy normalisation.
        geo_form: "grassmann" (default: principal angles between the singular subspaces of dW
            and the alignment subspaces), "grassmann_factors" (column spaces of B and A^T
            whitened separately, the spec's literal form) or "cosine" (paper-literal
            ``cos^2(dW_A, dW_T)``, identically ~0).
        geo_eps: smooth-whitening floor per squared entry of ``dW``: singular directions with
            ``sigma^2 << geo_eps * d_out * d_in`` fade out (for "grassmann_factors": floor
            ``geo_eps * d_out`` on ``B^T B`` and ``geo_eps * d_in`` on ``A A^T``).
        lam_ewc: weight of a diagonal-EWC penalty (baseline; 0 in AGL).
        gate: threshold ``tau`` of the alignment gate (alignguard.alignment.gate; not a penalty term: task
            rows whose gradient step points toward the rejected replies by ``>= tau`` times a
            typical rejected reply get weight 0); 0 turns it off.
        reduction: how per-module terms combine: "mean" or "sum" over adapted modules.
        norm: per-module normalisation of the quadratic terms (L_A, L_T, ewc, update_norm):
            "weight" divides by ``||W0||_F^2`` (relative change), "element" by
            ``d_out * d_in``, "none" is paper-literal.
        weights: weights of plug-in terms registered with ``@register`` (by name); the built-in
            terms are weighted by the ``lam_*`` fields above.
        safe_rank: ``safelora``/``asft``: singular directions of ``V = W_aligned - W_base`` kept
            in the alignment matrix ``C = V V^T / ||V||_F`` (factored; 0 keeps all).
        safe_form: ``safelora``/``asft``: "paper" (``C = V V^T / ||V||_F`` as published) or
            "projector" (``C = U_k U_k^T``, the orthogonal projector onto the same directions).
        safe_tau: ``safelora``: project a layer when ``cos(C dW, dW) < safe_tau``.
        safe_layers: ``safelora``: when > 0, project instead the ``safe_layers`` layers of
            lowest similarity (``safe_tau`` ignored).
        lam_perp: ``asft``: weight of ``||(I - C) dW||_F^2`` summed over adapted layers.
        lox_rank: ``lox``: top-``k`` singular directions of ``W_aligned - W_base`` extrapolated.
        lox_alpha: ``lox``: extrapolation factor (``W_aligned + alpha SVD_k(W_aligned - W_base)``).
        lam_kl: weight of ``KL(p_aligned || p_theta)`` on alignment replies: kl-anchor's
            penalty, and the alignment loss safegrad descends on besides its projected task
            gradient (both presets use 1.0 when this is left at 0).
        align_batch: alignment rows per step drawn by kl-anchor, safegrad and lisa (0: the
            preset's default: 8, or 2 for alignguard).
        kl_every: kl-anchor evaluates its KL every this many optimizer steps, weighted by it
            (lazy anchoring; 0: every step).
        kl_contexts: kl-anchor also renders its alignment rows under the task data's this many
            most frequent system prompts (context-matched anchoring; 0: the preset's default:
            none for kl-anchor, 8 for alignguard).
        kl_tokens: kl-anchor anchors only the first this many tokens of each alignment reply,
            where an aligned model decides to refuse (arXiv 2406.05946), and skips the rest of
            the row's compute (0: the preset's default: the whole reply for kl-anchor, 4 for
            alignguard; a number longer than any reply, e.g. 256, anchors whole replies).
        kl_refusal_tokens: kl-anchor anchors this many tokens of the alignment replies that are
            refusals (the keyword judge's markers: :func:`alignguard.methods.alignstream.
            reply_spans`) and ``kl_tokens`` of the others (0: as the others; ours: a large
            number holds each refusal through its end, where the aligned model stops, and
            leaves the helpful replies' anchor at their opening).
        kl_split_tail: with ``kl_refusal_tokens``, the KL is the mean over the openings
            (``kl_tokens`` of every row) plus the mean over the refusals' tails, not one mean
            over all anchored tokens (ours: long tails then do not dilute the openings; unset:
            the preset's default: on for alignguard, off otherwise).
        kl_augment: kl-anchor also anchors this many word-dropout copies of each alignment
            prompt (a quarter of the words left out; the aligned model's distribution on the
            perturbed prompt is the target; 0: none).
        lam_rdir: weight of the refusal-direction anchor (ours, after ProCon, arXiv
            2509.06795): the task rows' hidden states at the last prompt token kept from moving
            away from refusal along the aligned model's refusal direction
            (:mod:`alignguard.methods.refusal_direction`; 0: the preset's default, 1.0 for
            ``alignguard`` and ``refusal-direction``, off otherwise).
        rdir_task: how the refusal-direction anchor holds the task rows' projections:
            "one-sided" (only a move away from refusal is penalised), "two-sided" (held where
            they were, ProCon's constraint) or "off" (refusal rows only).
        rdir_refusals: the refusal-direction anchor also holds the alignment refusal rows'
            projections (one-sided; off by default: the KL anchor already holds those rows).
        rdir_source: where the refusal-direction anchor's task rows come from: "stream" (their
            own seeded stream, ``align_batch`` rows per step: a forward and backward more) or
            "batch", the default (the first ``align_batch`` rows of each task micro-batch, read
            from the task forward's hidden states: one no-grad forward more).
        rdir_cap: where the refusal-direction anchor holds a task row: "none" (at its aligned
            projection ``p0``, the default) or "harmful" (at ``min(p0, m_l)``, the aligned
            harmful prompts' mean projection: rows the aligned model puts further on the refusal
            side than its harmful prompts may move back to that mean; ours, stop 49).
        ref_precision: precision of the no-grad forwards at the aligned weights of the KL
            anchor (its reference ``p_aligned``) and the refusal-direction anchor (its ``p0``):
            "float32" or "bfloat16" (a frozen bf16 copy of the aligned weights, 2 bytes per
            parameter; ours, stop 55: about a third of the cost where the hardware has bf16
            matrix units; docs/method.md). Unset: the preset's default,
            float32 everywhere.
        spf_rank: ``k``, the rank of spf's safety-gradient subspace (<= ``spf_examples``).
        spf_examples: refusal rows whose per-example gradients span spf's subspace.
        spf_refresh: spf recomputes its subspace every this many optimizer steps.
        lisa_rho: ``rho`` of lisa's proximal term ``rho/2 ||w - w_switch||^2``.
        lisa_align_steps: optimizer steps of each lisa alignment phase.
        lisa_task_steps: optimizer steps of each lisa task phase.
    """

    lam_A: float = 1.0
    lam_D: float = 0.0
    lam_T: float = 3e-5
    lam_NC: float = 1e-3
    alpha: float = 0.5
    riem_weight: str = "sigmoid"
    riem_beta: float = 1.0
    riem_tau: float = 1.0
    riem_temp: float = 0.5
    riem_norm: str = "energy"
    riem_sample: int = 64
    riem_chunk: int = 1 << 22
    riem_eps: float = 1e-12
    geo_form: str = "grassmann"
    geo_eps: float = 1e-8
    lam_ewc: float = 0.0
    gate: float = 0.5
    reduction: str = "sum"
    norm: str = "none"
    weights: dict[str, float] = field(default_factory=dict)
    safe_rank: int = 64
    safe_form: str = "paper"
    safe_tau: float = 0.5
    safe_layers: int = 0
    lam_perp: float = 1.0
    lox_rank: int = 6
    lox_alpha: float = 0.5
    # --- published defenses (alignguard.methods.anchors, .surgery, .lisa; docs/method.md) ---
    lam_kl: float = 0.0
    align_batch: int = 0
    kl_every: int = 0
    kl_contexts: int = 0
    kl_tokens: int = 0
    kl_refusal_tokens: int = 0
    kl_split_tail: bool | None = None
    kl_augment: int = 0
    lam_rdir: float = 0.0
    rdir_task: str = "one-sided"
    rdir_refusals: bool = False
    rdir_source: str = "batch"
    rdir_cap: str = "none"
    ref_precision: str | None = None
    spf_rank: int = 4
    spf_examples: int = 8
    spf_refresh: int = 50
    lisa_rho: float = 0.01
    lisa_align_steps: int = 10
    lisa_task_steps: int = 90

    def __post_init__(self) -> None:
        self._check_defenses()
        for name in ("lam_A", "lam_D", "lam_T", "lam_NC", "lam_ewc", "gate", "riem_beta", "riem_eps"):
            value = getattr(self, name)
            if not value >= 0:  # also rejects NaN
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not self.geo_eps > 0:
            raise ValueError(f"geo_eps must be > 0 (it keeps E_geo smooth at dW = 0), got {self.geo_eps}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha blends E_riem and E_geo and must be in [0, 1], got {self.alpha}")
        if not self.riem_temp > 0:
            raise ValueError(f"riem_temp must be > 0, got {self.riem_temp}")
        if self.riem_sample < 0 or self.riem_chunk < 1:
            raise ValueError(
                f"riem_sample must be >= 0 (0 = exact) and riem_chunk >= 1, got "
                f"{self.riem_sample} and {self.riem_chunk}"
            )
        _check_choice("riem_weight", self.riem_weight, RIEM_WEIGHTS)
        _check_choice("riem_norm", self.riem_norm, RIEM_NORMS)
        _check_choice("geo_form", self.geo_form, GEO_FORMS)
        _check_choice("reduction", self.reduction, REDUCTIONS)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("safe_form", self.safe_form, ("paper", "projector"))
        _check_choice("rdir_task", self.rdir_task, ("one-sided", "two-sided", "off"))
        _check_choice("rdir_source", self.rdir_source, ("stream", "batch"))
        _check_choice("rdir_cap", self.rdir_cap, ("none", "harmful"))
        if self.ref_precision is not None:
            _check_choice("ref_precision", self.ref_precision, ("float32", "bfloat16"))
        if self.rdir_task == "off" and not self.rdir_refusals:
            raise ValueError("rdir_task 'off' leaves the refusal-direction anchor no rows; set "
                             "rdir_refusals: true or rdir_task: one-sided")
        for name in ("safe_rank", "safe_layers", "lox_rank"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not (self.lam_perp >= 0 and self.lox_alpha >= 0 and -1.0 <= self.safe_tau <= 1.0):
            raise ValueError(f"need lam_perp >= 0, lox_alpha >= 0 and safe_tau in [-1, 1], got "
                             f"{self.lam_perp}, {self.lox_alpha}, {self.safe_tau}")
        bad = {k: v for k, v in self.weights.items() if not float(v) >= 0}
        if bad:
            raise ValueError(f"weights of plug-in terms must be >= 0, got {bad}")

    def _check_defenses(self) -> None:
        """Validate the fields of the published defenses (kl-anchor, safegrad, spf, lisa)."""
        for name in ("lam_kl", "lam_rdir", "lisa_rho", "kl_every", "kl_contexts", "kl_tokens",
                     "kl_refusal_tokens", "kl_augment", "align_batch"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("spf_rank", "spf_examples", "spf_refresh",
                     "lisa_align_steps", "lisa_task_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.spf_rank > self.spf_examples:
            raise ValueError(f"spf_rank ({self.spf_rank}) cannot exceed spf_examples "
                             f"({self.spf_examples}): the subspace is spanned by their gradients")
