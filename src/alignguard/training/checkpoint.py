"""Resumable training state in safetensors + JSON (no pickles).

A checkpoint folder ``step-000120/`` holds the trainable parameters
(``trainable.safetensors``), the AdamW state flattened into ``optimizer.safetensors`` plus its
non-tensor parts in ``state.json`` (param groups, scheduler, step, RNG), and is written through
:func:`alignguard.artifacts.atomic_directory`, so a crash mid-save leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from alignguard.artifacts import atomic_directory

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not match the run; the message says what to do."""


_STEP_DIR = re.compile(r"^step-(\d+)$")


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Trainable parameters by name (tied parameters appear once)."""
    return {n: p.detach().cpu().clone().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _optimizer_split(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, slots in sd["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{idx}/{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}/{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for flat, value in [*tensors.items(), *meta["scalars"].items()]:
        idx, key = flat.split("/", 1)
        state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _method_split(method_state: dict[str, dict]) -> tuple[dict[str, torch.Tensor], dict]:
    """Components' states: tensors under ``method/<component>/<key>``, the rest as JSON."""
    tensors, scalars = {}, {}
    for comp, state in method_state.items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"method/{comp}/{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(comp, {})[key] = value
    return tensors, scalars


def _method_join(tensors: dict[str, torch.Tensor], scalars: dict) -> dict[str, dict]:
    state = {comp: dict(values) for comp, values in scalars.items()}
    for flat in [k for k in tensors if k.startswith("method/")]:
        _, comp, key = flat.split("/", 2)
        state.setdefault(comp, {})[key] = tensors.pop(flat)
    return state


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, step: int, extra: dict | None = None,
                    method_state: dict[str, dict] | None = None) -> Path:
    """Atomically write the full training state after ``step`` optimizer steps.

    ``method_state``: the method's components' states (:meth:`Method.state_dict`: RNG streams,
    counters), so that a resumed run is exact.
    """
    opt_tensors, opt_meta = _optimizer_split(optimizer)
    m_tensors, m_scalars = _method_split(method_state or {})
    state = {
        "step": step,
        "optimizer": opt_meta,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "method": m_scalars,
        **(extra or {}),
    }
    with atomic_directory(folder) as tmp:
        save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
        rng = {"torch_rng": torch.get_rng_state()}
        save_file({**opt_tensors, **m_tensors, **rng}, str(tmp / "optimizer.safetensors"))
        (tmp / "state.json").write_text(json.dumps(state, indent=2, default=str))
    return folder


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns its ``state.json``
    with ``state["method"]`` holding the components' states (tensors included)."""
    try:
        state = json.loads((folder / "state.json").read_text())
        params = load_file(str(folder / "trainable.safetensors"))
        flat = load_file(str(folder / "optimizer.safetensors"))
    except Exception as exc:  # JSONDecodeError, OSError, safetensors' SafetensorError
        raise CheckpointError(
            f"checkpoint {folder} is unreadable ({type(exc).__name__}: {exc}); delete that folder "
            "to resume from the previous checkpoint, or pass --overwrite to start again") from exc
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in params]
    if missing:
        raise CheckpointError(
            f"checkpoint {folder} does not match this run ({len(missing)} trainable parameters "
            f"missing, e.g. {missing[:2]}); use a fresh --output-dir or --no-resume"
        )
    model.load_state_dict(params, strict=False)
    torch.set_rng_state(flat.pop("torch_rng"))
    state["method"] = _method_join(flat, state.get("method") or {})
    optimizer.load_state_dict(_optimizer_join(flat, state["optimizer"]))
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    return state


def list_checkpoints(root: Path) -> list[Path]:
    """Checkpoint folders under ``root`` sorted by step (complete ones only)."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _STEP_DIR.match(p.name)) and (p / "state.json").is_file()]
    return [p for _, p in sorted(found)]


def prune_checkpoints(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints."""
    for old in list_checkpoints(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
        log.debug("removed old checkpoint %s", old)
