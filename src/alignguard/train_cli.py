"""``alignguard train``: a YAML config plus typed command-line overrides -> :func:`train`."""

from __future__ import annotations

import json

from alignguard.config import from_dict, load_config, replace, to_dict
from alignguard.train_config import TrainConfig


def build_train_config(config: str | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from an optional YAML file with non-``None`` overrides applied.

    Override keys use ``__`` for nesting (``reg__lam_A`` sets ``reg.lam_A``).
    """
    cfg = load_config(TrainConfig, config) if config else from_dict(TrainConfig, {})
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(cfg, **changes) if changes else cfg


def train_command(
    config: str | None = None,
    model: str | None = None,
    data: str | None = None,
    output_dir: str | None = None,
    method: str | None = None,
    fisher: str | None = None,
    alignment_data: str | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    grad_accum: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    r: int | None = None,
    target_modules: list[str] | None = None,
    lam_A: float | None = None,
    lam_D: float | None = None,
    lam_T: float | None = None,
    lam_NC: float | None = None,
    replay_fraction: float | None = None,
    resume: bool | None = None,
    print_config: bool = False,
) -> int:
    """Fine-tune a model with LoRA and the AlignGuard regularizers.

    Args:
        config: YAML file with TrainConfig fields; the options below override it.
        model: base model: organism, organism-pretrained, smollm2, a folder or a .gguf file.
        data: task data: a JSONL file of {"prompt","response"} rows, or scenario:NAME.
        output_dir: run folder (adapter/, checkpoints/, log.jsonl, config.json, provenance.json).
        method: lora, agl, agl-no-fisher, agl-no-directions, agl-no-task, agl-no-collision, agl-riem-only,
            agl-geo-only, agl-fisher-only, ewc or full-ft.
        fisher: folder of an alignment Fisher from `alignguard fisher` (estimated if omitted).
        alignment_data: alignment rows (JSONL with "rejected" replies, or organism:alignment)
            for the Fisher, the alignment gate and replay.
        steps: optimizer steps.
        batch_size: rows per micro-batch (global across processes).
        grad_accum: micro-batches per optimizer step.
        lr: peak learning rate (warm-up then cosine).
        seed: seed for data order, LoRA init and dropout.
        r: LoRA rank.
        target_modules: preset (all, attention, mlp) or comma-separated module names.
        lam_A: weight of the Fisher penalty on the alignment-critical update.
        lam_D: weight of the penalty along the weight-space Fisher directions (0: off).
        lam_T: weight of the task-specific stability term.
        lam_NC: weight of the collision term.
        replay_fraction: fraction of alignment-replay rows mixed into the task data.
        resume: resume from the newest checkpoint in output_dir if one exists.
        print_config: print the resolved config and exit.
    """
    if target_modules is not None and len(target_modules) == 1:
        target_modules = target_modules[0]
    cfg = build_train_config(
        config, model=model, data=data, output_dir=output_dir, method=method, fisher=fisher,
        fisher_settings__data=alignment_data,
        steps=steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, seed=seed,
        lora__r=r, lora__target_modules=target_modules, reg__lam_A=lam_A, reg__lam_D=lam_D, reg__lam_T=lam_T,
        reg__lam_NC=lam_NC, replay_fraction=replay_fraction, resume=resume,
    )
    if print_config:
        print(json.dumps(to_dict(cfg), indent=2))
        return 0
    from alignguard.train import train

    result = train(cfg)
    last = result.history[-1] if result.history else {}
    print(json.dumps({"output_dir": str(result.output_dir), "adapter": str(result.output_dir / "adapter"),
                      "final": last}, indent=2))
    return 0
