"""The training configuration: one typed dataclass, loadable from YAML, every field validated.

``method`` names a preset of :mod:`alignguard.methods.registry` (a composition of components);
``reg`` holds the weights those components read, ``alignment`` what is estimated at the aligned
weights and from which data, ``lora`` the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alignguard.alignment.settings import AlignmentSettings
from alignguard.data import ASSISTANT_TURNS
from alignguard.regularizers.config import RegularizerConfig
from alignguard.targets import LoraSettings

# after a linear warm-up; the names of transformers.get_scheduler (SchedulerType) they map to
LR_SCHEDULES = {"cosine": "cosine", "constant": "constant_with_warmup", "linear": "linear"}
TRACKERS = ("tensorboard", "wandb")  # report_to: accelerate trackers, or "none"
DTYPES = ("float32", "bfloat16", "float16")
MIXED_PRECISION = ("no", "bf16", "fp16")
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")


def check_device(device: str) -> None:
    """Accept ``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``xpu`` (others: a clear error)."""
    kind, _, index = device.partition(":")
    if kind not in DEVICE_TYPES or (index and not index.isdigit()):
        raise ValueError(f"device must be one of {list(DEVICE_TYPES)} (optionally with ':N' for "
                         f"an index), got {device!r}")


@dataclass
class TrainConfig:
    """Everything a fine-tuning run needs; saved as ``config.json`` in its output folder.

    Attributes:
        model: base model: "organism", "organism-pretrained", "smollm2", a folder or a .gguf.
        data: task data: a local file (.jsonl, .json, .parquet, .csv), a datasets
            ``save_to_disk`` folder, or ``scenario:NAME`` (organism drift scenarios); rows
            prompt/response, prompt/completion or messages. ``train(cfg, dataset=...)`` takes a
            ``datasets.Dataset`` instead.
        assistant_turns: which assistant turns of a ``messages`` row carry loss: "last" (the
            final reply) or "all" (every assistant turn, located through the chat template).
        output_dir: run folder (checkpoints, adapter, logs, config, provenance).
        method: a method preset (alignguard.methods.registry.PRESETS): alignguard (the
            default: a context-matched KL behaviour anchor, ours), lora, agl (AlignGuard-LoRA,
            arXiv 2508.02079, with the gate), the agl-no-* ablations, agl-paper, ewc, full-ft,
            replay, kl-anchor, safegrad, spf, lisa, safelora, asft, lox, nullspace.
        alignment: the alignment data and what is estimated from it at the aligned weights.
        lora: the LoRA adapter.
        reg: weights and options of the method's components (penalties, gate threshold).
        replay_fraction: fraction of alignment-replay rows mixed into the task data (0: none,
            or the preset's own default: ``replay`` uses 0.1; see :meth:`resolved_replay_fraction`).
        replay_data: replay rows (JSONL or ``organism:alignment``); default: the alignment data.
        steps: optimizer steps.
        batch_size: rows per micro-batch (global across processes).
        grad_accum: micro-batches per optimizer step.
        lr: peak learning rate.
        warmup_steps: linear warm-up steps.
        lr_schedule: after the linear warm-up, "cosine" (decay to 0 at the last step),
            "constant" or "linear" (to 0): ``transformers.get_scheduler``'s cosine,
            constant_with_warmup and linear.
        gradient_checkpointing: recompute activations in the backward pass (transformers'
            gradient checkpointing, non-reentrant): less memory, ~30% more compute, same loss.
        eval_data: held-out rows (same forms as ``data``) for the periodic evaluation.
        eval_every: steps between evaluations (mean token NLL on eval_data, logged as
            ``eval_loss``; 0: none). The last step is evaluated too. Needs eval_data (or
            ``train(cfg, eval_dataset=...)``).
        report_to: trackers that also receive every log row, through accelerate: "none",
            "tensorboard", "wandb" (offline unless WANDB_MODE says otherwise), or both
            comma-separated; written under output_dir/trackers.
        weight_decay: AdamW weight decay.
        max_grad_norm: gradient clipping norm.
        max_length: token limit per training row.
        seed: seed of data order, adapter init and dropout.
        log_every: steps between log rows.
        save_every: steps between checkpoints (0: none).
        keep_checkpoints: newest checkpoints kept (>= 1).
        resume: continue from the newest checkpoint of the same run in output_dir.
        dtype: weight dtype of the loaded model.
        mixed_precision: accelerate's autocast mode ("no", "bf16", "fp16"); explicit, so a
            process-wide accelerate state left by another trainer is never silently inherited.
        device: "cpu", "cuda", "cuda:N", "mps" or "xpu".
        distributed: "ddp" (replicas; also a single process) or "fsdp2" (shard every decoder
            layer with torch's fully_shard, then the root).
    """

    model: str = "organism"
    data: str = "scenario:benign"
    assistant_turns: str = "last"
    output_dir: str = "runs/train"
    method: str = "alignguard"
    alignment: AlignmentSettings = field(default_factory=AlignmentSettings)
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
    gradient_checkpointing: bool = False
    eval_data: str | None = None
    eval_every: int = 0
    report_to: str = "none"
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
    distributed: str = "ddp"

    def __post_init__(self) -> None:
        from alignguard.methods.registry import preset_of

        preset_of(self.method)
        for name in ("steps", "batch_size", "grad_accum", "max_length", "log_every",
                     "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("save_every", "warmup_steps", "seed", "eval_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0 or not self.max_grad_norm > 0 or not self.weight_decay >= 0:
            raise ValueError(f"need lr > 0, max_grad_norm > 0 and weight_decay >= 0 (got "
                             f"{self.lr}, {self.max_grad_norm}, {self.weight_decay})")
        if not 0.0 <= self.replay_fraction < 1.0:
            raise ValueError(f"replay_fraction must be in [0, 1), got {self.replay_fraction}")
        for name, allowed in (("lr_schedule", LR_SCHEDULES), ("dtype", DTYPES),
                              ("mixed_precision", MIXED_PRECISION), ("distributed", ("ddp", "fsdp2")),
                              ("assistant_turns", ASSISTANT_TURNS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        if self.distributed == "fsdp2" and self.reg.ref_precision == "bfloat16":
            raise ValueError("reg.ref_precision: bfloat16 copies the aligned weights whole on each "
                             "process, which FSDP2's shards do not allow; use float32 with fsdp2")
        self.trackers()
        check_device(self.device)

    def trackers(self) -> list[str]:
        """The trackers named by ``report_to`` (empty for "none")."""
        names = [n.strip() for n in self.report_to.split(",") if n.strip() not in ("", "none")]
        bad = [n for n in names if n not in TRACKERS]
        if bad:
            raise ValueError(f"report_to must be 'none' or a comma-separated subset of "
                             f"{list(TRACKERS)}, got {self.report_to!r}")
        return names

    def resolved_reg(self) -> RegularizerConfig:
        """The regularizer config after applying the method preset (at this run's ``lr``)."""
        from alignguard.methods.registry import resolve_reg

        return resolve_reg(self.method, self.reg, self.lr)

    def resolved_alignment(self) -> AlignmentSettings:
        """The alignment settings after applying the method preset's overrides."""
        from alignguard.methods.registry import resolve_alignment

        return resolve_alignment(self.method, self.alignment)

    def resolved_replay_fraction(self) -> float:
        """The replay fraction the run uses (``replay_fraction``, or the preset's default)."""
        from alignguard.methods.registry import resolve_replay_fraction

        return resolve_replay_fraction(self.method, self.replay_fraction)

    def resolved(self) -> dict:
        """The config as saved (``config.json``, ``--print-config``): every field plus
        ``resolved_reg``, and what the preset changes beyond it: ``resolved_alignment`` when it
        overrides alignment settings, ``resolved_replay_fraction`` when it defaults the replay."""
        from alignguard.config import to_dict
        from alignguard.methods.registry import preset_of

        preset = preset_of(self.method)
        out = {**to_dict(self), "resolved_reg": to_dict(self.resolved_reg())}
        if preset.alignment:
            out["resolved_alignment"] = to_dict(self.resolved_alignment())
        if preset.replay_fraction:
            out["resolved_replay_fraction"] = self.resolved_replay_fraction()
        return out
