"""Regularizer terms vs dense float64 references, grouping, gradients, registry and checks."""

from __future__ import annotations

import pytest
import torch

from alignguard.alignment.basis import (
    AlignmentBasis,
    FisherMismatchError,
    ModuleBasis,
    model_fingerprint,
    module_digests,
)
from alignguard.regularizers import (
    REGULARIZERS,
    GeometryLayout,
    RegularizerConfig,
    Term,
    build_terms,
    register,
)
from alignguard.targets import LoraFactors, LoraSettings, attach_lora, lora_factors

F64 = torch.float64
TERMS = ["fisher", "task", "riemannian", "geodesic", "collision", "ewc", "cosine", "update_norm"]


# ----------------------------------------------------------------------------- helpers
def orthonormal(d: int, k: int, gen: torch.Generator) -> torch.Tensor:
    return torch.linalg.qr(torch.randn(d, k, generator=gen, dtype=F64))[0]


def positive(n: int, gen: torch.Generator) -> torch.Tensor:
    v = torch.rand(n, generator=gen, dtype=F64) + 0.1
    return v / v.mean()


def random_basis(shapes: dict[str, tuple[int, int, int, int]], seed: int = 0) -> AlignmentBasis:
    """name -> (d_out, d_in, k_o, k_i)."""
    gen = torch.Generator().manual_seed(seed)
    mods = {
        n: ModuleBasis(orthonormal(do, ko, gen), positive(ko, gen), orthonormal(di, ki, gen),
                       positive(ki, gen), positive(do, gen), positive(di, gen))
        for n, (do, di, ko, ki) in shapes.items()
    }
    return AlignmentBasis(mods)


def random_factors(shapes: dict[str, tuple[int, int, int]], seed: int = 1,
                   zero_b: bool = False) -> dict[str, LoraFactors]:
    """name -> (d_out, d_in, r); leaf tensors requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for i, (n, (do, di, r)) in enumerate(shapes.items()):
        A = torch.randn(r, di, generator=gen, dtype=F64) / di**0.5
        B = torch.zeros(do, r, dtype=F64) if zero_b else torch.randn(do, r, generator=gen, dtype=F64)
        out[n] = LoraFactors(A.requires_grad_(), B.requires_grad_(), scale=1.5 + 0.25 * i)
    return out


MIXED = {  # (d_out, d_in, r, k_o, k_i): two shape groups, unequal k inside a group
    "l0.q": (12, 10, 3, 4, 5), "l1.q": (12, 10, 3, 2, 6), "l0.k": (6, 10, 3, 3, 2),
    "l1.k": (6, 10, 3, 5, 4), "l0.up": (14, 10, 2, 6, 3),
}


def setup(shapes=MIXED, zero_b=False, seed=1):
    factors = random_factors({n: v[:3] for n, v in shapes.items()}, seed=seed, zero_b=zero_b)
    basis = random_basis({n: (v[0], v[1], v[3], v[4]) for n, v in shapes.items()})
    w0 = {n: 3.0 + i for i, n in enumerate(shapes)}
    return factors, basis, w0


def dense_module(f: LoraFactors, mb: ModuleBasis, w0: float, cfg: RegularizerConfig) -> dict:
    """Every term of one module from explicit dense float64 matrices (the spec's formulas)."""
    dW = f.scale * f.B.detach() @ f.A.detach()
    Qo, Qi = mb.q_out, mb.q_in
    dWA = Qo @ Qo.T @ dW @ Qi @ Qi.T
    dWT = dW - dWA
    C = Qo.T @ dW @ Qi
    d_out, d_in = dW.shape
    r = f.A.shape[0]
    N = {"weight": w0, "element": d_out * d_in, "none": 1.0}[cfg.norm]

    def overlap(X, Q, d):  # per-factor whitening X (X^T X + eps d I)^(-1/2)
        ev, vec = torch.linalg.eigh(X.T @ X + cfg.geo_eps * d * torch.eye(r, dtype=F64))
        U = X @ vec @ torch.diag(ev.rsqrt()) @ vec.T
        return (Q.T @ U).square().sum() / min(r, Q.shape[1])

    if cfg.geo_form == "grassmann_factors":
        geo = 0.5 * (overlap(f.B.detach(), Qo, d_out) + overlap(f.A.detach().T, Qi, d_in))
    else:  # singular spaces of dW, each direction weighted sigma^2 / (sigma^2 + eps d_out d_in)
        U, sig, Vh = torch.linalg.svd(dW, full_matrices=False)
        w = sig.square() / (sig.square() + cfg.geo_eps * d_out * d_in)
        geo = 0.5 * (((Qo.T @ U).square() @ w).sum() / min(r, Qo.shape[1])
                     + ((Qi.T @ Vh.T).square() @ w).sum() / min(r, Qi.shape[1]))
    inner = (dWA * dWT).sum()
    nA, nT = dWA.square().sum(), dWT.square().sum()
    cosine = inner**2 / (nA * nT)
    msq = dW.square().mean() + cfg.riem_eps
    if cfg.riem_weight == "fisher_diag":
        eta = mb.diag_out[:, None] * mb.diag_in[None, :]
    else:
        z = dW.abs() / (msq.sqrt() if cfg.riem_norm == "energy" else 1.0)
        eta = 1 + cfg.riem_beta * torch.sigmoid((z - cfg.riem_tau) / cfg.riem_temp)
    riem = (eta * (dWA * dWT).abs()).mean()
    if cfg.riem_norm == "energy":
        riem = riem / msq
    geodesic = cosine if cfg.geo_form == "cosine" else geo
    return {
        "fisher": (mb.nu[:, None] * mb.mu[None, :] * C.square()).sum() / N,
        "task": nT / N,
        "ewc": (mb.diag_out[:, None] * mb.diag_in[None, :] * dW.square()).sum() / N,
        "update_norm": dW.square().sum() / N,
        "geodesic": geodesic, "cosine": cosine, "riemannian": riem,
        "collision": cfg.alpha * riem + (1 - cfg.alpha) * geodesic,
    }


def dense_all(factors, basis, w0, cfg) -> dict[str, float]:
    per = [dense_module(factors[n], basis.modules[n], w0[n], cfg) for n in factors]
    red = (lambda xs: sum(xs) / len(xs)) if cfg.reduction == "mean" else sum
    return {t: float(red([p[t] for p in per])) for t in TERMS}


def evaluate(layout: GeometryLayout, cfg: RegularizerConfig) -> dict[str, torch.Tensor]:
    geom = layout.geometry()
    return {t.name: t.fn(geom) for t in build_terms(cfg)}


def tiny_peft(seed: int = 0, r: int = 4):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2)
    return attach_lora(LlamaForCausalLM(cfg), LoraSettings(r=r, alpha=8.0, init_seed=seed))


