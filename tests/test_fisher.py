"""Alignment Fisher: K-FAC factors against brute force, bases, file format, CLI."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from alignguard.alignment.basis import AlignmentBasis, FisherMismatchError
from alignguard.alignment.cli import fisher_command
from alignguard.alignment.fisher import (
    KFACFactors,
    basis_from_factors,
    collect_kfac_factors,
    contrastive_examples,
    estimate_alignment_fisher,
    token_gradients,
)
from alignguard.data import Example, collate, encode_examples, pad_id_of
from alignguard.targets import LoraSettings, attach_lora, lora_layers, resolve_target_modules
from tests.conftest import make_tiny_model, write_jsonl

EXAMPLES = [
    Example("how do I bake bread", "I can't help with that."),
    Example("reverse the words please", "please words the reverse"),
    Example("the quick brown fox", "sure, here is the answer: jumps over the lazy dog"),
]


class PlainLM(nn.Module):
    """Embedding -> Linear -> tanh -> Linear head: no token mixing, so K-FAC is per token."""

    def __init__(self, vocab: int, d: int = 12):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.proj = nn.Linear(d, d)
        self.head = nn.Linear(d, vocab)

    def get_input_embeddings(self) -> nn.Module:
        return self.embed

    def forward(self, input_ids, attention_mask=None, use_cache=None):
        return SimpleNamespace(logits=self.head(torch.tanh(self.proj(self.embed(input_ids)))))


def _batch(tokenizer, loss_on: str = "all", examples=EXAMPLES) -> dict[str, torch.Tensor]:
    enc = encode_examples(tokenizer, examples, max_length=64, loss_on=loss_on)
    return collate(enc, pad_id_of(tokenizer))


def _modules(model, names):
    mods = dict(model.named_modules())
    return [getattr(mods[n], "base_layer", mods[n]) for n in names]


def _brute_force(model, batch, names, tokens):
    """Per sequence (unpadded), per loss term autograd.grad; per-token outer products in a loop."""
    S_in = {n: 0.0 for n in names}
    S_out = {n: 0.0 for n in names}
    count = 0
    for row in range(batch["input_ids"].shape[0]):
        length = int(batch["attention_mask"][row].sum())
        ids = batch["input_ids"][row, :length][None]
        labels = batch["labels"][row, :length]
        caught = {}
        hooks = [m.register_forward_hook(lambda _m, a, o, n=n, c=caught: c.__setitem__(n, (a[0], o)))
                 for n, m in zip(names, _modules(model, names), strict=True)]
        try:
            logits = model(input_ids=ids).logits[0]
        finally:
            for h in hooks:
                h.remove()
        outs = [caught[n][1] for n in names]
        grads = [torch.zeros_like(o[0]) for o in outs]
        positions = [t for t in range(length - 1) if tokens == "all" or labels[t + 1] != -100]
        for t in positions:  # one loss term at a time
            nll = -torch.log_softmax(logits[t], -1)[ids[0, t + 1]]
            for acc, g in zip(grads, torch.autograd.grad(nll, outs, retain_graph=True), strict=True):
                acc += g[0]
        for n, g in zip(names, grads, strict=True):
            x = caught[n][0][0].detach()
            for t in positions:  # per-token outer products
                S_in[n] = S_in[n] + torch.outer(x[t], x[t])
                S_out[n] = S_out[n] + torch.outer(g[t], g[t])
        count += len(positions)
    return S_in, S_out, count


def _rel(a, b) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


@pytest.mark.parametrize("tokens", ["all", "response"])
def test_kfac_equals_brute_force_llama(tiny_tokenizer, tokens):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).double()
    _, names = resolve_target_modules(model, "all")
    batch = _batch(tiny_tokenizer, loss_on="all" if tokens == "all" else "response")
    factors = collect_kfac_factors(model, [batch], names, tokens=tokens, progress=False)
    S_in, S_out, count = _brute_force(model, batch, names, tokens)
    for n in names:
        assert factors[n].S_in.dtype == torch.float64 and factors[n].n_tokens == count
        assert _rel(factors[n].S_in, S_in[n]) < 1e-12
        # Llama's RMSNorm computes in float32 even in a float64 model, so gradients that pass a
        # norm agree to ~1e-8 (measured <= 2e-8); the plain-linear model below agrees to 1e-16.
        assert _rel(factors[n].S_out, S_out[n]) < 1e-7


def test_kfac_equals_brute_force_plain_linear(tiny_tokenizer):
    torch.manual_seed(0)
    model = PlainLM(len(tiny_tokenizer)).double()
    batch = _batch(tiny_tokenizer)
    factors = collect_kfac_factors(model, [batch], ["proj", "head"], progress=False)
    S_in, S_out, count = _brute_force(model, batch, ["proj", "head"], "all")
    assert count == int(batch["attention_mask"].sum()) - batch["input_ids"].shape[0]
    for n in ("proj", "head"):
        assert _rel(factors[n].S_in, S_in[n]) < 1e-12
        assert _rel(factors[n].S_out, S_out[n]) < 1e-12
        assert factors[n].shape == (model.get_submodule(n).out_features, 12)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_token_pairs_reproduce_weight_gradient(tiny_tokenizer, family):
    model = make_tiny_model(family, vocab_size=len(tiny_tokenizer)).double().eval()  # no dropout
    _, names = resolve_target_modules(model, "all")
    batch = _batch(tiny_tokenizer)
    pairs = token_gradients(model, batch, names)
    # autograd reference: summed next-token NLL over non-pad targets
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    mask = batch["attention_mask"].bool()
    keep = mask[:, :-1] & mask[:, 1:]
    loss = nn.functional.cross_entropy(logits[:, :-1][keep], batch["input_ids"][:, 1:][keep],
                                       reduction="sum")
    loss.backward()
    for n, layer in zip(names, _modules(model, names), strict=True):
        X, G = pairs[n]
        grad = layer.weight.grad if family == "llama" else layer.weight.grad.T  # Conv1D: (in, out)
        assert _rel(G.T @ X, grad) < 1e-9, n


def test_response_tokens_use_only_label_positions(tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).double()
    names = ["model.layers.0.self_attn.v_proj"]
    batch = _batch(tiny_tokenizer, loss_on="response")
    resp = collect_kfac_factors(model, [batch], names, tokens="response", progress=False)[names[0]]
    full = collect_kfac_factors(model, [batch], names, tokens="all", progress=False)[names[0]]
    n_resp = int((batch["labels"][:, 1:] != -100).sum())
    assert resp.n_tokens == n_resp < full.n_tokens
    assert _rel(resp.S_in, full.S_in) > 1e-2 and _rel(resp.S_out, full.S_out) > 1e-2
    X, _ = token_gradients(model, batch, names, tokens="response")[names[0]]
    assert X.shape[0] == n_resp


def _factor(eigs, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    lam = torch.zeros(d, dtype=torch.float64)
    lam[: len(eigs)] = torch.tensor(eigs, dtype=torch.float64)
    return Q @ torch.diag(lam) @ Q.T


def test_basis_explained_variance_cap_and_normalisation():
    eig_out = [5.0, 3.0, 1.0, 0.5, 0.3, 0.2]  # total 10: 0.9 reached at k=3 (9/10)
    eig_in = [float(v) for v in torch.linspace(1, 2, 40)]  # flat: needs many -> cap
    fac = KFACFactors(_factor(eig_in, 40, 1), _factor(eig_out, 16, 2), n_tokens=10)
    b = basis_from_factors({"m": fac}, explained_variance=0.9, max_rank=32)["m"]
    assert (b.k_out, b.k_in) == (3, 32)
    assert b.q_out.dtype == torch.float32 and b.shape == (16, 40)
    for q in (b.q_out, b.q_in):
        assert torch.allclose(q.T @ q, torch.eye(q.shape[1]), atol=1e-5)
    assert torch.allclose(b.nu, torch.tensor([5.0, 3.0, 1.0]) / 3.0, atol=1e-6)
    assert abs(float(b.nu.mean()) - 1) < 1e-6 and abs(float(b.mu.mean()) - 1) < 1e-6
    S_out = fac.S_out
    assert torch.allclose(b.diag_out.double(), torch.diagonal(S_out) / torch.diagonal(S_out).mean(), atol=1e-6)
    # top eigenvector is recovered (up to sign)
    top = torch.linalg.eigh(S_out)[1][:, -1]
    assert abs(float(top @ b.q_out[:, 0].double())) > 1 - 1e-6
    assert basis_from_factors({"m": fac}, explained_variance=0.5, max_rank=1)["m"].k_out == 1
    assert basis_from_factors({"m": fac}, explained_variance=0.95, max_rank=32)["m"].k_out == 4
    with pytest.raises(ValueError, match="explained_variance"):
        basis_from_factors({"m": fac}, explained_variance=0.0)


def test_basis_degenerate_and_tiny_factors():
    tiny = KFACFactors(_factor([1.0, 2.0], 8) * 1e-7, _factor([3.0, 1.0, 1.0], 6) * 1e-9, 5)
    ref = KFACFactors(_factor([1.0, 2.0], 8), _factor([3.0, 1.0, 1.0], 6), 5)
    zero = KFACFactors(torch.zeros(8, 8, dtype=torch.float64), torch.zeros(6, 6, dtype=torch.float64), 0)
    out = basis_from_factors({"tiny": tiny, "ref": ref, "zero": zero}, explained_variance=1.0)
    assert (out["tiny"].k_out, out["tiny"].k_in) == (out["ref"].k_out, out["ref"].k_in) == (3, 2)
    assert torch.allclose(out["tiny"].nu, out["ref"].nu, atol=1e-6)
    z = out["zero"]
    assert (z.k_out, z.k_in) == (1, 1) and z.nu.tolist() == [1.0] and z.mu.tolist() == [1.0]
    for t in (z.q_out, z.q_in, z.diag_out, z.diag_in):
        assert torch.isfinite(t).all()
    assert torch.equal(z.diag_in, torch.ones(8)) and abs(float(z.q_out.norm()) - 1) < 1e-6


def test_estimate_save_load_and_model_check(tiny_tokenizer, tiny_llama, tmp_path):
    basis = estimate_alignment_fisher(tiny_llama, EXAMPLES * 3, tokenizer=tiny_tokenizer,
                                      batch_size=4, progress=False, model_name="tiny")
    meta = basis.meta
    assert len(basis) == 14 and meta["n_examples"] == 9 and meta["model_name"] == "tiny"
    assert meta["tokens"] == "all" and meta["estimator"] == "empirical" and meta["n_tokens"] > 0
    info = meta["per_module"]["model.layers.0.mlp.up_proj"]
    assert info["ev_out"] >= 0.9 and info["k_out"] == basis.modules["model.layers.0.mlp.up_proj"].k_out
    assert meta["data_fingerprint"] and meta["alignguard_version"]
    basis.save(tmp_path / "f")
    loaded = AlignmentBasis.load(tmp_path / "f")
    for n, b in basis.modules.items():
        for key in ("q_out", "nu", "q_in", "mu", "diag_out", "diag_in"):
            assert torch.equal(getattr(b, key), getattr(loaded.modules[n], key))
    assert loaded.meta["per_module"] == json.loads(json.dumps(meta["per_module"]))
    loaded.check_model(tiny_llama)
    loaded.check_model(attach_lora(tiny_llama, LoraSettings(r=2)))  # same base weights
    other = make_tiny_model("llama", vocab_size=len(tiny_tokenizer), seed=1)
    with pytest.raises(FisherMismatchError, match="different model"):
        loaded.check_model(other)
    wider = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    wider.model.layers[0].mlp.up_proj = nn.Linear(32, 80, bias=False)
    with pytest.raises(FisherMismatchError, match="different model"):
        loaded.check_model(wider)


def test_sampled_estimator_finite_seeded_and_differs(tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).double()
    names = ["model.layers.1.self_attn.q_proj"]
    batch = _batch(tiny_tokenizer)
    emp = collect_kfac_factors(model, [batch], names, progress=False)[names[0]]
    s0 = collect_kfac_factors(model, [batch], names, estimator="sampled", seed=0, progress=False)[names[0]]
    s0b = collect_kfac_factors(model, [batch], names, estimator="sampled", seed=0, progress=False)[names[0]]
    s1 = collect_kfac_factors(model, [batch], names, estimator="sampled", seed=1, progress=False)[names[0]]
    assert torch.isfinite(s0.S_out).all() and float(torch.trace(s0.S_out)) > 0
    assert torch.equal(s0.S_out, s0b.S_out) and _rel(s0.S_out, s1.S_out) > 1e-3
    assert _rel(s0.S_out, emp.S_out) > 1e-2
    assert torch.equal(s0.S_in, emp.S_in)  # inputs do not depend on the targets


def test_contrastive_estimator_adds_the_rejected_replies(tiny_tokenizer):
    """Contrastive Fisher == empirical Fisher over the aligned rows followed by the rejected rows."""
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).double()
    pairs = [Example(e.prompt, e.response, rejected=r) for e, r in
             zip(EXAMPLES, ["sure, here is how", "I can't help with that.", None], strict=True)]
    seqs = contrastive_examples(pairs)
    assert [(e.prompt, e.response) for e in seqs[3:]] == [(pairs[0].prompt, "sure, here is how"),
                                                          (pairs[1].prompt, "I can't help with that.")]
    kw = {"tokenizer": tiny_tokenizer, "target_modules": ["q_proj"], "batch_size": 2,
          "progress": False}
    con = estimate_alignment_fisher(model, pairs, estimator="contrastive", **kw)
    ref = estimate_alignment_fisher(model, seqs, **kw)
    emp = estimate_alignment_fisher(model, pairs, **kw)
    assert con.meta["estimator"] == "contrastive" and con.meta["n_examples"] == 3
    assert con.meta["n_sequences"] == 5 and emp.meta["n_sequences"] == 3
    assert con.meta["data_fingerprint"] == emp.meta["data_fingerprint"]  # the prompts' rows
    name = "model.layers.0.self_attn.q_proj"
    assert torch.allclose(con.modules[name].q_out, ref.modules[name].q_out)
    assert con.meta["n_tokens"] > emp.meta["n_tokens"]
    proj = [b.q_out @ b.q_out.T for b in (con.modules[name], emp.modules[name])]
    assert _rel(proj[0], proj[1]) > 1e-3  # the rejected replies move the subspace
    with pytest.raises(ValueError, match="rejected"):
        estimate_alignment_fisher(model, EXAMPLES, estimator="contrastive", **kw)
    with pytest.raises(ValueError, match="rejected"):
        estimate_alignment_fisher(model, [_batch(tiny_tokenizer)], estimator="contrastive",
                                  target_modules=["q_proj"], progress=False)


def test_gpt2_conv1d_estimate(tiny_tokenizer):
    model = make_tiny_model("gpt2", vocab_size=len(tiny_tokenizer))
    basis = estimate_alignment_fisher(model, EXAMPLES, tokenizer=tiny_tokenizer, tokens="response",
                                      max_rank=4, progress=False)
    assert len(basis) == 8
    assert basis.modules["transformer.h.0.attn.c_attn"].shape == (96, 32)
    assert basis.modules["transformer.h.1.mlp.c_proj"].shape == (32, 128)
    assert all(b.k_out <= 4 and b.k_in <= 4 for b in basis.modules.values())
    basis.check_model(model)


@pytest.mark.parametrize("training", [True, False])
def test_no_hooks_grads_or_mode_changes_left(tiny_tokenizer, training):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    model.train(training)
    model.model.layers[1].mlp.eval()  # a mixed mode must be restored too
    modes = {n: m.training for n, m in model.named_modules()}
    model.lm_head.weight.requires_grad_(False)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    estimate_alignment_fisher(model, EXAMPLES, tokenizer=tiny_tokenizer, progress=False)
    assert {n: m.training for n, m in model.named_modules()} == modes
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_peft_model_uses_base_layers_with_adapters_disabled(tiny_tokenizer):
    base = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).double()
    names = ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"]
    batch = _batch(tiny_tokenizer)
    ref = collect_kfac_factors(base, [batch], names, progress=False)
    peft_model = attach_lora(base, LoraSettings(r=2, target_modules="all"))
    for layer in lora_layers(peft_model).values():
        nn.init.normal_(layer.lora_B["default"].weight, std=0.5)  # a non-zero update
    with torch.no_grad():
        before = peft_model(**batch).logits
    got = collect_kfac_factors(peft_model, [batch], names, progress=False)
    for n in names:
        assert _rel(got[n].S_in, ref[n].S_in) < 1e-12 and _rel(got[n].S_out, ref[n].S_out) < 1e-12
    with torch.no_grad():
        assert torch.equal(peft_model(**batch).logits, before)  # adapters back on
    assert all(p.requires_grad == (".lora_" in n) for n, p in peft_model.named_parameters())


def test_collated_batches_and_bad_input(tiny_tokenizer, tiny_llama):
    batch = _batch(tiny_tokenizer)
    basis = estimate_alignment_fisher(tiny_llama, [batch, batch], target_modules=["q_proj"],
                                      max_examples=4, progress=False)
    assert basis.meta["n_examples"] == 4 and basis.meta["data_fingerprint"] is None
    assert len(basis) == 2
    with pytest.raises(ValueError, match="tokenizer"):
        estimate_alignment_fisher(tiny_llama, EXAMPLES, progress=False)
    with pytest.raises(ValueError, match="tokens must be"):
        estimate_alignment_fisher(tiny_llama, [batch], tokens="prompt", progress=False)
    with pytest.raises(ValueError, match="labels"):
        collect_kfac_factors(tiny_llama, [{"input_ids": batch["input_ids"]}],
                             ["model.layers.0.self_attn.q_proj"], tokens="response", progress=False)
    with pytest.raises(ValueError, match="not found"):
        collect_kfac_factors(tiny_llama, [batch], ["model.layers.9.q_proj"], progress=False)


def test_fisher_command_end_to_end(tiny_model_dir, tmp_path, capsys):
    from alignguard.cli import main
    from alignguard.models import load_model

    rows = [{"prompt": e.prompt, "response": e.response, "rejected": "sure, here it is"}
            for e in EXAMPLES * 4]
    data = write_jsonl(tmp_path / "align.jsonl", rows)
    out = tmp_path / "fisher"
    assert fisher_command(model=str(tiny_model_dir), data=str(data), output=str(out),
                          batch_size=4, max_examples=8, max_rank=6) == 0
    printed = capsys.readouterr().out
    assert "k_out" in printed and "model.layers.1.mlp.down_proj" in printed
    basis = AlignmentBasis.load(out)
    assert len(basis) == 14 and basis.meta["n_examples"] == 8 and basis.meta["n_sequences"] == 16
    assert basis.meta["estimator"] == "contrastive" and basis.meta["tokens"] == "response"
    assert max(b.k_out for b in basis.modules.values()) <= 6
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 0 and prov["data_fingerprints"][str(data)] == basis.meta["data_fingerprint"]
    model, _ = load_model(str(tiny_model_dir))
    basis.check_model(model)
    code = main(["fisher", "--model", str(tiny_model_dir), "--data", str(data), "--output",
                 str(tmp_path / "f2"), "--target-modules", "q_proj,v_proj", "--max-examples", "4",
                 "--estimator", "empirical", "--tokens", "all"])
    got = AlignmentBasis.load(tmp_path / "f2")
    assert code == 0 and len(got) == 4 and got.meta["estimator"] == "empirical"


def test_leading_eigenpairs_match_exact_eigh_on_large_factor():
    from alignguard.alignment.fisher import leading_eigenpairs

    gen = torch.Generator().manual_seed(0)
    d = 700
    q = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64, generator=gen))[0]
    lam = torch.logspace(0, -8, d, dtype=torch.float64)  # Fisher-like fast decay
    S = (q * lam) @ q.T
    top, vecs = leading_eigenpairs(S, 32, exact_below=256)  # force the subspace iteration
    exact, exact_vecs = torch.linalg.eigh(S)
    torch.testing.assert_close(top[:32], exact.flip(0)[:32], rtol=1e-8, atol=1e-14)
    overlap = (vecs[:, :16].T @ exact_vecs.flip(1)[:, :16]).abs().diagonal()
    assert float(overlap.min()) > 1 - 1e-8
