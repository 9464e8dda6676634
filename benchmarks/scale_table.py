"""Scale plan for AlignGuard-LoRA (arXiv 2508.02079): Fisher and regularizer cost at 1B/8B/70B.

Every number comes from the tensor shapes the implementation allocates (Llama-style models,
LoRA on q,k,v,o,gate,up,down; see docs/scale.md for the formulas):

* Fisher estimation (``alignguard.alignment.kfac``): one ``S_in`` (d_in x d_in) and one ``S_out``
  (d_out x d_out) float64 accumulator per module, all modules at once ("as implemented"); the
  same with float32 accumulators and one ``S_in`` per distinct input (q/k/v and gate/up share
  theirs; "shared fp32"); that per decoder layer ("per-layer streaming": one pass per layer); and
  a randomized sketch ``S @ Omega`` of width ``k + 32`` ("sketch"). Hook cost per token vs the
  forward + activation-backward pass of the frozen model.
* Stored basis (``fisher.safetensors``): ``Q_o``, ``Q_i`` (k <= 32), eigenvalues and diagonals.
* Per-step regularizers (``alignguard.regularizers``): constants the layout keeps on the device
  and the floating-point operations of L_A, L_T, E_geo and sampled E_riem (forward x 3 for
  forward + backward), vs a LoRA training step on ``tokens`` tokens.

``--measure`` also times the real objective (default ``RegularizerConfig``, all terms weighted)
forward + backward on this machine over every layer of each shape (random factors and bases).
Example::

    python benchmarks/scale_table.py --measure --threads 1 > runs/scale.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

# Llama-style shapes (hidden, intermediate, layers, heads, kv heads, head dim, vocab, tied).
SHAPES: dict[str, tuple[int, int, int, int, int, int, int, bool]] = {
    "SmolLM2-135M": (576, 1536, 30, 9, 3, 64, 49152, True),
    "Llama-3.2-1B": (2048, 8192, 16, 32, 8, 64, 128256, True),
    "Llama-3-8B": (4096, 14336, 32, 32, 8, 128, 128256, False),
    "Llama-3-70B": (8192, 28672, 80, 64, 8, 128, 128256, False),
}
# modules that read the same input tensor share S_in (one Gram per input in alignguard.alignment.kfac)
INPUTS = {"q_proj": "attn", "k_proj": "attn", "v_proj": "attn", "o_proj": "o",
          "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "down"}
GiB = 2.0**30


def layer_modules(name: str) -> dict[str, tuple[int, int]]:
    """``module -> (d_out, d_in)`` of one decoder layer."""
    h, inter, _, heads, kv, hd, _, _ = SHAPES[name]
    return {"q_proj": (heads * hd, h), "k_proj": (kv * hd, h), "v_proj": (kv * hd, h),
            "o_proj": (h, heads * hd), "gate_proj": (inter, h), "up_proj": (inter, h),
            "down_proj": (h, inter)}


def fisher_rows(name: str, k: int = 32, oversample: int = 32) -> dict[str, float]:
    """Memory (GiB) and cost of the Fisher factors of model ``name``."""
    mods = layer_modules(name)
    h, _, layers, _, _, _, vocab, _ = SHAPES[name]
    d_in_by_input = {INPUTS[m]: d_in for m, (_, d_in) in mods.items()}
    impl = sum(8 * (o * o + i * i) for o, i in mods.values())
    shared = 4 * sum(d * d for d in d_in_by_input.values()) + 4 * sum(o * o for o, _ in mods.values())
    sketch = sum(8 * (o + i) * (k + oversample) for o, i in mods.values())
    hook_flops = 2 * sum(d * d for d in d_in_by_input.values()) + 2 * sum(o * o for o, _ in mods.values())
    n_lin = sum(o * i for o, i in mods.values())
    model_flops = 4 * (n_lin * layers + vocab * h)  # forward + activation backward, per token
    eigh = 9.0 * sum(o**3 + i**3 for o, i in mods.values()) * layers  # float64 eigh with vectors
    # as implemented (alignguard.alignment.fisher.leading_eigenpairs): one decomposition per distinct factor,
    # eigh up to d = 1024, else <= 40 subspace iterations of width b = 2k + 16 (worst case)
    b = 2 * k + 16
    factor_dims = list(d_in_by_input.values()) + [o for o, _ in mods.values()]
    eig_impl = sum(9.0 * d**3 if d <= 1024 else 40 * (2 * d * d * b + 4 * d * b * b)
                   for d in factor_dims) * layers
    stored = 4 * sum(o * k + i * k + 2 * k + o + i for o, i in mods.values())
    return {"fisher_impl_gib": impl * layers / GiB, "fisher_shared_fp32_gib": shared * layers / GiB,
            "fisher_per_layer_gib": shared / GiB, "fisher_sketch_gib": sketch * layers / GiB,
            "hook_over_fwd_bwd": hook_flops * layers / model_flops, "eigh_tflop": eigh / 1e12,
            "eig_impl_tflop": eig_impl / 1e12,
            "basis_file_gib": stored * layers / GiB, "n_params_b": (n_lin * layers + vocab * h * (1 if SHAPES[name][7] else 2)) / 1e9}


def regularizer_rows(name: str, r: int = 16, k: int = 32, n: int = 64, tokens: int = 32768
                     ) -> dict[str, float]:
    """Per-step regularizer memory and flops vs a LoRA step on ``tokens`` tokens."""
    mods = layer_modules(name)
    h, _, layers, _, _, _, vocab, _ = SHAPES[name]
    const = sum(4 * (o * k + i * k + 3 * k * k + o + i) for o, i in mods.values())
    lora = sum(4 * r * (o + i) for o, i in mods.values())
    fwd = sum(2 * r * r * (o + i) + 2 * r * k * (o + i) + 2 * k * k * r  # Grams, Q^T B, A Q, C
              + 2 * n * n * r + 2 * n * k * k + 2 * n * n * k + 10 * n * n  # E_riem block
              + 8 * r**3 + 4 * k * r * r  # E_geo r x r solves
              for o, i in mods.values())
    reg_flops = 3 * fwd * layers
    n_lin = sum(o * i for o, i in mods.values()) * layers
    step_flops = tokens * (4 * (n_lin + vocab * h) + 6 * (lora // 4) * layers)
    return {"lora_params_m": lora * layers / 4 / 1e6, "reg_const_gib": const * layers / GiB,
            "reg_step_gib": 2 * lora * layers / GiB, "reg_gflop": reg_flops / 1e9,
            "step_tflop": step_flops / 1e12, "reg_over_step": reg_flops / step_flops}


def measure_model(name: str, r: int = 16, k: int = 32, repeats: int = 5) -> float:
    """Median seconds of the objective's penalty, forward + backward, over all layers of ``name``.

    Random LoRA factors (``B != 0``) and random orthonormal bases of rank ``k`` (one per module
    type, reused by every layer: values do not change the cost); default ``RegularizerConfig``.
    """
    from alignguard.alignment.basis import AlignmentBasis, ModuleBasis
    from alignguard.regularizers import GeometryLayout, RegularizerConfig, build_terms
    from alignguard.targets import LoraFactors

    gen = torch.Generator().manual_seed(0)
    lam = torch.linspace(2.0, 0.1, k)
    per_type = {}
    for mod, (o, i) in layer_modules(name).items():
        q_o = torch.linalg.qr(torch.randn(o, k, generator=gen))[0]
        q_i = torch.linalg.qr(torch.randn(i, k, generator=gen))[0]
        per_type[mod] = ModuleBasis(q_o, lam / lam.mean(), q_i, lam / lam.mean(), torch.ones(o),
                                    torch.ones(i))
    factors, bases, w0 = {}, {}, {}
    for layer in range(SHAPES[name][2]):
        for mod, (o, i) in layer_modules(name).items():
            key = f"layers.{layer}.{mod}"
            A = (torch.randn(r, i, generator=gen) / i**0.5).requires_grad_(True)
            B = (torch.randn(o, r, generator=gen) * 1e-2).requires_grad_(True)
            factors[key], bases[key], w0[key] = LoraFactors(A, B, 2.0), per_type[mod], o * i * 1e-4
    layout = GeometryLayout.from_factors(factors, AlignmentBasis(bases, {}), w0)
    terms = [t for t in build_terms(RegularizerConfig(), layout) if t.weight > 0]
    params = [p for f in factors.values() for p in (f.A, f.B)]
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        geom = layout.geometry()
        loss = sum(t.weight * t.fn(geom) for t in terms)
        grads = torch.autograd.grad(loss, params)
        times.append(time.perf_counter() - t0)
        assert all(torch.isfinite(g).all() for g in grads)
    return statistics.median(times[1:])


def table(rows: dict[str, dict[str, float]], keys: list[tuple[str, str, str]]) -> str:
    """A markdown table: one column per model."""
    names = list(rows)
    out = ["| quantity | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label, fmt in keys:
        if all(key in rows[n] for n in names):
            out.append(f"| {label} | " + " | ".join(format(rows[n][key], fmt) for n in names) + " |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--tokens", type=int, default=32768, help="tokens per optimizer step")
    p.add_argument("--measure", action="store_true", help="time the real objective per layer")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--markdown", action="store_true", help="print markdown tables, not JSON")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    for name in SHAPES:
        row = {**fisher_rows(name, args.k), **regularizer_rows(name, args.r, args.k, tokens=args.tokens)}
        if args.measure:
            row["reg_cpu_s_step"] = measure_model(name, args.r, args.k)
        rows[name] = row
    if not args.markdown:
        print(json.dumps({"r": args.r, "k": args.k, "tokens": args.tokens, "threads": args.threads,
                          "rows": rows}, indent=2))
        return
    print(table(rows, [
        ("n_params_b", "parameters (B)", ".2f"),
        ("fisher_impl_gib", "Fisher factors as implemented (fp64, per module, all layers), GiB", ".2f"),
        ("fisher_shared_fp32_gib", "shared S_in + fp32 accumulators, GiB", ".2f"),
        ("fisher_per_layer_gib", "per-layer streaming peak (one layer per pass), GiB", ".3f"),
        ("fisher_sketch_gib", "randomized sketch (width k+32, fp64), GiB", ".3f"),
        ("hook_over_fwd_bwd", "K-FAC hook flops / model fwd+act-bwd flops", ".2f"),
        ("eigh_tflop", "eigendecompositions (full eigh), TFLOP", ".1f"),
        ("eig_impl_tflop", "eigendecompositions as implemented (eigh <= 1024, else top-k subspace iteration, worst case), TFLOP", ".2f"),
        ("basis_file_gib", "stored basis (k<=32, fp32), GiB", ".3f"),
    ]))
    print()
    print(table(rows, [
        ("lora_params_m", f"LoRA parameters r={args.r} (M)", ".1f"),
        ("reg_const_gib", "regularizer constants on device (fp32), GiB", ".3f"),
        ("reg_step_gib", "per-step stacked factors + grads (fp32), GiB", ".3f"),
        ("reg_gflop", "regularizer GFLOP per step (fwd+bwd)", ".2f"),
        ("step_tflop", f"LoRA step TFLOP ({args.tokens} tokens)", ".1f"),
        ("reg_over_step", "regularizer / step flops", ".1e"),
        ("reg_cpu_s_step", f"measured: penalty fwd+bwd, all layers, CPU s ({args.threads} thread)", ".3f"),
    ]))


if __name__ == "__main__":
    main()
