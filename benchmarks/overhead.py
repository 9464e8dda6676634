"""Overhead of the AlignGuard-LoRA regularizers (arXiv 2508.02079), printed as one JSON object.

(a) time per training step, AGL (all weighted terms of the default config, a random orthonormal
    basis of rank k) vs plain PEFT LoRA on a SmolLM2-135M-shaped random-init Llama, LoRA on
    q,k,v,o,gate,up,down, same batch and seed, AdamW step included, warm-up excluded, steps
    alternating between the two so that machine noise hits both;
(b) factored L_A + L_T (+ E_geo) vs the same quantities from dense d x d matrices, one module,
    forward + backward;
(c) alignment-Fisher estimation (alignguard.alignment.fisher) vs one forward + backward over the same data
    (the standard pass with every weight's gradient, and the LoRA-only pass).

Goals: (a) <= 1.15x, (b) >= 20x faster, (c) <= 2x. Example (small, ~1 minute on 2 cores)::

    python benchmarks/overhead.py --layers 4 --steps 6 --batch 4 --seq 64 --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from alignguard.alignment.basis import AlignmentBasis, ModuleBasis
from alignguard.regularizers import GeometryLayout, RegularizerConfig, build_terms
from alignguard.targets import LoraFactors, LoraSettings, attach_lora, lora_factors


def smollm2_shaped(layers: int, seed: int = 0) -> torch.nn.Module:
    """Random-init Llama with SmolLM2-135M's shapes (``layers`` of its 30 decoder layers)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                      num_hidden_layers=layers, num_attention_heads=9, num_key_value_heads=3,
                      tie_word_embeddings=True, max_position_embeddings=2048)
    return LlamaForCausalLM(cfg)


def random_basis(shapes: dict[str, tuple[int, int]], k: int, seed: int = 0) -> AlignmentBasis:
    """Random orthonormal ``Q_o, Q_i`` of rank ``min(k, d)`` and decaying eigenvalues per module."""
    gen = torch.Generator().manual_seed(seed)

    def q(d: int) -> torch.Tensor:
        return torch.linalg.qr(torch.randn(d, min(k, d), generator=gen))[0]

    def eig(n: int) -> torch.Tensor:
        v = torch.linspace(1.0, 0.05, n)
        return v / v.mean()

    mods = {n: ModuleBasis(q(do), eig(min(k, do)), q(di), eig(min(k, di)),
                           torch.ones(do), torch.ones(di)) for n, (do, di) in shapes.items()}
    return AlignmentBasis(mods)


def batch_of(batch: int, seq: int, vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(vocab, (batch, seq), generator=gen)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}