def basis_for(model, seed: int = 0, k: int = 3) -> AlignmentBasis:
    shapes = {n: (f.B.shape[0], f.A.shape[1], k, k + 1) for n, f in lora_factors(model).items()}
    basis = random_basis(shapes, seed)
    basis.meta["model_fingerprint"] = model_fingerprint(model, sorted(shapes))
    basis.meta["module_fingerprints"] = module_digests(model, sorted(shapes))
    return basis


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"norm": "element", "reduction": "sum", "riem_weight": "fisher_diag"},
        {"norm": "none", "riem_norm": "none", "riem_tau": 0.0, "riem_temp": 1.0, "alpha": 0.3},
        {"geo_form": "cosine", "riem_sample": 0, "riem_chunk": 200},
        {"geo_form": "grassmann_factors", "geo_eps": 1e-3},
        {"geo_eps": 1e-2},
    ],
)
def test_terms_match_dense_float64_reference(opts):
    factors, basis, w0 = setup()
    cfg = RegularizerConfig(**{"riem_sample": 1000, **opts})  # 1000 >= d: the exact block
    got = evaluate(GeometryLayout.from_factors(factors, basis, w0), cfg)
    want = dense_all(factors, basis, w0, cfg)
    for name in TERMS:
        if name == "cosine" or (name in ("geodesic", "collision") and cfg.geo_form == "cosine"):
            continue  # ~0 on both sides: relative error is meaningless, checked below
        assert want[name] > 0, name
        rel = abs(got[name].item() - want[name]) / want[name]
        assert rel < 1e-5, (name, float(got[name]), want[name])
    assert abs(float(got["cosine"])) < 1e-12 and abs(want["cosine"]) < 1e-12


def test_literal_cosine_is_zero_but_not_identically_so():
    factors, basis, w0 = setup()
    cfg = RegularizerConfig()
    layout = GeometryLayout.from_factors(factors, basis, w0)
    assert abs(float(evaluate(layout, cfg)["cosine"])) < 1e-12
    # The factored cosine uses Q^T Q, so it detects a basis that is not orthonormal.
    for spec in layout.groups:
        spec.gram_out = spec.gram_out * 1.1
    assert float(evaluate(layout, cfg)["cosine"]) > 1e-4


