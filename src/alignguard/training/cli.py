"""``alignguard train``: a YAML config plus dotted command-line overrides -> :func:`train`."""

from __future__ import annotations

import json
from typing import Any

from alignguard.config import from_dict, load_config
from alignguard.training.config import TrainConfig


def build_train_config(config: str | None = None, overrides: dict[str, Any] | None = None
                       ) -> TrainConfig:
    """A :class:`TrainConfig` from an optional YAML file with dotted ``overrides`` applied.

    Every value is checked and coerced by its field's annotation (strings from the command line
    or YAML included); errors name the field.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if config:
        return load_config(TrainConfig, config, overrides)
    from alignguard.config import set_dotted

    raw: dict[str, Any] = {}
    for key, value in overrides.items():
        set_dotted(raw, key, value)
    return from_dict(TrainConfig, raw)


def train_command(config: str | None = None, train: TrainConfig | None = None,
                  overwrite: bool = False, print_config: bool = False) -> int:
    """Fine-tune a model with LoRA and an alignment-preserving method.

    Args:
        config: YAML file with TrainConfig fields; the options below override it.
        train: the run's settings (every TrainConfig field, nested with dots).
        overwrite: replace an earlier run in --output-dir (its checkpoints, log and adapter).
        print_config: print the resolved config and exit.
    """
    cfg = build_train_config(config, train if isinstance(train, dict) else None)
    if print_config:
        print(json.dumps(cfg.record(), indent=2))
        return 0
    from alignguard.training.loop import train as run_training
    from alignguard.training.preflight import check_inputs

    check_inputs(cfg)
    result = run_training(cfg, overwrite=overwrite)
    last = result.history[-1] if result.history else {}
    print(json.dumps({"output_dir": str(result.output_dir),
                      "adapter": str(result.output_dir / "adapter"), "final": last}, indent=2))
    return 0
