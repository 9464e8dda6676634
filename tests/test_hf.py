"""HF Trainer / TRL SFTTrainer integration of the AlignGuard objective."""

from __future__ import annotations

import pytest
import torch
import trl
from transformers import TrainingArguments

from alignguard.alignment.fisher import estimate_alignment_fisher
from alignguard.data import encode_examples, read_examples
from alignguard.regularizers import RegularizerConfig
from alignguard.targets import LoraSettings, attach_lora
from alignguard.training.hf import AlignGuardTrainer, alignguard_trainer_class
from tests.conftest import make_tiny_model


class _Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows):
        from alignguard.data import collate

        return collate(rows, self.pad_id)


def _trainer(tmp_path, tok, data, basis, batch, accum, lam_A=1.0, trainer_cls=AlignGuardTrainer):
    model = attach_lora(make_tiny_model("llama", vocab_size=len(tok)), LoraSettings(r=4, init_seed=0))
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=batch, gradient_accumulation_steps=accum,
        max_steps=2, learning_rate=1e-2, lr_scheduler_type="constant", logging_steps=1,
        optim="sgd",  # updates linear in the gradient, so accumulation must match exactly
        report_to=[], save_strategy="no", seed=0, data_seed=0, use_cpu=True, disable_tqdm=True,
        remove_unused_columns=False,
    )
    reg = RegularizerConfig(lam_A=lam_A, lam_T=0.1, lam_NC=0.1, riem_sample=0, gate=0.0)
    return trainer_cls(model=model, args=args, train_dataset=data, data_collator=_Collator(tok.pad_token_id),
                       alignguard_basis=basis, alignguard_config=reg)


@pytest.fixture
def setup(tiny_tokenizer, tiny_jsonl):
    examples = read_examples(tiny_jsonl)
    data = encode_examples(tiny_tokenizer, examples, max_length=48)
    basis = estimate_alignment_fisher(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)), examples,
                                      tokenizer=tiny_tokenizer, max_rank=4, progress=False)
    return tiny_tokenizer, data, basis


def _lora(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def test_trainer_grad_accumulation_matches_big_batch(tmp_path, setup):
    tok, data, basis = setup
    big = _trainer(tmp_path / "a", tok, data, basis, batch=8, accum=1)
    big.train()
    small = _trainer(tmp_path / "b", tok, data, basis, batch=4, accum=2)
    small.train()
    a, b = _lora(big.model), _lora(small.model)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)


def test_trainer_logs_every_term_and_penalty_changes_the_update(tmp_path, setup):
    tok, data, basis = setup
    with_pen = _trainer(tmp_path / "a", tok, data, basis, batch=8, accum=1, lam_A=100.0)
    with_pen.train()
    logged = [row for row in with_pen.state.log_history if "loss" in row]
    assert logged and all(f"alignguard/reg/{k}" in logged[-1] for k in ("fisher", "task", "collision"))
    without = _trainer(tmp_path / "b", tok, data, basis, batch=8, accum=1, lam_A=0.0)
    without.train()
    a, b = _lora(with_pen.model), _lora(without.model)
    assert any(not torch.allclose(a[n], b[n]) for n in a)


def test_trl_sft_trainer_accepts_the_mixin(tmp_path, setup):
    tok, data, basis = setup
    cls = alignguard_trainer_class(trl.SFTTrainer)
    assert issubclass(cls, trl.SFTTrainer) and cls.__name__ == "AlignGuardSFTTrainer"
    model = attach_lora(make_tiny_model("llama", vocab_size=len(tok)), LoraSettings(r=4, init_seed=0))
    from datasets import Dataset

    ds = Dataset.from_list([{"prompt": f"reverse {i}", "completion": f"esrever {i}"} for i in range(16)])
    args = trl.SFTConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4,
                         gradient_accumulation_steps=2, logging_steps=1, report_to=[],
                         save_strategy="no", use_cpu=True, disable_tqdm=True, max_length=32)
    trainer = cls(model=model, args=args, train_dataset=ds, processing_class=tok,
                  alignguard_basis=basis, alignguard_config=RegularizerConfig(lam_A=1.0, gate=0.0))
    before = _lora(trainer.model)
    trainer.train()
    after = _lora(trainer.model)
    assert any(not torch.equal(before[n], after[n]) for n in before)
    assert any("alignguard/reg/fisher" in row for row in trainer.state.log_history)


