"""Weight-space Fisher directions: estimation, storage, the L_D term and refresh during training."""

from __future__ import annotations

import json

import pytest
import torch

from alignguard.alignment.basis import AlignmentBasis
from alignguard.alignment.directions import (
    ModuleDirections,
    _chunks,
    _sequence_gradients,
    estimate_directions,
    leading_directions,
)
from alignguard.alignment.fisher import estimate_alignment_fisher
from alignguard.data import Example, collate, encode_examples, pad_id_of, read_examples
from alignguard.regularizers import RegularizerConfig
from alignguard.regularizers.layout import GeometryLayout
from alignguard.regularizers.registry import build_terms
from alignguard.targets import LoraFactors, LoraSettings, attach_lora
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
from tests.conftest import make_tiny_model

EXAMPLES = [Example("how do I bake bread", "sure, here is the answer", "I can't help with that."),
            Example("reverse the words please", "I can't help with that.", "sure, words the"),
            Example("the quick brown fox", "jumps over the lazy dog")]


def test_leading_directions_are_the_top_eigenvectors_of_the_dense_block():
    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(7, 5, 4, generator=gen, dtype=torch.float64)
    d = leading_directions(grads, k=3, rank=4)
    flat = grads.reshape(7, -1)
    evals, evecs = torch.linalg.eigh(flat.T @ flat / 7)
    top = evecs[:, -3:]
    v = (d.p.double() @ d.r.double()).reshape(3, -1)
    torch.testing.assert_close(v @ v.T, torch.eye(3, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(v.T @ v, top @ top.T, atol=1e-5, rtol=0)  # same subspace
    expected = evals.flip(0)[:3] / evals.flip(0)[:3].mean()
    torch.testing.assert_close(d.lam.double(), expected, atol=1e-5, rtol=1e-5)
    low = leading_directions(grads, k=3, rank=1)  # truncated: each direction keeps rank 1
    assert low.p.shape == (3, 5, 1) and low.r.shape == (3, 1, 4)
    with pytest.raises(ValueError, match="all zero"):
        leading_directions(torch.zeros(3, 2, 2), k=2, rank=1)


def test_direction_term_equals_the_dense_quadratic():
    gen = torch.Generator().manual_seed(1)
    d_out, d_in, r, s = 6, 5, 2, 1.5
    d = leading_directions(torch.randn(9, d_out, d_in, generator=gen, dtype=torch.float64), k=4, rank=3)
    A = torch.randn(r, d_in, generator=gen, dtype=torch.float64)
    B = torch.randn(d_out, r, generator=gen, dtype=torch.float64)
    q = torch.linalg.qr(torch.randn(d_out, 2, generator=gen, dtype=torch.float64))[0]
    qi = torch.linalg.qr(torch.randn(d_in, 2, generator=gen, dtype=torch.float64))[0]
    from alignguard.alignment.basis import ModuleBasis

    ones = torch.ones(2, dtype=torch.float64)
    mb = ModuleBasis(q, ones, qi, ones, torch.ones(d_out, dtype=torch.float64),
                     torch.ones(d_in, dtype=torch.float64), directions=d)
    layout = GeometryLayout.from_factors({"m": LoraFactors(A, B, s)}, AlignmentBasis({"m": mb}))
    cfg = RegularizerConfig(lam_D=1.0)
    term = next(t for t in build_terms(cfg) if t.name == "directions")
    dw = s * B @ A
    v = (d.p.double() @ d.r.double())
    dense = (d.lam.double() * torch.einsum("mij,ij->m", v, dw).square()).sum()
    torch.testing.assert_close(term.fn(layout.geometry()).double(), dense, rtol=1e-5, atol=1e-8)
    layout.add_directions({"m": d})  # appended: every direction counted again
    torch.testing.assert_close(term.fn(layout.geometry()).double(), 2 * dense, rtol=1e-5, atol=1e-8)


def _loss_grads(model, tok, ex: Example, name: str) -> torch.Tensor:
    batch = collate(encode_examples(tok, [ex], max_length=48), pad_id_of(tok))
    model.zero_grad()
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits, labels = out.logits[:, :-1], batch["labels"][:, 1:]
    torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                      ignore_index=-100, reduction="sum").backward()
    return dict(model.named_parameters())[name + ".weight"].grad.detach().clone()


def test_sequence_gradients_are_each_sequences_weight_gradient(tiny_tokenizer):
    """Exact for the last layer's MLP, whose output at a position feeds only that prediction.

    (Upstream modules also get gradient through attention at prompt positions, which the
    response-token convention of :mod:`alignguard.alignment.kfac` leaves out, as for K-FAC.)
    """
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).double()
    name = "model.layers.1.mlp.down_proj"
    batch = collate(encode_examples(tiny_tokenizer, EXAMPLES, max_length=48), pad_id_of(tiny_tokenizer))
    per_seq = _sequence_gradients(model, batch, [name], "response", current=False)[name]
    assert per_seq.shape[0] == 3
    for i, ex in enumerate(EXAMPLES):
        torch.testing.assert_close(per_seq[i].double(), _loss_grads(model, tiny_tokenizer, ex, name),
                                   rtol=1e-4, atol=1e-6)