def _timed2(fn: Callable[[], object]) -> tuple[float, float]:
    """``(wall seconds, process CPU seconds)``; CPU time is robust to other load on the host."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def bench_step(args: argparse.Namespace) -> dict:
    """(a) AGL step / plain LoRA step, alternating, medians over ``args.steps`` each."""
    model = attach_lora(smollm2_shaped(args.layers), LoraSettings(r=args.rank, alpha=2.0 * args.rank,
                                                                   init_seed=0))
    shapes = {n: (f.B.shape[0], f.A.shape[1]) for n, f in lora_factors(model).items()}
    layout = GeometryLayout(model, random_basis(shapes, args.k))
    cfg = RegularizerConfig()
    terms = [t for t in build_terms(cfg, layout) if t.weight > 0]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    data = batch_of(args.batch, args.seq, 49152)
    reg_times: list[float] = []

    def step(agl: bool) -> None:
        out = model(input_ids=data["input_ids"], attention_mask=data["attention_mask"],
                    labels=data["labels"])
        loss = out.loss
        if agl:
            t0 = time.process_time()
            geom = layout.geometry()
            penalty = sum(t.weight * t.fn(geom) for t in terms)
            reg_times.append(time.process_time() - t0)
            loss = loss + penalty
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step(False)
        step(True)
    reg_times.clear()
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for i in range(args.steps):  # alternate the order too: ABBA...
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            times[flag].append(_timed2(lambda f=flag: step(f)))
    with torch.no_grad():
        geom = layout.geometry()
        values = {t.name: float(t.fn(geom)) for t in build_terms(cfg)}
    out = {"modules": layout.n_modules, "groups": len(layout.groups),
           "terms": [t.name for t in terms], "term_values_after_steps": values,
           "penalty_forward_cpu_s": statistics.median(reg_times)}
    for i, clock in enumerate(("wall", "cpu")):
        plain = [t[i] for t in times[False]]
        agl = [t[i] for t in times[True]]
        out[f"plain_step_{clock}_s"] = statistics.median(plain)
        out[f"agl_step_{clock}_s"] = statistics.median(agl)
        out[f"agl_over_plain_{clock}"] = statistics.median(agl) / statistics.median(plain)
        out[f"agl_over_plain_{clock}_mean"] = statistics.mean(agl) / statistics.mean(plain)
    return out


def _dense_terms(B, A, s, q_o, nu, q_i, mu, eps: float, with_geo: bool) -> torch.Tensor:
    """Dense reference: L_A + L_T (+ E_geo through a d x d solve), dW materialised."""
    dw = s * B @ A
    core = q_o.T @ dw @ q_i
    dwt = dw - q_o @ core @ q_i.T
    total = (nu[:, None] * mu[None, :] * core.square()).sum() + dwt.square().sum()
    if with_geo:
        d_out, d_in = dw.shape
        floor = eps * d_out * d_in
        gram = dw @ dw.T
        proj = torch.linalg.solve(gram + floor * torch.eye(d_out), gram)  # smooth projector
        total = total + (q_o.T @ proj @ q_o).trace() / min(A.shape[0], q_o.shape[1])
        gram_i = dw.T @ dw
        proj_i = torch.linalg.solve(gram_i + floor * torch.eye(d_in), gram_i)
        total = total + (q_i.T @ proj_i @ q_i).trace() / min(A.shape[0], q_i.shape[1])
    return total


def bench_factored(args: argparse.Namespace) -> dict:
    """(b) factored vs dense forward + backward for one d x d module."""
    d, r, k = args.dense_d, args.rank, args.k
    gen = torch.Generator().manual_seed(0)
    A = (torch.randn(r, d, generator=gen) / d**0.5).requires_grad_()
    B = (torch.randn(d, r, generator=gen) * 0.01).requires_grad_()
    basis = random_basis({"m": (d, d)}, k)
    mb = basis.modules["m"]
    layout = GeometryLayout.from_factors({"m": LoraFactors(A, B, 2.0)}, basis, {"m": 1.0})
    cfg = RegularizerConfig(norm="none")
    terms = {t.name: t for t in build_terms(cfg)}
    out = {}
    for with_geo in (False, True):
        names = ["fisher", "task"] + (["geodesic"] if with_geo else [])

        def factored(names=names) -> None:
            geom = layout.geometry()
            sum(terms[n].fn(geom) for n in names).backward()

        def dense(with_geo=with_geo) -> None:
            _dense_terms(B, A, 2.0, mb.q_out, mb.nu, mb.q_in, mb.mu, cfg.geo_eps, with_geo).backward()

        t_f = _best_of(factored, args.repeats)
        t_d = _best_of(dense, max(2, args.repeats // 3))
        key = "LA_LT_Egeo" if with_geo else "LA_LT"
        out[key] = {"factored_s": t_f, "dense_s": t_d, "speedup": t_d / t_f}
    return {"d": d, "rank": r, "k": k, **out}


def _best_of(fn: Callable[[], None], n: int) -> float:
    """Least process CPU time of ``n`` runs after one warm-up run."""
    fn()
    return min(_timed2(fn)[1] for _ in range(n))


def bench_fisher(args: argparse.Namespace) -> dict:
    """(c) alignment-Fisher estimation vs one forward + backward over the same data.

    Two references: the standard pass (gradients of every weight, what "one forward + backward"
    of the model costs) and the cheaper LoRA pass (frozen base, gradients of the adapters only).
    Reports the K-FAC collection and the eigendecompositions separately: the collection scales
    with the data, the eigendecompositions are a fixed cost per model, so ``batches_for_2x`` is
    the data size above which the whole estimate stays within 2x.
    """
    try:
        from alignguard.alignment.fisher import basis_from_factors
        from alignguard.alignment.kfac import collect_kfac_factors
    except ImportError:
        return {"status": "pending: alignguard.alignment.fisher / alignguard.alignment.kfac are not available"}
    from alignguard.targets import resolve_target_modules

    full = smollm2_shaped(args.layers)
    model = attach_lora(smollm2_shaped(args.layers), LoraSettings(r=args.rank, init_seed=0))
    batches = [batch_of(args.batch, args.seq, 49152, seed=i) for i in range(args.fisher_batches)]
    names = resolve_target_modules(model, "all")[1]

    def fwd_bwd(net: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            for b in batches:
                net(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                    labels=b["labels"]).loss.backward()
            net.zero_grad(set_to_none=True)
        return run

    t_full, t_lora = _best_of(fwd_bwd(full), 2), _best_of(fwd_bwd(model), 2)
    box: dict = {}
    t_collect = _timed2(lambda: box.update(f=collect_kfac_factors(model, batches, names,
                                                                  progress=False)))[1]
    t_eig = _timed2(lambda: basis_from_factors(box["f"], max_rank=args.k))[1]
    out = {"status": "measured", "batches": len(batches), "kfac_collect_cpu_s": t_collect,
           "eigendecomposition_cpu_s": t_eig}
    for ref, t_fb in (("fwd_bwd", t_full), ("lora_fwd_bwd", t_lora)):
        spare = 2.0 * t_fb - t_collect  # per len(batches) batches
        out |= {f"{ref}_cpu_s": t_fb, f"collect_over_{ref}": t_collect / t_fb,
                f"fisher_over_{ref}": (t_collect + t_eig) / t_fb,
                f"batches_for_2x_{ref}": (t_eig / spare * len(batches)) if spare > 0 else None}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print one JSON object (also written to --out)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=6, help="timed steps per method")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per method")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--layers", type=int, default=30, help="decoder layers (SmolLM2-135M: 30)")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--k", type=int, default=32, help="basis rank per factor")
    p.add_argument("--dense-d", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--fisher-batches", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--skip", default="", help="comma-separated parts to skip: step,factored,fisher")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    result: dict = {"torch": torch.__version__, "threads": args.threads,
                    "goals": {"agl_over_plain": "<= 1.15", "factored_speedup": ">= 20",
                              "fisher_over_fwd_bwd": "<= 2"}}
    for name, fn in (("step", bench_step), ("factored", bench_factored), ("fisher", bench_fisher)):
        result[name] = "skipped" if name in skip else fn(args)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.out:
        from alignguard.artifacts import atomic_write_json

        atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