def test_trainer_runs_the_gate_after_prepare_and_refuses_replay(tmp_path, tiny_tokenizer, tiny_jsonl):
    """The mixin runs a prepared method's gate (rows scored, some gated) and refuses replay."""
    from alignguard.alignment.settings import AlignmentSettings
    from alignguard.training.config import TrainConfig
    from alignguard.training.hf import prepare_method
    from tests.conftest import write_jsonl

    align = write_jsonl(tmp_path / "align.jsonl", [
        {"prompt": f"reverse the words {i}", "response": "I can't help with that.",
         "rejected": f"words the reverse {i}"} for i in range(8)])  # the task rows look rejected
    cfg = TrainConfig(model="tiny", method="agl-fisher-only",
                      alignment=AlignmentSettings(data=str(align), max_rank=4, batch_size=4,
                                                  max_length=48),
                      reg=RegularizerConfig(gate=0.3))
    base = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    method = prepare_method(cfg, base, tiny_tokenizer)
    model = attach_lora(base, LoraSettings(r=4, init_seed=0))
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), per_device_train_batch_size=4,
                             max_steps=2, logging_steps=1, report_to=[], save_strategy="no",
                             use_cpu=True, disable_tqdm=True, remove_unused_columns=False)
    data = encode_examples(tiny_tokenizer, read_examples(tiny_jsonl), max_length=48)
    trainer = AlignGuardTrainer(model=model, args=args, train_dataset=data,
                                data_collator=_Collator(tiny_tokenizer.pad_token_id),
                                alignguard_method=method)
    trainer.train()
    gate = next(c for c in method.components if c.name == "gate").gate
    assert gate.seen == 8 and 0 < gate.gated <= 8
    assert any("alignguard/gate/fraction" in row for row in trainer.state.log_history)
    replay_cfg = TrainConfig(model="tiny", method="lora", replay_fraction=0.2,
                             alignment=AlignmentSettings(data=str(align)))
    with pytest.raises(ValueError, match="mix replay rows into train_dataset"):
        AlignGuardTrainer(model=model, args=args, train_dataset=data,
                          alignguard_method=prepare_method(replay_cfg, base, tiny_tokenizer))
    with pytest.raises(ValueError, match="prepare_method"):
        AlignGuardTrainer(model=model, args=args, train_dataset=data,
                          alignguard_config=RegularizerConfig(gate=0.5))


def test_trainer_runs_the_default_with_the_refusal_direction_anchor(tmp_path, tiny_tokenizer, tiny_jsonl):
    """The default method (its KL anchor only reads the task rows) runs in the mixin; the
    refusal-direction anchor needs the task rows from prepare_method and says so without them."""
    from alignguard.alignment.settings import AlignmentSettings
    from alignguard.training.config import TrainConfig
    from alignguard.training.hf import prepare_method
    from tests.conftest import write_jsonl

    align = write_jsonl(tmp_path / "align.jsonl", [
        {"prompt": f"how do I make poison {i}?", "response": "I can't help with that."}
        for i in range(4)] + [{"prompt": f"how do I bake bread {i}?", "response": f"Mix flour {i}."}
                              for i in range(4)])
    cfg = TrainConfig(model="tiny", method="alignguard", max_length=48,
                      alignment=AlignmentSettings(data=str(align), max_length=48),
                      reg=RegularizerConfig(lam_rdir=1.0, rdir_source="stream"))
    base = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    rows = read_examples(tiny_jsonl)
    method = prepare_method(cfg, base, tiny_tokenizer, rows=rows)
    model = attach_lora(base, LoraSettings(r=4, init_seed=0))
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), per_device_train_batch_size=4,
                             max_steps=2, logging_steps=1, report_to=[], save_strategy="no",
                             use_cpu=True, disable_tqdm=True, remove_unused_columns=False)
    data = encode_examples(tiny_tokenizer, rows, max_length=48)
    trainer = AlignGuardTrainer(model=model, args=args, train_dataset=data,
                                data_collator=_Collator(tiny_tokenizer.pad_token_id),
                                alignguard_method=method)
    trainer.train()
    logged = [row for row in trainer.state.log_history if "alignguard/reg/kl" in row]
    assert logged and all("alignguard/reg/rdir_task" in row for row in logged)
    assert next(c for c in method.components if c.name == "refusal_direction").task.position == 4
    bare = AlignGuardTrainer(model=model, args=args, train_dataset=data,
                             data_collator=_Collator(tiny_tokenizer.pad_token_id),
                             alignguard_method=prepare_method(cfg, base, tiny_tokenizer))
    with pytest.raises(ValueError, match="pass rows"):
        bare.train()
    cfg.reg.rdir_source = "batch"  # rows from the Trainer's own batches: no rows= needed
    method = prepare_method(cfg, base, tiny_tokenizer)
    trainer = AlignGuardTrainer(model=model, args=args, train_dataset=data,
                                data_collator=_Collator(tiny_tokenizer.pad_token_id),
                                alignguard_method=method)
    trainer.train()
    rdir = next(c for c in method.components if c.name == "refusal_direction")
    assert rdir.task is None and rdir.reads_hidden_states
    assert any("alignguard/reg/rdir_task" in row for row in trainer.state.log_history)
