"""What is estimated at the aligned weights ``W0``, and from which data: one settings section.

Every artifact a defense may need from the aligned model (the K-FAC Fisher bases of AGL, the
weight-space directions of ``L_D``, the alignment gate's preference direction) is estimated from
the same alignment set, named once here (``alignment.data``). The gate's threshold and the
penalty weights are the *method's* settings (``reg``); how many rows size each estimate is here.
"""

from __future__ import annotations

from dataclasses import dataclass

TOKEN_MODES = ("response", "all")
ESTIMATORS = ("contrastive", "empirical", "sampled")


@dataclass
class AlignmentSettings:
    """The alignment set and the estimates taken from it at ``W0``.

    Attributes:
        data: alignment rows: a JSONL file (``prompt``/``response``, plus ``rejected``, the
            reply the aligned model must not give, for the contrastive Fisher and the gate) or
            ``organism:alignment``. ``None`` means "not given": fine for methods that need no
            alignment data, an error (before any model loads) for those that do, except on the
            organism, whose own alignment set is then used.
        fisher: folder of a saved Fisher (``alignguard fisher``) to use instead of estimating.
        base_model: the model *before* alignment (same architecture), for methods that anchor
            on the alignment delta ``W_aligned - W_base`` (need ``"deltas"``); default for the
            organism: ``organism-pretrained``.
        tokens: ``"response"`` (reply tokens, default) or ``"all"`` (the paper's reading).
        estimator: ``"contrastive"`` (default; needs ``rejected`` replies), ``"empirical"``
            (the paper's reading) or ``"sampled"``.
        explained_variance: eigenvalue mass kept per K-FAC factor, in (0, 1].
        max_rank: cap on eigenvectors kept per factor.
        batch_size: rows per forward/backward pass of every estimate.
        max_examples: rows of the Fisher estimate.
        max_length: token limit per row.
        directions: weight-space directions per module (``L_D``).
        direction_rank: rank kept of each direction.
        direction_examples: rows of the direction estimate.
        gate_examples: preference pairs of the alignment gate's direction.
        activation_energy: ``"activations"`` (the ``nullspace`` method): eigenvalue mass of each
            adapted module's input covariance on the alignment rows kept as its protected
            subspace, in (0, 1] (GPM's threshold; 0.95-0.99 typical).
        activation_examples: rows of the activation estimate.
    """

    data: str | None = None
    fisher: str | None = None
    base_model: str | None = None
    tokens: str = "response"
    estimator: str = "contrastive"
    explained_variance: float = 0.9
    max_rank: int = 32
    batch_size: int = 16
    max_examples: int = 512
    max_length: int = 128
    directions: int = 16
    direction_rank: int = 8
    direction_examples: int = 64
    gate_examples: int = 64
    activation_energy: float = 0.97
    activation_examples: int = 64

    def __post_init__(self) -> None:
        if self.tokens not in TOKEN_MODES:
            raise ValueError(f"tokens must be one of {TOKEN_MODES}, got {self.tokens!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if not 0.0 < self.explained_variance <= 1.0:
            raise ValueError(f"explained_variance must be in (0, 1], got {self.explained_variance}")
        for name in ("max_rank", "batch_size", "max_examples", "directions", "direction_rank",
                     "direction_examples", "gate_examples", "activation_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.activation_energy <= 1.0:
            raise ValueError(f"activation_energy must be in (0, 1], got {self.activation_energy}")
        if self.max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {self.max_length}")

    def base_model_or(self, model: str) -> str:
        """The pre-alignment model, defaulting to ``organism-pretrained`` for the organism.

        Raises:
            ValueError: no base model was given for a model that is not the organism.
        """
        return _given_or_organism(
            self.base_model, model, "organism-pretrained",
            "anchors on the alignment delta W_aligned - W_base of {model!r} and needs the "
            "pre-alignment weights: pass --alignment.base-model MODEL (same architecture)")

    def data_or(self, model: str) -> str:
        """The alignment data spec, defaulting to the organism's own set for organism models.

        Raises:
            ValueError: no alignment data was given for a model that is not the organism.
        """
        return _given_or_organism(
            self.data, model, "organism:alignment",
            "estimates alignment artifacts at the aligned weights of {model!r} and needs "
            "alignment data: pass --alignment-data FILE (JSONL rows prompt/response/rejected, or "
            "TRL prompt/chosen/rejected) or --alignment.data FILE, or choose --method lora")


def _given_or_organism(given: str | None, model: str, organism_default: str, needs: str) -> str:
    """``given``; else the organism's own default on organism models; else a clear error."""
    if given:
        return given
    if model.startswith("organism"):
        return organism_default
    raise ValueError("this method " + needs.format(model=model))
