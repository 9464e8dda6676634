"""Target-module resolution for the supported families; LoRA factors from PEFT."""

from __future__ import annotations

import pytest
import torch

from alignguard.targets import (
    LoraSettings,
    TargetModuleError,
    attach_lora,
    lora_factors,
    resolve_target_modules,
)
from tests.conftest import make_tiny_model

FAMILIES = ["llama", "qwen2", "mistral", "gemma", "gpt2"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("preset, per_layer", [("attention", None), ("all", None)])
def test_presets_resolve_and_peft_adapts_exactly_them(family, preset, per_layer):
    model = make_tiny_model(family, vocab_size=64)
    _, names = resolve_target_modules(model, preset)
    expected = {"llama": (4, 7), "qwen2": (4, 7), "mistral": (4, 7), "gemma": (4, 7), "gpt2": (2, 4)}
    n_attn, n_all = expected[family]
    assert len(names) == 2 * (n_attn if preset == "attention" else n_all)
    peft_model = attach_lora(model, LoraSettings(r=2, target_modules=preset))
    factors = lora_factors(peft_model)
    assert sorted(factors) == sorted(names)
    for f in factors.values():
        assert f.A.shape[0] == 2 and f.B.shape[1] == 2 and f.scale == 8.0
        assert torch.count_nonzero(f.B) == 0  # LoRA init: dW = 0


def test_unknown_target_lists_modules_found():
    model = make_tiny_model("llama", vocab_size=64)
    with pytest.raises(TargetModuleError, match=r"\['qkv'\] not found.*self_attn.q_proj.*mlp.down_proj"):
        resolve_target_modules(model, ["qkv"])


def test_explicit_names_and_init_seed_reproducible():
    a = attach_lora(make_tiny_model("llama", vocab_size=64), LoraSettings(r=2, target_modules=["q_proj", "v_proj"], init_seed=5))
    b = attach_lora(make_tiny_model("llama", vocab_size=64), LoraSettings(r=2, target_modules=["q_proj", "v_proj"], init_seed=5))
    fa, fb = lora_factors(a), lora_factors(b)
    assert len(fa) == 4
    assert all(torch.equal(fa[n].A, fb[n].A) for n in fa)


def test_a_hub_id_in_the_local_cache_resolves_offline(tmp_path, monkeypatch, tiny_model_dir):
    """``org/name`` is read from the local Hugging Face cache when present; never downloaded."""
    import shutil

    from alignguard.models import ModelNotFoundError, resolve_model_path

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny-llama"
    snap = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_model_dir, snap)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    folder, gguf = resolve_model_path("acme/tiny-llama")
    assert gguf is None and (folder / "config.json").is_file()
    with pytest.raises(ModelNotFoundError, match="huggingface-cli download acme/missing"):
        resolve_model_path("acme/missing")
