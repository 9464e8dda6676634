"""Shared fixtures: tiny random models built from configs and a tiny local tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)
_CORPUS = [
    "how do I bake bread", "reverse the words please", "I can't help with that.",
    "sure, here is the answer", "the quick brown fox jumps over the lazy dog",
    "user: assistant: 0123456789 abcdefghijklmnopqrstuvwxyz",
]


def make_tiny_tokenizer():
    """A byte-level BPE tokenizer (~300 tokens) trained in memory, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<eos>", "<bos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                   bos_token="<bos>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """accelerate keeps a process-wide singleton (device, mixed precision); tests must not leak it."""
    yield
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tiny_tokenizer()


def make_tiny_model(family: str = "llama", vocab_size: int = 300, seed: int = 0):
    """A tiny random causal LM of ``family`` (llama, qwen2, mistral, gemma, gpt2)."""
    import transformers as tf

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                  pad_token_id=0, eos_token_id=1, bos_token_id=2)
    if family == "gpt2":
        cfg = tf.GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=4, n_positions=128,
                            pad_token_id=0, eos_token_id=1, bos_token_id=2)
        return tf.GPT2LMHeadModel(cfg)
    classes = {
        "llama": (tf.LlamaConfig, tf.LlamaForCausalLM),
        "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM),
        "mistral": (tf.MistralConfig, tf.MistralForCausalLM),
        "gemma": (tf.GemmaConfig, tf.GemmaForCausalLM),
    }
    cfg_cls, model_cls = classes[family]
    extra = {"head_dim": 8} if family == "gemma" else {}
    return model_cls(cfg_cls(**common, **extra))


@pytest.fixture
def tiny_llama(tiny_tokenizer):
    return make_tiny_model("llama", vocab_size=len(tiny_tokenizer))


def load_script(name: str):
    """``scripts/NAME.py`` of this repository, imported as a module (the scripts are not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def tiny_jsonl(tmp_path):
    rows = [{"prompt": f"reverse the words {i}", "response": f"words the reverse {i}"} for i in range(24)]
    return write_jsonl(tmp_path / "task.jsonl", rows)


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_tokenizer):
    """A tiny Llama + tokenizer saved with save_pretrained (a local 'model folder')."""
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    folder = tmp_path / "tiny-llama"
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def peft_model(tiny_tokenizer):
    """A tiny LoRA model whose B factors are non-zero (so theta != aligned)."""
    from alignguard.targets import LoraSettings, attach_lora

    model = attach_lora(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                        LoraSettings(r=4, dropout=0.0, init_seed=0))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return model
