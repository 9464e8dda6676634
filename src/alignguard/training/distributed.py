"""FSDP2 as a wrapping step of the one training loop.

``train(cfg)`` with ``distributed: fsdp2`` shards every decoder layer and then the root with
``torch.distributed.fsdp.fully_shard`` (:func:`shard_fsdp2`) after the adapter is attached and
the method has bound to its parameters; the method's components then ``rebind`` to the
``DTensor`` parameters, and the regularizers gather them differentiably
(:func:`alignguard.parallel.whole`). DDP needs no step of its own: ``accelerate`` prepares the
model. Run either under ``torchrun`` or ``accelerate launch`` (docs/distributed.md).
"""

from __future__ import annotations

import torch


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The transformer blocks of a (PEFT-wrapped) HF causal LM: the FSDP wrapping units.

    Raises:
        ValueError: the model has no ``model.layers`` list.
    """
    from alignguard.targets import base_model_of

    inner = getattr(base_model_of(model), "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ValueError(f"cannot find decoder layers (model.model.layers) in {type(model).__name__}; "
                         "FSDP2 wrapping needs a Hugging Face decoder-only model")
    return list(layers)


def shard_fsdp2(model: torch.nn.Module) -> torch.nn.Module:
    """``fully_shard`` each decoder layer, then the root (in place; returns ``model``)."""
    from torch.distributed.fsdp import fully_shard

    for layer in decoder_layers(model):
        fully_shard(layer)
    fully_shard(model)
    return model
