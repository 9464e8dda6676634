"""``reg.ref_precision``: the no-grad forwards at the aligned weights (the KL anchor's reference,
the refusal-direction anchor's ``p0``) through a frozen bfloat16 copy of ``W0``, everything else
unchanged."""

from __future__ import annotations

import copy

import pytest
import torch

from alignguard.data import collate, encode_example, pad_id_of
from alignguard.methods.alignstream import _packs_bf16, frozen_reference
from alignguard.methods.anchors import KLAnchor
from alignguard.methods.refusal_direction import RefusalDirection
from alignguard.regularizers.config import RegularizerConfig
from alignguard.training.config import TrainConfig
from tests.test_defenses_a import MAX_LEN, _aligned_copy, _artifacts, _hand_kl, _twin
from tests.test_refusal_direction import TASK


def _anchor(model, tok, precision: str) -> KLAnchor:
    anchor = KLAnchor(0.5, batch_size=3, max_length=MAX_LEN, seed=0, precision=precision)
    anchor.prepare(_artifacts(tok))
    anchor.before_training(model)
    return anchor


def test_kl_anchor_reads_its_reference_from_a_bf16_forward(peft_model, tiny_tokenizer):
    aligned_bf16 = copy.deepcopy(_aligned_copy(peft_model)).to(torch.bfloat16)
    bf16, fp32 = (_anchor(peft_model, tiny_tokenizer, p) for p in ("bfloat16", "float32"))
    twin = _twin(tiny_tokenizer, 3)
    for _ in range(3):
        batch = twin.next("cpu")
        low, _ = bf16.penalty()
        full, _ = fp32.penalty()
        expected = _hand_kl(aligned_bf16, peft_model, batch)
        torch.testing.assert_close(low, 0.5 * expected, rtol=1e-3, atol=1e-6)
        # the bf16 reference is a different, nearby target; the gradient still reaches theta
        assert 0 < abs(float((low - full).detach())) < 0.05 * float(full.detach())
    low.backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in peft_model.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in peft_model.parameters())


def _direction(model, tok, precision: str) -> RefusalDirection:
    comp = RefusalDirection(2.0, batch_size=2, max_length=MAX_LEN, seed=0, source="batch",
                            precision=precision)
    comp.prepare(_artifacts(tok))
    comp.examples(list(TASK), seed=0)
    comp.before_training(model)
    return comp


def test_refusal_direction_estimates_in_float32_and_reads_p0_in_bf16(peft_model, tiny_tokenizer):
    bf16, fp32 = (_direction(peft_model, tiny_tokenizer, p) for p in ("bfloat16", "float32"))
    torch.testing.assert_close(bf16.units, fp32.units, atol=0, rtol=0)  # one-time estimate
    batch = collate([encode_example(tiny_tokenizer, e, MAX_LEN) for e in TASK[:3]],
                    pad_id_of(tiny_tokenizer))
    out = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     output_hidden_states=True)
    low, _ = bf16.task_penalty(peft_model, batch, out.hidden_states)
    full, _ = fp32.task_penalty(peft_model, batch, out.hidden_states)
    assert float(full.detach()) > 0
    assert 0 < abs(float((low - full).detach())) < 0.1 * float(full.detach())


def test_bad_precisions_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="ref_precision"):
        RegularizerConfig(ref_precision="fp16")
    with pytest.raises(ValueError, match="precision"):
        KLAnchor(1.0, batch_size=2, max_length=MAX_LEN, seed=0, precision="half")
    with pytest.raises(ValueError, match="precision"):
        RefusalDirection(1.0, batch_size=2, max_length=MAX_LEN, seed=0, precision="half")
    assert RegularizerConfig(ref_precision="bfloat16").ref_precision == "bfloat16"
    with pytest.raises(ValueError, match="FSDP2"):
        TrainConfig(distributed="fsdp2", reg=RegularizerConfig(ref_precision="bfloat16"))
    TrainConfig(distributed="ddp", reg=RegularizerConfig(ref_precision="bfloat16"))


def test_one_frozen_copy_of_w0_serves_every_component(peft_model):
    ref = frozen_reference(peft_model)
    assert frozen_reference(peft_model) is ref  # built once per model object
    assert not hasattr(ref, "disable_adapter") and not any(p.requires_grad for p in ref.parameters())
    assert {p.dtype for p in ref.parameters()} == {torch.bfloat16}  # what is not packed
    packed = [m for m in ref.modules() if type(m).__name__ == "MkldnnLinear"]
    assert bool(packed) == _packs_bf16(ref)  # on a CPU with oneDNN bf16: every linear packed once
    assert not [m for m in ref.modules() if isinstance(m, torch.nn.Linear)] or not packed
    ids = torch.arange(3, 11)[None]
    with torch.no_grad(), peft_model.disable_adapter():
        w0 = peft_model(input_ids=ids).logits
    torch.testing.assert_close(ref(input_ids=ids).logits.float(), w0, atol=0.05, rtol=0.05)
    with pytest.raises(ValueError, match="PEFT"):
        frozen_reference(torch.nn.Linear(2, 2))
