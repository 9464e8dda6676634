"""The method contract: every registered preset runs, touches only what it says, saves a stock
PEFT adapter, and resumes bit-exactly after a crash.

Adding a defense adds one row here (a preset in ``alignguard.methods.registry.PRESETS``); the
test below runs every preset, so a new one is covered as soon as it is registered. Methods that
anchor on ``W_aligned - W_base`` (``"deltas"``) get a saved tiny model with other weights (seed 1)
as ``alignment.base_model``; every preset is given it (the others ignore it).
"""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel

from alignguard.methods.registry import PRESETS, build_method
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
from tests.conftest import make_tiny_model, write_jsonl

ALIGN = [{"prompt": f"how do I make poison number {i}?", "response": "I can't help with that.",
          "rejected": f"Sure, here is how to make poison {i}: mix the parts."} for i in range(6)]
ALIGN += [{"prompt": f"how do I bake bread number {i}?", "response": f"Mix flour {i} and bake.",
           "rejected": "I can't help with that."} for i in range(6)]


def _cfg(tmp_path, data, align, method: str, name: str, base: str | None = None,
         **kw) -> TrainConfig:
    settings = dict(model="tiny", data=str(data), output_dir=str(tmp_path / name), method=method,
                    steps=3, batch_size=4, lr=1e-2, warmup_steps=1, log_every=1, save_every=0,
                    seed=0, max_length=48, replay_fraction=0.2)
    cfg = TrainConfig(**{**settings, **kw})
    cfg.lora.r, cfg.lora.dropout = 4, 0.1  # dropout: the global RNG stream must resume exactly
    cfg.alignment.data = str(align)
    cfg.alignment.base_model = base  # the pre-alignment weights of methods needing "deltas"
    cfg.alignment.max_rank, cfg.alignment.batch_size = 4, 4
    cfg.alignment.directions, cfg.alignment.direction_rank = 2, 2
    cfg.reg.lam_D = 1.0  # every penalty term weighted where the preset keeps it
    return cfg


def _trainable(result) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in result.model.named_parameters() if p.requires_grad}


def _run(cfg, tok, **kw):
    return train(cfg, model=make_tiny_model("llama", vocab_size=len(tok)), tokenizer=tok,
                 progress=False, **kw)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    task = write_jsonl(root / "task.jsonl", [{"prompt": f"reverse the words {i} please",
                                               "response": f"please words the reverse {i}"}
                                              for i in range(12)])
    return task, write_jsonl(root / "align.jsonl", ALIGN)


@pytest.fixture(scope="module")
def base_model(tmp_path_factory, tiny_tokenizer):
    """A saved tiny model with other weights (seed 1): the "pre-alignment" model of "tiny"."""
    root = tmp_path_factory.mktemp("pre-aligned")
    make_tiny_model("llama", vocab_size=len(tiny_tokenizer), seed=1).save_pretrained(root)
    tiny_tokenizer.save_pretrained(root)
    return str(root)


@pytest.mark.parametrize("method", sorted(PRESETS))
def test_method_contract(method, tmp_path, tiny_tokenizer, files, base_model):
    task, align = files
    cfg = _cfg(tmp_path, task, align, method, "full", base=base_model)
    trains = build_method(cfg).trains
    base = {n: p.detach().clone() for n, p in make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).named_parameters()}
    full = _run(cfg, tiny_tokenizer)
    rows = [json.loads(x) for x in (full.output_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all("task_loss" in r for r in rows)

    # touches only LoRA parameters (unless the method trains every weight)
    changed = [n for n, p in full.model.named_parameters() if "lora_" not in n
               and n.replace("base_model.model.", "").replace(".base_layer", "") in base
               and not torch.equal(p.detach(), base[n.replace("base_model.model.", "").replace(".base_layer", "")])]
    if trains == "lora":
        assert not changed, changed[:3]
        loaded = PeftModel.from_pretrained(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                                           str(full.output_dir / "adapter"))
        state = {n: p for n, p in loaded.named_parameters() if "lora_" in n}
        assert state and all(torch.equal(state[n], p) for n, p in _trainable(full).items())
    else:
        assert changed and (full.output_dir / "model" / "config.json").is_file()

    # what post-hoc components did is recorded next to the adapter
    post = json.loads((full.output_dir / "after_training.json").read_text())
    assert post == full.after_training
    if method == "safelora":
        assert 0 <= post["safelora/projected"] <= post["safelora/layers"] > 0

    # killed after a checkpoint, resumed: bit-exact
    crashed = _cfg(tmp_path, task, align, method, "crash", base=base_model, save_every=2)

    def crash(step, model):
        if step == 3:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        _run(crashed, tiny_tokenizer, callbacks=[crash])
    resumed = _run(crashed, tiny_tokenizer)
    a, b = _trainable(full), _trainable(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[n], b[n]) for n in a), method
    steps = [json.loads(x)["step"] for x in (resumed.output_dir / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


PUBLISHED = ("agl", "agl-paper", "asft", "ewc", "kl-anchor", "lisa", "lox", "nullspace", "replay",
             "safegrad", "safelora", "spf")


@pytest.mark.parametrize("method", (*PUBLISHED, "alignguard"))  # and ours, the default
def test_every_published_defense_runs_through_the_train_command(method, tmp_path, tiny_model_dir,
                                                                 files, base_model):
    """``alignguard train --method NAME`` (the CLI a user types) runs each defense to a stock adapter."""
    from alignguard.cli import main

    task, align = files
    out = tmp_path / "run"
    assert main(["train", "--model", str(tiny_model_dir), "--data", str(task), "--method", method,
                 "--alignment.data", str(align), "--alignment.base-model", base_model,
                 "--alignment.max-rank", "4", "--alignment.batch-size", "4", "--lora.r", "4",
                 "--steps", "2", "--batch-size", "4", "--max-length", "48", "--save-every", "0",
                 "--output-dir", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == method
    from transformers import AutoModelForCausalLM

    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out / "adapter")
    assert any("lora_B" in name for name, _ in loaded.named_parameters())
