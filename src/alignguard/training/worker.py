"""A distributed worker for the tests and docs: ``python -m alignguard.training.worker``.

Run under ``torchrun`` (or ``accelerate launch``). It collects the K-FAC factors with each rank
on rows ``[rank::world]`` of every global batch (all-reduced), then runs the one training loop
(:func:`alignguard.training.loop.train`) with DDP or, with ``--fsdp2``, FSDP2, and writes the
factors, the training log and every rank's LoRA weights as safetensors + JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from alignguard.artifacts import atomic_write_bytes, atomic_write_json
from alignguard.parallel import barrier, dist_info, is_main_process, shard_batch, whole


def _worker_config(args: argparse.Namespace):
    from alignguard.alignment.settings import AlignmentSettings
    from alignguard.regularizers import RegularizerConfig
    from alignguard.targets import LoraSettings
    from alignguard.training.config import TrainConfig

    return TrainConfig(
        model=args.model, data=args.data, output_dir=str(Path(args.output) / "run"),
        method=args.method, steps=args.steps, batch_size=args.batch_size,
        grad_accum=args.grad_accum, lr=args.lr, warmup_steps=1, log_every=1, save_every=0,
        seed=args.seed, max_length=args.max_length, resume=False, device=args.device,
        distributed="fsdp2" if args.fsdp2 else "ddp", lora=LoraSettings(r=args.lora_rank),
        reg=RegularizerConfig(gate=0.0),  # the gate needs rejected replies and unsharded weights
        alignment=AlignmentSettings(data=args.data, batch_size=args.fisher_batch_size,
                                    max_rank=args.max_rank, max_length=args.max_length,
                                    estimator="empirical"),  # --data has no rejected replies
    )


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> Path:
    """Write ``tensors`` (CPU copies) as one safetensors file, atomically."""
    from safetensors.torch import save

    return atomic_write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def _save_factors(out: Path, factors) -> None:
    tensors = {}
    for name, fac in factors.items():
        tensors[f"{name}.S_in"], tensors[f"{name}.S_out"] = fac.S_in, fac.S_out
    save_tensors(out / "factors.safetensors", tensors)
    atomic_write_json(out / "factors.json", {n: f.n_tokens for n, f in factors.items()})


def run_worker(args: argparse.Namespace) -> dict:
    """Collect K-FAC factors on sharded batches, train, write results; returns the summary."""
    from accelerate import PartialState

    from alignguard.alignment.kfac import collect_kfac_factors
    from alignguard.data import encoded_batches
    from alignguard.dataspec import load_dataset_spec
    from alignguard.models import load_model
    from alignguard.targets import resolve_target_modules
    from alignguard.training.loop import train

    PartialState(cpu=args.device == "cpu")  # initialises torch.distributed under a launcher
    rank, world = dist_info()
    cfg = _worker_config(args)
    out = Path(args.output)
    model, tokenizer = load_model(args.model, device="cpu" if args.device == "cpu" else args.device)
    fs = cfg.alignment
    batches = encoded_batches(tokenizer, load_dataset_spec(args.data)[:fs.max_examples],
                              batch_size=fs.batch_size, max_length=fs.max_length,
                              loss_on="all" if fs.tokens == "all" else "response")
    _, names = resolve_target_modules(model, cfg.lora.target_modules)
    factors = collect_kfac_factors(model, [shard_batch(b, rank, world) for b in batches], names,
                                   tokens=fs.tokens, progress=False)
    if rank == 0:
        _save_factors(out, factors)
    result = train(cfg, model=model, tokenizer=tokenizer, progress=False)
    trained, history = result.model, result.history
    lora = {n: whole(p) for n, p in trained.named_parameters() if "lora_" in n}
    save_tensors(out / f"lora-rank{rank}.safetensors", lora)
    summary = {"world_size": world, "fsdp2": bool(args.fsdp2),
               "losses": [r["task_loss"] for r in history], "history": history}
    if rank == 0:
        atomic_write_json(out / "worker.json", summary)
    barrier()
    return summary


def build_parser() -> argparse.ArgumentParser:
    """Options of the worker (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m alignguard.training.worker",
                                description="AlignGuard distributed worker: Fisher + a few steps.")
    p.add_argument("--model", required=True, help="model folder, .gguf or a known name")
    p.add_argument("--data", required=True, help="JSONL of prompt/response rows (task and Fisher)")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--method", default="agl")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8, help="global rows per micro-batch")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--fisher-batch-size", type=int, default=8)
    p.add_argument("--max-rank", type=int, default=4)
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--lora-rank", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--fsdp2", action="store_true",
                   help="shard with FSDP2 (fully_shard) instead of DDP; works on gloo/CPU")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m alignguard.training.worker``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = run_worker(build_parser().parse_args(argv))
    if is_main_process():
        print(json.dumps({"world_size": summary["world_size"], "losses": summary["losses"]}))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
