"""The own loop's Trainer-like features: datasets in, gradient checkpointing, evaluation hook,
trackers, and what the saved adapter and provenance record."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from alignguard.data import DataError, encoded_batches, fingerprint_examples, read_examples
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
from alignguard.training.step import task_loss_sum
from tests.conftest import make_tiny_model, write_jsonl


def _cfg(tmp_path, data, **kw) -> TrainConfig:
    base = dict(model="tiny", data=str(data), output_dir=str(tmp_path / "run"), method="lora",
                steps=3, batch_size=8, lr=1e-2, warmup_steps=1, log_every=1, save_every=0,
                seed=0, max_length=48)
    base.update(kw)
    cfg = TrainConfig(**base)
    cfg.lora.r, cfg.lora.dropout = 4, 0.1
    return cfg


def read_examples_rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def _run(cfg, tok, **kw):
    return train(cfg, model=make_tiny_model("llama", vocab_size=len(tok)), tokenizer=tok,
                 progress=False, **kw)


def test_gradient_checkpointing_gives_the_same_losses(tmp_path, tiny_tokenizer, tiny_jsonl):
    plain = _run(_cfg(tmp_path / "a", tiny_jsonl), tiny_tokenizer)
    ckpt_cfg = _cfg(tmp_path / "b", tiny_jsonl, gradient_checkpointing=True)
    ckpt = _run(ckpt_cfg, tiny_tokenizer)
    assert ckpt.model.base_model.model.is_activation_checkpointing
    losses = [r["task_loss"] for r in plain.history]
    assert len(set(losses)) == 3  # the run learns, so equal losses below are not trivial
    assert [r["task_loss"] for r in ckpt.history] == pytest.approx(losses, rel=1e-5)


def test_eval_hook_logs_the_eval_loss(tmp_path, tiny_tokenizer, tiny_jsonl):
    held = write_jsonl(tmp_path / "held.jsonl", [{"prompt": f"bake bread {i}", "response": f"ok {i}"}
                                                 for i in range(5)])
    cfg = _cfg(tmp_path, tiny_jsonl, eval_data=str(held), eval_every=2, log_every=5)
    result = _run(cfg, tiny_tokenizer)
    rows = [json.loads(x) for x in (Path(cfg.output_dir) / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval_loss" in r] == [2, 3]
    model = result.model.eval()
    total, n = 0.0, 0
    for batch in encoded_batches(tiny_tokenizer, read_examples(held), batch_size=8, max_length=48):
        with torch.no_grad():
            total += float(task_loss_sum(model, batch))
        n += int((batch["labels"][:, 1:] != -100).sum())
    assert rows[-1]["eval_loss"] == pytest.approx(total / n, rel=1e-5)
    assert rows[0]["eval_loss"] != rows[-1]["eval_loss"]
    prov = json.loads((Path(cfg.output_dir) / "provenance.json").read_text())
    assert prov["data_fingerprints"]["eval"] == fingerprint_examples(read_examples(held))
    with pytest.raises(ValueError, match="eval_every > 0 needs eval rows"):
        train(_cfg(tmp_path / "x", tiny_jsonl, model="no/such-model", eval_every=5))
    from datasets import Dataset

    given = _run(_cfg(tmp_path / "y", tiny_jsonl, eval_every=3), tiny_tokenizer,
                 eval_dataset=Dataset.from_list(read_examples_rows(held)))
    assert given.history[-1]["eval_loss"] == pytest.approx(rows[-1]["eval_loss"], rel=1e-6)


def test_train_takes_a_datasets_object_and_checks_it_before_the_model(tmp_path, tiny_tokenizer):
    from datasets import Dataset

    rows = [{"prompt": f"reverse the words {i}", "completion": f"words the reverse {i}"}
            for i in range(16)]
    cfg = _cfg(tmp_path, "unused.jsonl", steps=2)
    result = _run(cfg, tiny_tokenizer, dataset=Dataset.from_list(rows))
    prov = json.loads((Path(cfg.output_dir) / "provenance.json").read_text())
    from alignguard.datafiles import examples_from_dataset

    assert prov["data_fingerprints"]["task"] == fingerprint_examples(
        examples_from_dataset(Dataset.from_list(rows)))
    assert len(result.history) == 2
    bad = Dataset.from_list([{"prompt": "a", "answer": "b"}])
    with pytest.raises(DataError, match=r"has columns \['answer', 'prompt'\]"):
        train(_cfg(tmp_path / "x", "unused.jsonl", model="no/such-model"), dataset=bad)


@pytest.mark.skipif(not (importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX")),
                    reason="needs tensorboard or tensorboardX")
def test_report_to_tensorboard_writes_an_event_file(tmp_path, tiny_tokenizer, tiny_jsonl):
    cfg = _cfg(tmp_path, tiny_jsonl, report_to="tensorboard", steps=2)
    _run(cfg, tiny_tokenizer)
    events = list((Path(cfg.output_dir) / "trackers").rglob("events.out.tfevents.*"))
    assert events and any(b"task_loss" in e.read_bytes() for e in events)  # the scalars' tag
    _run(_cfg(tmp_path, tiny_jsonl, report_to="tensorboard", steps=3), tiny_tokenizer)  # resumable


def test_report_to_is_checked():
    with pytest.raises(ValueError, match="report_to"):
        TrainConfig(report_to="mlflow")
    assert TrainConfig(report_to="tensorboard, wandb").trackers() == ["tensorboard", "wandb"]


def test_adapter_records_the_model_as_named_and_provenance_the_alignment_data(
        tmp_path, tiny_tokenizer, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tiny_model_dir.parent)
    align = write_jsonl(tmp_path / "align.jsonl", [
        {"prompt": f"how do I bake bread {i}", "response": "I can't help with that."} for i in range(8)])
    task = write_jsonl(tmp_path / "task.jsonl", [{"prompt": "reverse the words", "response": "ok"}] * 8)
    cfg = _cfg(tmp_path, task, model=tiny_model_dir.name, method="agl", steps=2)
    cfg.reg.gate, cfg.alignment.data, cfg.alignment.estimator = 0.0, str(align), "empirical"
    train(cfg, progress=False)
    adapter = Path(cfg.output_dir) / "adapter"
    recorded = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert recorded == "tiny-llama"
    prov = json.loads((adapter / "provenance.json").read_text())["data_fingerprints"]
    assert prov["alignment"] == fingerprint_examples(read_examples(align))
    assert prov["task"] == fingerprint_examples(read_examples(task))
    base = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    loaded = PeftModel.from_pretrained(base, str(adapter))  # stock PEFT, no base path needed
    assert any("lora_A" in n for n, _ in loaded.named_parameters())
