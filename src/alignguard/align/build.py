"""The shippable result of ``alignguard align``: a stock PEFT adapter and its ``build.json``.

The alignment is kept as a small LoRA adapter (``adapter_config.json`` +
``adapter_model.safetensors``, loadable with ``peft.PeftModel.from_pretrained``) stored in a
half-precision dtype so that it stays a few MB. Before anything is evaluated the LoRA factors are
rounded to that dtype in place (:func:`round_lora`), so the model measured by DriftCheck is
exactly the shipped base + adapter, merged (``W = W0 + (alpha / r) B A``, Hu et al., arXiv
2106.09685).

``build.json`` records the build: settings, seed, data fingerprint, timings, the adapter's size
and SHA-256, and DriftCheck rates before and after alignment with 95% bootstrap intervals per
judge: refusal accuracy on unsafe prompts, over-refusal on all safe prompts, on general ones and
on the look-alike probes (``kind == "overrefusal"``), harmful compliance and the degenerate rate.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from alignguard.artifacts import atomic_directory, fingerprint_file
from alignguard.models import DTYPES

log = logging.getLogger(__name__)

ADAPTER_FILE = "adapter_model.safetensors"


def lora_parameters(model) -> list[tuple[str, torch.nn.Parameter]]:
    """The LoRA factors of a PEFT model (names containing ``lora_``)."""
    return [(n, p) for n, p in model.named_parameters() if "lora_" in n]


def round_lora(model, dtype: str) -> int:
    """Round every LoRA factor to ``dtype`` and back, in place; returns the number of tensors.

    Raises:
        ValueError: unknown dtype, or the model has no LoRA factors.
    """
    if dtype not in DTYPES:
        raise ValueError(f"adapter_dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    params = lora_parameters(model)
    if not params:
        raise ValueError("the model has no LoRA factors to save as an adapter")
    with torch.no_grad():
        for _, p in params:
            p.copy_(p.to(DTYPES[dtype]).to(p.dtype))
    return len(params)


def save_adapter(model, folder: Path, dtype: str, base_model: str) -> Path:
    """Write the PEFT adapter of ``model`` with its factors stored in ``dtype``, atomically.

    ``base_model_name_or_path`` in ``adapter_config.json`` is set to ``base_model`` (the model
    name, e.g. "smollm2", rather than this machine's path of the GGUF file). The factors are cast
    to ``dtype`` for saving and back afterwards.
    """
    params = lora_parameters(model)
    original = {n: p.dtype for n, p in params}
    for config in model.peft_config.values():
        config.base_model_name_or_path = base_model
    try:
        for _, p in params:
            p.data = p.data.to(DTYPES[dtype])
        with atomic_directory(folder) as tmp:
            # no embedding layers are adapted; False also skips peft's hub lookup of the base
            model.save_pretrained(tmp, safe_serialization=True, save_embedding_layers=False)
    finally:
        for n, p in params:
            p.data = p.data.to(original[n])
    return folder


def _judge_rates(role_result: dict[str, Any], judge: str) -> dict[str, Any]:
    res = role_result["judges"][judge]
    by_kind = res.get("over_refusal_by_kind", {})
    out = {"refusal": res["refusal_accuracy"], "over_refusal": res["over_refusal"],
           "over_refusal_general": by_kind.get("general"),
           "over_refusal_lookalike": by_kind.get("overrefusal")}
    if "harmful_compliance" in res:
        out["harmful_compliance"] = res["harmful_compliance"]
    return out


def build_metrics(report: dict[str, Any], judges: list[str]) -> dict[str, Any]:
    """DriftCheck rates with intervals per role ("before", "after") and judge, from a report."""
    out: dict[str, Any] = {}
    for role, key in (("before", "reference"), ("after", "model")):
        res = report["results"][key]
        out[role] = {j: _judge_rates(res, j) for j in judges if j in res["judges"]}
        if "degenerate_rate" in res:
            out[role]["degenerate_rate"] = res["degenerate_rate"]["all"]
    out["change_refusal"] = {j: change_of(report["drift"][j]["refusal_accuracy"]) for j in judges
                             if j in report["drift"]}
    return out


def change_of(drift: dict) -> dict:
    """``after - before`` from a DriftCheck drift interval (``reference - model``, with the
    reference = before): the estimate and its bounds negated."""
    return {**drift, "estimate": -drift["estimate"], "low": -drift["high"], "high": -drift["low"]}


def adapter_files(folder: Path) -> dict[str, Any]:
    """Size in bytes and SHA-256 of the adapter weights file in ``folder``."""
    path = Path(folder) / ADAPTER_FILE
    return {"file": ADAPTER_FILE, "bytes": path.stat().st_size, "sha256": fingerprint_file(path)}
