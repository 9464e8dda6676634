"""The training configuration: one typed dataclass, loadable from YAML, unknown keys rejected.

Method presets name the paper's ablations (method.md section 6) so that baselines and AGL run
under one interface: ``TrainConfig(method="lora")`` and ``TrainConfig(method="agl")`` differ only
in the regularizer weights the preset fills in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from alignguard.regularizers.config import RegularizerConfig
from alignguard.targets import LoraSettings

# preset -> regularizer overrides applied on top of the user's RegularizerConfig.
# None means "keep the configured value" (so --lam-A tunes AGL without touching the others).
METHOD_PRESETS: dict[str, dict[str, float | str | None]] = {
    "lora": {"lam_A": 0.0, "lam_D": 0.0, "lam_T": 0.0, "lam_NC": 0.0, "lam_ewc": 0.0, "gate": 0.0},
    "agl": {},
    "agl-no-gate": {"gate": 0.0},
    "agl-no-fisher": {"lam_A": 0.0, "lam_D": 0.0},
    "agl-no-directions": {"lam_D": 0.0},
    "agl-no-task": {"lam_T": 0.0},
    "agl-no-collision": {"lam_NC": 0.0},
    "agl-riem-only": {"alpha": 1.0},
    "agl-geo-only": {"alpha": 0.0},
    "agl-fisher-only": {"lam_T": 0.0, "lam_NC": 0.0},
    "ewc": {"lam_A": 0.0, "lam_D": 0.0, "lam_T": 0.0, "lam_NC": 0.0, "gate": 0.0},
    "full-ft": {"lam_A": 0.0, "lam_D": 0.0, "lam_T": 0.0, "lam_NC": 0.0, "lam_ewc": 0.0,
                "gate": 0.0},
}


LR_SCHEDULES = ("cosine", "constant")  # after a linear warm-up


@dataclass
class FisherSettings:
    """How the alignment Fisher is estimated when training has to estimate it itself.

    ``estimator="contrastive"`` (the default; docs/method.md) needs alignment rows with a
    ``rejected`` reply, as ``organism:alignment`` has; use ``"empirical"`` (the paper's reading)
    for prompt/response-only data. ``tokens="response"`` (default) collects the factors on the
    reply tokens, where the behaviour is decided; ``"all"`` adds the prompt tokens (the paper's
    reading), whose gradients model the prompts' language and overlap the new task's
    directions (docs/method.md).

    The weight-space directions of ``L_D`` (used when ``reg.lam_D > 0``;
    :mod:`alignguard.directions`): ``directions`` per module, each kept at rank
    ``direction_rank``, from the first ``direction_examples`` alignment rows (which also estimate
    the alignment gate's preference direction, :mod:`alignguard.gate`).
    """

    data: str = "organism:alignment"
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

    def __post_init__(self) -> None:
        for name in ("directions", "direction_rank", "direction_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"fisher_settings.{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class TrainConfig:
    """Everything a fine-tuning run needs; saved as ``config.json`` in its output folder.

    Attributes:
        model: base model: "organism", "organism-pretrained", "smollm2", a folder or a .gguf.
        data: task data: a JSONL path or ``scenario:NAME`` (organism drift scenarios).
        output_dir: run folder (checkpoints, adapter, logs, config, provenance).
        method: a key of ``METHOD_PRESETS`` (lora, agl, ablations, ewc, full-ft).
        fisher: folder of a saved alignment Fisher; estimated on the fly when empty.
        replay_fraction: fraction of alignment-replay rows mixed into the task data.
        replay_data: replay rows (JSONL or ``organism:alignment``); default: the Fisher data.
        mixed_precision: accelerate's autocast mode ("no", "bf16", "fp16"); explicit, so a
            process-wide accelerate state left by another trainer is never silently inherited.
    """

    model: str = "organism"
    data: str = "scenario:benign"
    output_dir: str = "runs/train"
    method: str = "agl"
    fisher: str | None = None
    fisher_settings: FisherSettings = field(default_factory=FisherSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    reg: RegularizerConfig = field(default_factory=RegularizerConfig)
    replay_fraction: float = 0.0
    replay_data: str | None = None
    steps: int = 300
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 2e-3
    warmup_steps: int = 20
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 128
    seed: int = 0
    log_every: int = 10
    save_every: int = 100
    keep_checkpoints: int = 2
    resume: bool = True
    dtype: str = "float32"
    mixed_precision: str = "no"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.method not in METHOD_PRESETS:
            raise ValueError(f"unknown method {self.method!r}; choose from {sorted(METHOD_PRESETS)}")
        for name in ("steps", "batch_size", "grad_accum", "max_length", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.replay_fraction < 1.0:
            raise ValueError(f"replay_fraction must be in [0, 1), got {self.replay_fraction}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        from alignguard.fisher import FISHER_ESTIMATORS

        if self.fisher_settings.estimator not in FISHER_ESTIMATORS:
            raise ValueError(f"fisher_settings.estimator must be one of {FISHER_ESTIMATORS}, "
                             f"got {self.fisher_settings.estimator!r}")

    def resolved_reg(self) -> RegularizerConfig:
        """The regularizer config after applying the method preset."""
        overrides = {k: v for k, v in METHOD_PRESETS[self.method].items() if v is not None}
        return dataclasses.replace(self.reg, **overrides)

    @property
    def needs_fisher(self) -> bool:
        """Whether the resolved objective uses the alignment basis."""
        reg = self.resolved_reg()
        return any(w > 0 for w in (reg.lam_A, reg.lam_D, reg.lam_T, reg.lam_NC, reg.lam_ewc))
