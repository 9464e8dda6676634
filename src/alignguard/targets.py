"""Which modules LoRA adapts, per architecture family, and access to the LoRA factors.

LoRA itself comes from PEFT: :func:`attach_lora` builds a ``peft.LoraConfig`` and returns a
``PeftModel``; :func:`lora_factors` reads back ``A``, ``B`` and the scale ``s = lora_alpha / r``
of every adapted module so that regularizers can work on ``dW = s * B @ A`` in factored form.
Module names are always relative to the base model (``model.layers.0.self_attn.q_proj``), the
same names the Fisher estimator uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

# Projection names per family: (attention, mlp). Llama-style covers Llama, Mistral, Qwen2/3,
# Gemma/Gemma2, Phi-3-style split projections and SmolLM2.
_LLAMA = (("q_proj", "k_proj", "v_proj", "o_proj"), ("gate_proj", "up_proj", "down_proj"))
ARCH_TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "qwen3": _LLAMA,
    "gemma": _LLAMA,
    "gemma2": _LLAMA,
    "gemma3_text": _LLAMA,
    "gpt2": (("attn.c_attn", "attn.c_proj"), ("mlp.c_fc", "mlp.c_proj")),
}
PRESETS = ("all", "attention", "mlp")


class TargetModuleError(ValueError):
    """The requested LoRA target modules do not exist in the model."""


@dataclass
class LoraSettings:
    """LoRA hyper-parameters (passed through to ``peft.LoraConfig``).

    Attributes:
        r: LoRA rank.
        alpha: ``lora_alpha``; the update is ``dW = (alpha / r) * B @ A``.
        dropout: LoRA dropout.
        target_modules: ``"all"`` (attention + MLP), ``"attention"``, ``"mlp"``, or a list of
            module-name suffixes as PEFT accepts them.
        init_seed: seed of the adapter's initialisation (default: the run's seed).
        extra: further ``peft.LoraConfig`` keyword arguments.
    """

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: str | list[str] = "all"
    init_seed: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"LoRA rank r must be >= 1, got {self.r}")
        if not self.alpha > 0:  # also rejects NaN; alpha <= 0 zeroes or flips the update
            raise ValueError(f"lora alpha must be > 0 (dW = alpha/r * B A), got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora dropout must be in [0, 1), got {self.dropout}")
        if isinstance(self.target_modules, str) and self.target_modules not in PRESETS:
            self.target_modules = [t.strip() for t in self.target_modules.split(",") if t.strip()]
        if not self.target_modules:
            raise ValueError("target_modules is empty; use a preset (all, attention, mlp) or names")


def base_model_of(model: nn.Module) -> nn.Module:
    """The underlying transformers model of a ``PeftModel`` (or ``model`` itself)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


def _is_linear(module: nn.Module) -> bool:
    module = getattr(module, "base_layer", module)  # a PEFT LoraLayer wraps the original
    if isinstance(module, nn.Linear):
        return True
    return type(module).__name__ == "Conv1D"  # transformers' GPT-2 projection


def linear_module_names(model: nn.Module) -> list[str]:
    """Names of all linear (and GPT-2 Conv1D) modules of the base model, excluding LoRA parts."""
    base = base_model_of(model)
    names = []
    for name, module in base.named_modules():
        if ".lora_" in name or name.endswith(".base_layer") or not _is_linear(module):
            continue
        names.append(name)
    return names


def _suffixes_for(model: nn.Module, spec: str | Sequence[str]) -> list[str]:
    if not isinstance(spec, str):
        return list(spec)
    model_type = getattr(getattr(base_model_of(model), "config", None), "model_type", None)
    if model_type not in ARCH_TARGETS:
        raise TargetModuleError(
            f"no target-module preset for model_type {model_type!r} (presets exist for "
            f"{sorted(ARCH_TARGETS)}); pass explicit names, e.g. --target-modules q_proj,v_proj. "
            f"Linear modules in this model: {_distinct_suffixes(model)}"
        )
    attn, mlp = ARCH_TARGETS[model_type]
    return {"all": [*attn, *mlp], "attention": list(attn), "mlp": list(mlp)}[spec]


def _matches(name: str, suffix: str) -> bool:
    return name == suffix or name.endswith("." + suffix)


def _distinct_suffixes(model: nn.Module) -> list[str]:
    seen: dict[str, None] = {}
    for name in linear_module_names(model):
        parts = name.split(".")
        seen[".".join(p for p in parts[-2:] if not p.isdigit())] = None
    return list(seen)


def resolve_target_modules(model: nn.Module, spec: str | Sequence[str]) -> tuple[list[str], list[str]]:
    """Resolve a target spec to ``(suffixes for PEFT, full module names)``.

    Raises:
        TargetModuleError: a suffix matches no linear module; the message lists those found.
    """
    suffixes = _suffixes_for(model, spec)
    names = linear_module_names(model)
    unknown = [s for s in suffixes if not any(_matches(n, s) for n in names)]
    if unknown:
        raise TargetModuleError(
            f"target module(s) {unknown} not found in the model. Linear modules found: "
            f"{_distinct_suffixes(model)}. Use one of those, or a preset: {list(PRESETS)}."
        )
    full = [n for n in names if any(_matches(n, s) for s in suffixes)]
    return suffixes, full


def attach_lora(model: nn.Module, settings: LoraSettings):
    """Wrap ``model`` with a PEFT LoRA adapter ("default") on the resolved target modules."""
    from peft import LoraConfig, get_peft_model

    suffixes, full = resolve_target_modules(model, settings.target_modules)
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=suffixes,
        fan_in_fan_out=model_type == "gpt2",
        task_type="CAUSAL_LM",
        **settings.extra,
    )
    if settings.init_seed is not None:
        with torch.random.fork_rng():
            torch.manual_seed(settings.init_seed)
            peft_model = get_peft_model(model, config)
    else:
        peft_model = get_peft_model(model, config)
    adapted = sorted(lora_layers(peft_model))
    if adapted != sorted(full):
        raise TargetModuleError(f"PEFT adapted {adapted[:5]}... but {full[:5]}... were resolved")
    return peft_model


def lora_layers(model: nn.Module, adapter: str = "default") -> dict[str, nn.Module]:
    """Map base-model module name -> PEFT ``LoraLayer`` holding ``adapter``."""
    from peft.tuners.lora import LoraLayer

    out = {}
    for name, module in base_model_of(model).named_modules():
        if isinstance(module, LoraLayer) and adapter in getattr(module, "lora_A", {}):
            out[name] = module
    return out


@dataclass
class LoraFactors:
    """One module's LoRA update ``dW = scale * B @ A`` (``B``: d_out x r, ``A``: r x d_in)."""

    A: torch.Tensor
    B: torch.Tensor
    scale: float


def lora_factors(model: nn.Module, adapter: str = "default") -> dict[str, LoraFactors]:
    """The live (differentiable) LoRA factors of every adapted module."""
    return {
        name: LoraFactors(
            A=layer.lora_A[adapter].weight,
            B=layer.lora_B[adapter].weight,
            scale=float(layer.scaling[adapter]),
        )
        for name, layer in lora_layers(model, adapter).items()
    }
