"""Checks of a run's inputs before any model is loaded (so bad input costs seconds, not minutes).

Every message names the file, line or field and says what to do.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alignguard.training.config import TrainConfig

log = logging.getLogger(__name__)


def check_inputs(cfg: TrainConfig) -> None:
    """Raise a clear error when a run's data, alignment data, Fisher, model or device is unusable.

    Raises:
        alignguard.data.DataError: task, eval or alignment rows are missing or malformed.
        FileNotFoundError: the model or the Fisher folder does not exist.
        ValueError: the method needs alignment data that was not given, or the device is absent.
        alignguard.targets.TargetModuleError: a LoRA target module is not in the model.
    """
    from alignguard.dataspec import load_dataset_spec
    from alignguard.methods.registry import build_method
    from alignguard.models import resolve_model_path

    load_dataset_spec(cfg.data)
    if cfg.eval_data:
        load_dataset_spec(cfg.eval_data)
    elif cfg.eval_every:
        raise ValueError("eval_every > 0 needs held-out rows: pass --eval-data FILE")
    method = build_method(cfg)
    needs = method.needs()
    if needs or any(c.name == "replay" for c in method.components):
        rows = load_dataset_spec(cfg.replay_data or cfg.alignment.data_or(cfg.model)) if not needs \
            else load_dataset_spec(cfg.alignment.data_or(cfg.model))
        _check_pairs(cfg, needs, rows)
    if cfg.alignment.fisher and not (Path(cfg.alignment.fisher) / "fisher.json").is_file():
        raise FileNotFoundError(f"alignment.fisher {cfg.alignment.fisher} holds no fisher.json; "
                                "estimate one with `alignguard fisher` or drop --fisher")
    resolve_model_path(cfg.model)
    if "deltas" in needs:
        resolve_model_path(cfg.alignment.base_model_or(cfg.model))
    if method.trains == "lora":
        _check_targets(cfg)
    _check_device(cfg.device)


def _check_targets(cfg: TrainConfig) -> None:
    """``cfg.lora.target_modules`` against the model's architecture built on the meta device
    from its config (no weights are read), so a wrong module name fails in seconds. A config
    that transformers cannot build this way is left to the check after loading."""
    import torch
    from transformers import AutoModelForCausalLM

    from alignguard.models import load_config
    from alignguard.targets import resolve_target_modules

    try:
        config = load_config(cfg.model)
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(config)
    except (OSError, ValueError, KeyError) as exc:
        log.debug("target modules checked after loading: no weightless build (%s)", exc)
        return
    resolve_target_modules(skeleton, cfg.lora.target_modules)


def _check_pairs(cfg: TrainConfig, needs: set[str], rows) -> None:
    from alignguard.data import DataError

    settings = cfg.resolved_alignment()  # a preset may force the estimator (agl-paper)
    contrastive = "fisher" in needs and settings.estimator == "contrastive" and not settings.fisher
    if not (contrastive or "preference" in needs):
        return
    pairs = [r for r in rows if r.rejected is not None]
    what = "the contrastive Fisher" if contrastive else "the alignment gate"
    if not pairs:
        raise DataError(f"{what} needs alignment rows with a 'rejected' reply (the reply the "
                        f"aligned model must not give) in {cfg.alignment.data_or(cfg.model)}; add "
                        "them, or use alignment.estimator=empirical and reg.gate=0 (--gate 0)")
    same = [i for i, r in enumerate(rows) if r.rejected is not None and r.rejected == r.response]
    if same:
        raise DataError(f"alignment row {same[0] + 1} of {cfg.alignment.data_or(cfg.model)} has "
                        "'rejected' equal to its 'response'; a preference pair must differ")


def _check_device(device: str) -> None:
    import torch

    kind = device.split(":")[0]
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
                 "xpu": hasattr(torch, "xpu") and torch.xpu.is_available()}
    if not available.get(kind, False):
        raise ValueError(f"device {device!r} is not available on this machine; use device: cpu "
                         "or install the matching torch build")
