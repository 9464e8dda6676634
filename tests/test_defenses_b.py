"""Safe LoRA, AsFT, LoX, null-space LoRA and the agl-paper preset, each against a small dense
computation of its published formula (docs/method.md, "Published defenses")."""

from __future__ import annotations

import contextlib
import math

import pytest
import torch

from alignguard.alignment.activations import activation_bases, energy_basis, input_covariances
from alignguard.data import Example, encoded_batches
from alignguard.methods.asft import AnchorPenalty
from alignguard.methods.lox import LowRankExtrapolation, lox_factors
from alignguard.methods.nullspace import NullSpace
from alignguard.methods.registry import build_method
from alignguard.methods.safelora import SafeLoRA, select_layers
from alignguard.methods.weightspace import AlignmentMatrix, cosine_CdW, perp_energy
from alignguard.targets import LoraSettings, attach_lora, lora_layers
from alignguard.training.config import TrainConfig
from tests.conftest import make_tiny_model


def _dense_C(V: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Safe LoRA's C = V V^T / ||V||_F (eq. 1), or its rank-k truncation, densely."""
    V = V.double()
    if k is None:
        return V @ V.T / torch.linalg.norm(V)
    U, s, _ = torch.linalg.svd(V)
    return U[:, :k] @ torch.diag(s[:k] ** 2) @ U[:, :k].T / torch.linalg.norm(V)


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("rank", [0, 3])
def test_alignment_matrix_and_factored_forms_match_dense(rank):
    V, A, B = _rand(12, 9), _rand(4, 9, seed=1), _rand(12, 4, seed=2)
    C = AlignmentMatrix.from_delta(V, rank)
    dense = _dense_C(V, None if rank == 0 else rank)
    assert torch.allclose(C.dense().double(), dense, atol=1e-5)
    dW = B.double() @ A.double()
    CdW = dense @ dW
    cos = float((CdW * dW).sum() / (CdW.norm() * dW.norm()))
    assert cosine_CdW(C, A, B) == pytest.approx(cos, abs=1e-5)
    # AsFT: ||(I - C) s B A||_F^2 and its gradient w.r.t. the factors
    s = 0.7
    A1, B1 = A.clone().requires_grad_(True), B.clone().requires_grad_(True)
    perp_energy(C, A1, B1, s).backward()
    A2, B2 = A.double().requires_grad_(True), B.double().requires_grad_(True)
    ref = ((torch.eye(12, dtype=torch.float64) - dense) @ (s * B2 @ A2)).pow(2).sum()
    ref.backward()
    assert float(perp_energy(C, A, B, s)) == pytest.approx(float(ref), rel=1e-4)
    assert torch.allclose(A1.grad.double(), A2.grad, rtol=1e-4, atol=1e-4)
    assert torch.allclose(B1.grad.double(), B2.grad, rtol=1e-4, atol=1e-4)


def test_projector_form_is_an_orthogonal_projector():
    C = AlignmentMatrix.from_delta(_rand(10, 6), rank=3, form="projector")
    P = C.dense()
    assert torch.allclose(P @ P, P, atol=1e-5) and float(torch.trace(P)) == pytest.approx(3, abs=1e-5)


def _deltas(model, seed=5):
    return {n: _rand(*m.base_layer.weight.shape, seed=seed + i) * 0.1
            for i, (n, m) in enumerate(sorted(lora_layers(model).items()))}


def _lora_model(tok, r=4, seed=0, b_scale=1.0):
    torch.manual_seed(seed)
    model = attach_lora(make_tiny_model("llama", vocab_size=len(tok)), LoraSettings(r=r, init_seed=seed))
    with torch.no_grad():
        for i, layer in enumerate(lora_layers(model).values()):
            layer.lora_B["default"].weight.copy_(b_scale * _rand(*layer.lora_B["default"].weight.shape, seed=100 + i))
    return model


@pytest.mark.parametrize("tau,n_lowest", [(0.7, 0), (2.0, 0), (0.0, 3)])
def test_safelora_projects_the_layers_the_paper_selects(tiny_tokenizer, tau, n_lowest):
    model = _lora_model(tiny_tokenizer)
    deltas = _deltas(model)
    layers = lora_layers(model)
    before = {n: (m.lora_A["default"].weight.detach().clone(), m.lora_B["default"].weight.detach().clone())
              for n, m in layers.items()}
    sim, expected = {}, {}
    for n, (A, B) in before.items():
        C = _dense_C(deltas[n])
        dW = B.double() @ A.double()
        sim[n] = float((C @ dW * dW).sum() / ((C @ dW).norm() * dW.norm()))
        expected[n] = C @ B.double()
    chosen = (sorted(sim, key=sim.get)[:n_lowest] if n_lowest else [n for n in sim if sim[n] < tau])
    comp = SafeLoRA(tau, n_lowest, rank=0)
    comp.deltas = deltas
    comp.before_training(model)
    comp.after_training(model)
    assert comp.log_values()["safelora/projected"] == len(chosen)
    assert sorted(select_layers(sim, tau, n_lowest)) == sorted(chosen)
    for n, layer in layers.items():
        B_new = layer.lora_B["default"].weight.detach().double()
        want = expected[n] if n in chosen else before[n][1].double()
        assert torch.allclose(B_new, want, atol=1e-5), n
        assert torch.equal(layer.lora_A["default"].weight.detach(), before[n][0])
    if tau == 2.0:
        assert len(chosen) == len(layers)  # every cosine is < 2: all projected
    else:  # the selection is not trivial: some layers projected, some kept
        assert 0 < len(chosen) < len(layers)


def test_asft_penalty_is_the_dense_sum_over_layers(tiny_tokenizer):
    model = _lora_model(tiny_tokenizer)
    deltas = _deltas(model)
    comp = AnchorPenalty(lam=2.5, rank=0)
    comp.deltas = deltas
    comp.before_training(model)
    total, values = comp.penalty()
    ref = 0.0
    for n, layer in lora_layers(model).items():
        dW = layer.scaling["default"] * (layer.lora_B["default"].weight.double()
                                         @ layer.lora_A["default"].weight.double())
        ref += float(((torch.eye(dW.shape[0], dtype=torch.float64) - _dense_C(deltas[n])) @ dW).pow(2).sum())
    assert values["asft_perp"] == pytest.approx(ref, rel=1e-4)
    assert float(total) == pytest.approx(2.5 * ref, rel=1e-4)
    total.backward()
    assert all(m.lora_B["default"].weight.grad is not None for m in lora_layers(model).values())


def test_lox_factors_give_the_extrapolation():
    V = _rand(14, 10)
    B, A = lox_factors(V.double(), k=3, alpha=0.8, scale=0.5)
    U, s, Wt = torch.linalg.svd(V.double())
    ref = 0.8 * U[:, :3] @ torch.diag(s[:3]) @ Wt[:3]
    assert torch.allclose(0.5 * B @ A, ref, atol=1e-10)


def test_lox_adapter_folds_the_extrapolation_and_keeps_it_frozen(tiny_tokenizer):
    from alignguard.training.loop import trainable_model

    cfg = TrainConfig(model="tiny", method="lox")
    cfg.lora.r, cfg.lora.alpha = 4, 8.0
    cfg.reg.lox_rank, cfg.reg.lox_alpha = 2, 0.7
    method = build_method(cfg)
    assert method.extra_rank() == 2
    base = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    W0 = {n: m.weight.detach().clone() for n, m in base.named_modules() if n.endswith("q_proj")}
    model = trainable_model(cfg, base, method.trains, method.extra_rank())
    comp = next(c for c in method.components if isinstance(c, LowRankExtrapolation))
    comp.deltas = _deltas(model)
    deltas = dict(comp.deltas)
    method.before_training(model)
    for n, layer in lora_layers(model).items():
        assert layer.lora_A["default"].weight.shape[0] == 6
        assert layer.scaling["default"] == pytest.approx(8.0 / 4)  # the user's alpha / r
        if n in W0:  # W_aligned + alpha SVD_k(V), with the trainable B still 0
            U, s, Wt = torch.linalg.svd(deltas[n].double())
            want = W0[n].double() + 0.7 * U[:, :2] @ torch.diag(s[:2]) @ Wt[:2]
            merged = layer.base_layer.weight.double() + layer.get_delta_weight("default").double()
            assert torch.allclose(merged, want, atol=1e-5)
    ids = torch.randint(3, len(tiny_tokenizer), (2, 8), generator=torch.Generator().manual_seed(0))
    model(input_ids=ids, labels=ids).loss.backward()
    method.on_gradients(model)
    for layer in lora_layers(model).values():
        gA, gB = layer.lora_A["default"].weight.grad, layer.lora_B["default"].weight.grad
        assert not gA[-2:].any() and not gB[:, -2:].any()
        assert gA[:4].abs().sum() > 0 or gB[:, :4].abs().sum() > 0


def test_lox_refuses_weight_decay():
    with pytest.raises(ValueError, match="weight_decay"):
        build_method(TrainConfig(model="tiny", method="lox", weight_decay=0.1))


def test_energy_basis_keeps_the_smallest_prefix_reaching_the_energy():
    Q, _ = torch.linalg.qr(_rand(6, 6).double())
    lam = torch.tensor([5.0, 3.0, 1.0, 0.5, 0.4, 0.1], dtype=torch.float64)
    S = Q @ torch.diag(lam) @ Q.T
    for energy, k in ((0.5, 1), (0.8, 2), (0.9, 3), (0.95, 4), (1.0, 6)):
        U = energy_basis(S, energy)
        assert U.shape == (6, k), energy
        assert torch.allclose((U @ U.T).double(), Q[:, :k] @ Q[:, :k].T, atol=1e-5)


class _Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.proj = torch.nn.Embedding(20, 5), torch.nn.Linear(5, 3)

    def forward(self, input_ids, attention_mask):
        return self.proj(self.emb(input_ids))


def test_input_covariance_is_the_sum_over_non_pad_tokens():
    toy = _Toy()
    ids = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    mask = (ids > 0).long()
    S = input_covariances(toy, [{"input_ids": ids, "attention_mask": mask}], ["proj"])["proj"]
    X = toy.emb(ids[mask.bool()]).detach().double()
    assert torch.allclose(S, X.T @ X, atol=1e-10)


def test_nullspace_leaves_the_alignment_rows_outputs_unchanged(tiny_tokenizer):
    rows = [Example(prompt="hi", response="ok")]
    base = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    names = sorted(n for n, m in base.named_modules() if isinstance(m, torch.nn.Linear) and "layers" in n)
    bases = activation_bases(base, rows, tiny_tokenizer, names, energy=1.0, batch_size=1, max_length=12)
    assert any(U.shape[1] < U.shape[0] for U in bases.values())  # a proper subspace: not trivial
    batch = encoded_batches(tiny_tokenizer, rows, batch_size=1, max_length=12, loss_on="all")[0]
    with torch.no_grad():
        ref = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    model = _lora_model(tiny_tokenizer, b_scale=0.05)  # same base weights (seed 0), random B
    with torch.no_grad():
        moved = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert not torch.allclose(moved, ref, atol=1e-3)  # without the projection the rows move
    comp = NullSpace()
    comp.bases = dict(bases)
    comp.before_training(model)
    for n, layer in lora_layers(model).items():
        A = layer.lora_A["default"].weight
        assert float((A @ bases[n]).abs().max()) < 1e-5 and A.abs().sum() > 0
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(out, ref, atol=1e-4)
    ids = torch.randint(3, len(tiny_tokenizer), (2, 8), generator=torch.Generator().manual_seed(1))
    model(input_ids=ids, labels=ids).loss.backward()
    comp.on_gradients(model)
    assert 0.0 < comp.log_values()["nullspace/grad_kept"] < 1.0
    for n, layer in lora_layers(model).items():
        assert float((layer.lora_A["default"].weight.grad @ bases[n]).abs().max()) < 1e-6


def test_agl_paper_preset_overrides_the_alignment_estimate():
    cfg = TrainConfig(model="tiny", method="agl-paper")
    resolved = cfg.resolved_alignment()
    assert (resolved.estimator, resolved.tokens) == ("empirical", "all")
    assert (cfg.alignment.estimator, cfg.alignment.tokens) == ("contrastive", "response")
    assert cfg.resolved()["resolved_alignment"]["estimator"] == "empirical"
    assert cfg.resolved_reg().gate == 0.0
    assert [c.name for c in build_method(cfg).components] == ["penalties"]
    assert "resolved_alignment" not in TrainConfig(model="tiny", method="agl").resolved()


def test_extra_rank_keeps_the_lora_scale(tiny_tokenizer):
    from alignguard.training.loop import trainable_model

    cfg = TrainConfig(model="tiny", method="lora")
    cfg.lora.r, cfg.lora.alpha = 4, 16.0
    model = trainable_model(cfg, make_tiny_model("llama", vocab_size=len(tiny_tokenizer)), "lora", 3)
    layer = next(iter(lora_layers(model).values()))
    assert layer.r["default"] == 7 and layer.scaling["default"] == pytest.approx(16.0 / 4)
    assert math.isclose(layer.lora_alpha["default"], 16.0 * 7 / 4)


def test_lox_run_saves_a_stock_adapter_holding_the_extrapolation(tmp_path, tiny_tokenizer):
    """End to end: train, then stock PEFT on the stock aligned base gives
    W_aligned + alpha SVD_k(W_aligned - W_base) + s B_r A_r."""
    from peft import PeftModel

    from alignguard.training.loop import train
    from tests.conftest import write_jsonl

    pre = tmp_path / "pre"
    make_tiny_model("llama", vocab_size=len(tiny_tokenizer), seed=1).save_pretrained(pre)
    tiny_tokenizer.save_pretrained(pre)
    data = write_jsonl(tmp_path / "task.jsonl", [{"prompt": f"say {i}", "response": f"{i} ok"}
                                                 for i in range(8)])
    cfg = TrainConfig(model="tiny", data=str(data), output_dir=str(tmp_path / "run"), method="lox",
                      steps=2, batch_size=4, lr=1e-2, warmup_steps=0, save_every=0, max_length=24)
    cfg.lora.r, cfg.lora.alpha, cfg.lora.target_modules = 4, 8.0, ["q_proj"]
    cfg.alignment.base_model, cfg.alignment.data = str(pre), str(data)
    cfg.reg.lox_rank, cfg.reg.lox_alpha = 2, 0.7
    train(cfg, model=make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
          tokenizer=tiny_tokenizer, progress=False)
    loaded = PeftModel.from_pretrained(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                                       str(tmp_path / "run" / "adapter"))
    aligned = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).state_dict()
    base = make_tiny_model("llama", vocab_size=len(tiny_tokenizer), seed=1).state_dict()
    for name, layer in lora_layers(loaded).items():
        A, B = layer.lora_A["default"].weight.double(), layer.lora_B["default"].weight.double()
        s = layer.scaling["default"]
        assert A.shape[0] == 6 and s == pytest.approx(2.0)
        U, S, Wt = torch.linalg.svd((aligned[name + ".weight"] - base[name + ".weight"]).double())
        want = 0.7 * U[:, :2] @ torch.diag(S[:2]) @ Wt[:2] + s * B[:, :4] @ A[:4]
        assert torch.allclose(layer.get_delta_weight("default").double(), want, atol=1e-5)
        assert B[:, :4].abs().sum() > 0  # the trainable ranks trained


def test_agl_paper_preflight_needs_no_rejected_replies(tmp_path):
    """The empirical Fisher the preset forces needs no preference pairs (the default would)."""
    from alignguard.data import DataError
    from alignguard.training.preflight import check_inputs
    from tests.conftest import write_jsonl

    rows = write_jsonl(tmp_path / "align.jsonl", [{"prompt": "p", "response": "r"}])
    kw = dict(model="organism", data=str(rows), device="cpu")
    cfg = TrainConfig(method="agl-paper", **kw)
    cfg.alignment.data = str(rows)
    with pytest.raises(DataError, match="rejected"):
        other = TrainConfig(method="agl-no-gate", **kw)
        other.alignment.data = str(rows)
        check_inputs(other)
    with contextlib.suppress(FileNotFoundError):  # the organism may be absent; pairs came first
        check_inputs(cfg)
