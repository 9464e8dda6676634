"""AGL vs plain LoRA on a real model (SmolLM2-135M): step time and peak memory, as JSON.

Issue goal (AlignGuard-LoRA, arXiv 2508.02079, per-step overhead): with LoRA r=16 on attention +
MLP (q,k,v,o,gate,up,down; 210 modules), AGL step time / LoRA step time <= 1.15 and peak memory
ratio <= 1.10.

Each method runs in its own subprocess (so neither inherits the other's allocations): load the
model, attach LoRA (same seed), build the objective (AGL: the default ``RegularizerConfig``, all
terms weighted, with a random orthonormal alignment basis of rank ``k`` per factor, the cap the
Fisher estimator uses; LoRA: no weighted terms, exactly as ``alignguard train --method lora``),
then run the training loop's own :func:`alignguard.training.step.optimizer_step` + AdamW on fixed token
batches. After loading, the peak-RSS counter is reset (``/proc/self/clear_refs``), so the
reported peak is that of the training steps (weights included), not of GGUF dequantisation.
Rounds alternate LoRA and AGL so machine noise hits both; the median step time per method over
all rounds is reported. Example (about 4 minutes on 2 busy cores)::

    python benchmarks/real_model.py --model smollm2 --batch 2 --seq 64 --steps 4 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def random_basis(model, k: int, seed: int = 0):
    """A random orthonormal rank-``min(k, d)`` basis with decaying eigenvalues for every LoRA module."""
    import torch

    from alignguard.alignment.basis import AlignmentBasis, ModuleBasis
    from alignguard.alignment.kfac import module_dims
    from alignguard.targets import lora_layers

    gen = torch.Generator().manual_seed(seed)
    bases = {}
    for name, layer in lora_layers(model).items():
        d_out, d_in = module_dims(layer)
        qs = [torch.linalg.qr(torch.randn(d, min(k, d), generator=gen))[0] for d in (d_out, d_in)]
        lams = [torch.linspace(2.0, 0.1, q.shape[1]) for q in qs]
        bases[name] = ModuleBasis(qs[0], lams[0] / lams[0].mean(), qs[1], lams[1] / lams[1].mean(),
                                  torch.ones(d_out), torch.ones(d_in))
    return AlignmentBasis(bases, {})


def worker(args: argparse.Namespace) -> dict:
    """One method in this process: load, attach LoRA, time ``args.steps`` optimizer steps."""
    import torch
    from accelerate import Accelerator

    from alignguard.alignment.prepare import AlignmentArtifacts
    from alignguard.methods.base import Method
    from alignguard.methods.components import Penalties
    from alignguard.models import load_model
    from alignguard.targets import LoraSettings, attach_lora
    from alignguard.training.config import TrainConfig
    from alignguard.training.step import optimizer_step

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, _ = load_model(args.model)
    cfg = TrainConfig(model=args.model, method=args.worker, batch_size=args.batch, max_length=args.seq)
    model = attach_lora(model, LoraSettings(r=args.r, alpha=2.0 * args.r, target_modules="all",
                                            init_seed=0))
    basis = random_basis(model, args.k) if args.worker == "agl" else None
    penalties = Penalties(cfg.resolved_reg())
    method = Method(args.worker, [penalties])  # the penalty terms only: the step the paper adds
    method.prepare(AlignmentArtifacts(basis=basis))
    method.before_training(model)
    objective = penalties.objective
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    accelerator = Accelerator(cpu=True)
    gen = torch.Generator().manual_seed(1)
    vocab = model.config.vocab_size
    batches = []
    for _ in range(args.steps + 1):
        ids = torch.randint(10, vocab, (args.batch, args.seq), generator=gen)
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()})
    model.train()
    reset = _reset_peak()
    base_rss = _status_kib("VmRSS")
    times = []
    for batch in batches:  # the first step is warm-up
        t0 = time.perf_counter()
        optimizer_step(model, accelerator, method, [batch], cfg.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    reg_ms = None
    if objective.active:
        t0 = time.perf_counter()
        for _ in range(3):
            penalty, _ = objective.penalty()
            torch.autograd.grad(penalty, params)
        reg_ms = 1e3 * (time.perf_counter() - t0) / 3
    return {"method": args.worker, "step_s": times[1:], "peak_rss_mib": _status_kib("VmHWM") / 1024,
            "rss_after_load_mib": base_rss / 1024, "peak_reset": reset, "penalty_fwd_bwd_ms": reg_ms,
            "n_lora_modules": objective.layout.n_modules}


def run(args: argparse.Namespace) -> dict:
    """Alternate LoRA and AGL subprocesses for ``args.rounds`` rounds; summarise."""
    results: dict[str, list[dict]] = {"lora": [], "agl": []}
    for _ in range(args.rounds):
        for method in ("lora", "agl"):
            cmd = [sys.executable, __file__, "--worker", method, "--model", args.model,
                   "--batch", str(args.batch), "--seq", str(args.seq), "--steps", str(args.steps),
                   "--r", str(args.r), "--k", str(args.k), "--threads", str(args.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results[method].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {m: statistics.median(t for r in rs for t in r["step_s"]) for m, rs in results.items()}
    peak = {m: max(r["peak_rss_mib"] for r in rs) for m, rs in results.items()}
    return {
        "model": args.model, "batch": args.batch, "seq": args.seq, "steps": args.steps,
        "rounds": args.rounds, "r": args.r, "k": args.k, "threads": args.threads,
        "median_step_s": med, "peak_rss_mib": peak,
        "time_ratio_agl_over_lora": med["agl"] / med["lora"],
        "peak_memory_ratio_agl_over_lora": peak["agl"] / peak["lora"],
        "goal": {"time_ratio": 1.15, "memory_ratio": 1.10}, "runs": results,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2", help="smollm2, a local HF folder or a .gguf file")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--steps", type=int, default=4, help="timed steps per process (after 1 warm-up)")
    p.add_argument("--rounds", type=int, default=1, help="LoRA/AGL process pairs")
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--worker", choices=("lora", "agl"), help=argparse.SUPPRESS)
    args = p.parse_args()
    print(json.dumps(worker(args) if args.worker else run(args), indent=None if args.worker else 2))


if __name__ == "__main__":
    main()