@pytest.mark.parametrize("riem_sample", [0, 4])
def test_all_terms_zero_and_finite_gradients_at_lora_init(riem_sample):
    factors, basis, w0 = setup(zero_b=True)
    layout = GeometryLayout.from_factors(factors, basis, w0)
    for geo_form in ("grassmann", "cosine"):
        cfg = RegularizerConfig(riem_sample=riem_sample, geo_form=geo_form)
        vals = evaluate(layout, cfg)
        assert all(float(v) == 0.0 for v in vals.values()), vals
        total = sum(v for v in vals.values() if v.requires_grad)
        grads = torch.autograd.grad(total, [t for f in factors.values() for t in (f.A, f.B)],
                                    allow_unused=True)
        assert all(g is None or torch.isfinite(g).all() for g in grads)


def test_grouped_computation_equals_per_module_loop():
    factors, basis, w0 = setup()
    cfg = RegularizerConfig(reduction="sum", riem_sample=0)
    layout = GeometryLayout.from_factors(factors, basis, w0)
    assert len(layout.groups) == 3 and layout.n_modules == 5
    grouped = evaluate(layout, cfg)
    params = [t for f in factors.values() for t in (f.A, f.B)]
    g_grad = torch.autograd.grad(sum(grouped.values()), params)
    single = {t: 0.0 for t in TERMS}
    for n in factors:
        one = evaluate(GeometryLayout.from_factors({n: factors[n]}, basis, w0), cfg)
        single = {t: single[t] + one[t] for t in TERMS}
    l_grad = torch.autograd.grad(sum(single.values()), params)
    for t in TERMS:
        assert torch.allclose(grouped[t], single[t], rtol=1e-10, atol=1e-14), t
    for a, b in zip(g_grad, l_grad, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_geodesic_is_one_inside_and_zero_disjoint():
    d_out, d_in, r, k = 20, 16, 3, 5
    basis = random_basis({"m": (d_out, d_in, k, k)}, seed=3)
    mb = basis.modules["m"]
    gen = torch.Generator().manual_seed(4)
    cfg = RegularizerConfig(geo_eps=1e-14)

    def geo(B, A):
        f = {"m": LoraFactors(A, B, 2.0)}
        return float(evaluate(GeometryLayout.from_factors(f, basis, {"m": 1.0}), cfg)["geodesic"])

    inside = geo(mb.q_out @ torch.randn(k, r, generator=gen, dtype=F64),
                 torch.randn(r, k, generator=gen, dtype=F64) @ mb.q_in.T)
    comp_o = torch.linalg.qr(torch.cat([mb.q_out, torch.randn(d_out, r, generator=gen, dtype=F64)], 1))[0][:, k:]
    comp_i = torch.linalg.qr(torch.cat([mb.q_in, torch.randn(d_in, r, generator=gen, dtype=F64)], 1))[0][:, k:]
    disjoint = geo(comp_o @ torch.randn(r, r, generator=gen, dtype=F64),
                   torch.randn(r, r, generator=gen, dtype=F64) @ comp_i.T)
    assert abs(inside - 1.0) < 1e-6 and abs(disjoint) < 1e-10


def test_build_terms_covers_registry_with_configured_weights():
    cfg = RegularizerConfig(lam_A=3.0, lam_D=1.5, lam_T=0.5, lam_NC=0.25, lam_ewc=2.0)
    terms = build_terms(cfg)
    assert [t.name for t in terms] == list(REGULARIZERS) and set(TERMS) <= set(REGULARIZERS)
    weights = {t.name: t.weight for t in terms}
    assert weights == {"fisher": 3.0, "directions": 1.5, "task": 0.5, "collision": 0.25, "ewc": 2.0,
                       "riemannian": 0.0, "geodesic": 0.0, "cosine": 0.0, "update_norm": 0.0}
    assert all(isinstance(t, Term) and t.fn.name == t.name for t in terms)

    @register("test_plugin")
    class Plugin:
        name = "test_plugin"
        needs_basis = False

        def __init__(self, cfg):
            pass

        def __call__(self, geom):
            return geom.reduce([g.dw_sq for g in geom.groups], "sum")

    try:
        terms = build_terms(RegularizerConfig(weights={"test_plugin": 0.7}))
        assert {t.name: t.weight for t in terms}["test_plugin"] == 0.7
        with pytest.raises(ValueError, match="already registered"):
            register("test_plugin")(Plugin)
        with pytest.raises(ValueError, match="unknown term"):
            build_terms(RegularizerConfig(weights={"nope": 1.0}))
    finally:
        REGULARIZERS.pop("test_plugin")


def test_without_basis_task_is_update_norm_and_weighted_basis_terms_error():
    factors, _, w0 = setup()
    layout = GeometryLayout.from_factors(factors, None, w0)
    vals = evaluate(layout, RegularizerConfig())
    assert float(vals["task"]) == float(vals["update_norm"]) > 0
    assert all(float(vals[t]) == 0 for t in ("fisher", "riemannian", "geodesic", "collision", "ewc"))
    with pytest.raises(ValueError, match="no alignment basis"):
        build_terms(RegularizerConfig(lam_A=1.0), layout)
    build_terms(RegularizerConfig(lam_A=0.0, lam_NC=0.0, lam_T=1.0), layout)  # basis-free: fine


def test_mismatched_basis_raises():
    factors, basis, w0 = setup()
    wrong = {n: (v[0] + 1, v[1], v[3], v[4]) for n, v in MIXED.items()}
    with pytest.raises(FisherMismatchError, match="does not fit"):
        GeometryLayout.from_factors(factors, random_basis(wrong), w0)
    partial = AlignmentBasis({n: b for n, b in basis.modules.items() if n != "l0.q"})
    with pytest.raises(FisherMismatchError, match="no entry"):
        GeometryLayout.from_factors(factors, partial, w0)
    model, other = tiny_peft(seed=0), tiny_peft(seed=1)
    GeometryLayout(model, basis_for(model))  # its own basis is accepted
    with pytest.raises(FisherMismatchError, match="different model"):
        GeometryLayout(model, basis_for(other))


def test_gradients_reach_only_lora_parameters():
    model = tiny_peft()
    with torch.no_grad():
        for f in lora_factors(model).values():
            f.B.normal_(0, 0.1)
    layout = GeometryLayout(model, basis_for(model))
    cfg = RegularizerConfig(lam_T=1.0, lam_NC=1.0, lam_ewc=1.0)
    geom = layout.geometry()
    total = sum(t.fn(geom) for t in build_terms(cfg, layout))
    total.backward()
    for name, p in model.named_parameters():
        if ".lora_A." in name or ".lora_B." in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_sampled_riemannian_is_unbiased():
    factors, basis, w0 = setup()
    layout = GeometryLayout.from_factors(factors, basis, w0, seed=5)
    term = next(t for t in build_terms(RegularizerConfig(riem_sample=0)) if t.name == "riemannian")
    exact = float(term.fn(layout.geometry()))
    sampled = next(t for t in build_terms(RegularizerConfig(riem_sample=4)) if t.name == "riemannian")
    with torch.no_grad():
        draws = torch.stack([sampled.fn(layout.geometry()) for _ in range(1500)])
    assert draws.std() > 0.05 * exact  # really sampled
    assert abs(float(draws.mean()) - exact) < 4 * float(draws.std()) / 1500**0.5


def test_exact_riemannian_chunking_keeps_value_and_gradient():
    factors, basis, w0 = setup()
    layout = GeometryLayout.from_factors(factors, basis, w0)
    params = [t for f in factors.values() for t in (f.A, f.B)]
    out = []
    for chunk in (1, 1 << 22):
        term = build_terms(RegularizerConfig(riem_sample=0, riem_chunk=chunk))[2]
        value = term.fn(layout.geometry())
        out.append((value, torch.autograd.grad(value, params)))
    assert torch.allclose(out[0][0], out[1][0], rtol=1e-12)
    assert all(torch.allclose(a, b, rtol=1e-10) for a, b in zip(out[0][1], out[1][1], strict=True))


def test_float32_model_and_config_validation():
    model = tiny_peft()
    layout = GeometryLayout(model, basis_for(model))
    vals = evaluate(layout, RegularizerConfig())
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in vals.values())
    for bad in ({"riem_weight": "x"}, {"alpha": 1.5}, {"lam_A": -1.0}, {"norm": "bogus"}):
        with pytest.raises(ValueError):
            RegularizerConfig(**bad)