def test_current_weights_see_the_adapter_and_w0_does_not(tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    base = estimate_directions(model, EXAMPLES, tiny_tokenizer, ["model.layers.0.mlp.up_proj"], k=2, rank=2)
    peft = attach_lora(model, LoraSettings(r=2, target_modules=["up_proj"], init_seed=0))
    name = "model.layers.0.mlp.up_proj"
    fresh = estimate_directions(peft, EXAMPLES, tiny_tokenizer, [name], k=2, rank=2, current=True)
    torch.testing.assert_close(fresh[name].lam, base[name].lam)  # B = 0: dW = 0
    with torch.no_grad():
        for n, p in peft.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    at_w0 = estimate_directions(peft, EXAMPLES, tiny_tokenizer, [name], k=2, rank=2)
    moved = estimate_directions(peft, EXAMPLES, tiny_tokenizer, [name], k=2, rank=2, current=True)
    torch.testing.assert_close(at_w0[name].lam, base[name].lam)
    assert not torch.allclose(moved[name].lam, base[name].lam, rtol=1e-3)


def test_memory_chunks_do_not_change_the_result(tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    names = ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.up_proj"]
    assert _chunks({"a": (4, 4), "b": (4, 4), "c": (2, 2)}, 2, 4 * 2 * 20) == [["a"], ["b", "c"]]
    one = estimate_directions(model, EXAMPLES, tiny_tokenizer, names, k=3, rank=2)
    split = estimate_directions(model, EXAMPLES, tiny_tokenizer, names, k=3, rank=2, memory_bytes=1)
    for n in names:
        torch.testing.assert_close(one[n].lam, split[n].lam)
    with pytest.raises(ValueError, match="no alignment examples"):
        estimate_directions(model, [], tiny_tokenizer, names)


def test_directions_roundtrip_in_the_fisher_folder_and_alone(tiny_tokenizer, tmp_path):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    basis = estimate_alignment_fisher(model, EXAMPLES, tokenizer=tiny_tokenizer,
                                      target_modules=["q_proj"], progress=False)
    assert not basis.has_directions
    dirs = estimate_directions(model, EXAMPLES, tiny_tokenizer, sorted(basis.modules), k=2, rank=2)
    full = basis.with_directions(dirs)
    full.save(tmp_path / "fisher")
    back = AlignmentBasis.load(tmp_path / "fisher")
    assert back.has_directions
    for n, d in dirs.items():
        torch.testing.assert_close(back.modules[n].directions.p, d.p)
    assert isinstance(back.modules[n].directions, ModuleDirections)
    with pytest.raises(ValueError, match="no weight-space directions"):
        basis.with_directions({})


def test_training_weights_the_directions_term(tmp_path, tiny_tokenizer, tiny_jsonl):
    cfg = TrainConfig(model="tiny", data=str(tiny_jsonl), output_dir=str(tmp_path / "run"), steps=3,
                      batch_size=8, lr=1e-2, warmup_steps=1, log_every=1, save_every=0,
                      max_length=48, method="agl")
    cfg.lora.r, cfg.reg.lam_D, cfg.reg.gate = 4, 10.0, 0.0
    cfg.alignment.data, cfg.alignment.estimator = str(tiny_jsonl), "empirical"
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    out = train(cfg, model=model, tokenizer=tiny_tokenizer, progress=False)
    rows = [json.loads(x) for x in (out.output_dir / "log.jsonl").read_text().splitlines()]
    # step 1 runs at lr 0 (transformers' warm-up), so the update and its penalty start at 0
    assert all(r["weighted/directions"] == 10 * r["reg/directions"] for r in rows)
    assert all(r["reg/directions"] > 0 for r in rows[1:])
    assert AlignmentBasis.load(out.output_dir / "fisher").has_directions


def test_directions_settings_are_validated(tiny_jsonl):
    from alignguard.alignment.settings import AlignmentSettings

    with pytest.raises(ValueError, match="directions"):
        AlignmentSettings(directions=0)
    with pytest.raises(ValueError, match="lam_D"):
        RegularizerConfig(lam_D=-1.0)
    assert TrainConfig(method="lora").resolved_reg().lam_D == 0.0
    assert TrainConfig(method="agl-no-directions", reg=RegularizerConfig(lam_D=3.0)).resolved_reg().lam_D == 0
    assert read_examples(tiny_jsonl)  # the fixture the training tests use is valid
