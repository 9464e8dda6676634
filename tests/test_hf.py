"""HF Trainer / TRL SFTTrainer integration of the AlignGuard objective."""

from __future__ import annotations

import pytest
import torch
import trl
from transformers import TrainingArguments

from alignguard.data import encode_examples, read_examples
from alignguard.fisher import estimate_alignment_fisher
from alignguard.hf import AlignGuardTrainer, alignguard_trainer_class
from alignguard.regularizers import RegularizerConfig
from alignguard.targets import LoraSettings, attach_lora
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
    reg = RegularizerConfig(lam_A=lam_A, lam_T=0.1, lam_NC=0.1, riem_sample=0)
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
    assert logged and all(f"alignguard/{k}" in logged[-1] for k in ("fisher", "task", "collision"))
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
                  alignguard_basis=basis, alignguard_config=RegularizerConfig(lam_A=1.0))
    before = _lora(trainer.model)
    trainer.train()
    after = _lora(trainer.model)
    assert any(not torch.equal(before[n], after[n]) for n in before)
    assert any("alignguard/fisher" in row for row in trainer.state.log_history)
