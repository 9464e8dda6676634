"""Where a method's step time goes, beside plain LoRA's: seconds per step of each labelled part.

`benchmarks/method_cost.py` gives a method's step time as one ratio to plain LoRA's. This script
says what the ratio is made of. The loop and the anchors run their parts under
`torch.profiler.record_function` labels (`alignguard/task_forward`, `alignguard/backward`,
`alignguard/penalty`, `alignguard/task_penalty`, `alignguard/on_gradients`; inside them
`alignguard/kl_anchor/reference`, `alignguard/kl_anchor/forward` and
`alignguard/refusal_direction/reference`). Each method trains in one process, one thread, under
`torch.profiler` (CPU activity only, no shapes or stacks), which records the labelled ranges of
the optimizer steps after the first two (warm-up); the step time is the wall time between the
loop's step callbacks over the same steps. Printed as JSON: per method, seconds per step of the
step and of each label, and each label's extra seconds over plain LoRA's as a share of plain
LoRA's step ("share_of_lora_step"), so the parts add up to the method's ratio minus one, with
the unlabelled rest (optimizer, logging) in "other".

The profiler costs a few microseconds per recorded operator (~6 us on the 2-core CPU), so a
forward of 2 rows costs as much extra as one of 8: the anchors' small forwards read larger here
than without it, and the ratio printed here is above `method_cost.py`'s (the default on SmolLM2
at batch 8: 1.53x here, 1.41-1.46x there, in runs minutes apart). Take the ratio from
`method_cost.py` and what it is made of from here.

Example (the default on the aligned SmolLM2 at the testbed's batch of 8; ~6 min)::

    OMP_NUM_THREADS=1 python benchmarks/step_breakdown.py --model smollm2-aligned \
        --alignment-data runs/align-smollm2/data/align.jsonl --methods alignguard --steps 12

As in `method_cost.py`, a method may carry changed ``reg`` fields, e.g.
``"alignguard[kl_every=2]"``; the alignment estimates made before training are not timed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from method_cost import add_run_options, apply_changes, parse_variant, run_options
from torch.profiler import ProfilerActivity, profile, schedule

from alignguard.training.config import AlignmentSettings, TrainConfig
from alignguard.training.loop import train

PREFIX = "alignguard/"
WARMUP = 2  # optimizer steps left out of the window (the first steps allocate and warm caches)


def config(method: str, steps: int, out: Path, model: str, alignment_data: str | None,
           scenario: str, batch_size: int) -> TrainConfig:
    """The run ``method`` is timed on (``reg`` fields from the variant applied)."""
    organism = model.startswith("organism")
    name, changes = parse_variant(method)
    cfg = TrainConfig(model=model, data=f"{'scenario' if organism else 'testbed'}:{scenario}",
                      method=name, steps=steps, batch_size=batch_size, log_every=steps,
                      save_every=0, seed=0, output_dir=str(out / method.replace("[", "_").rstrip("]")),
                      alignment=AlignmentSettings(data=alignment_data, estimator="empirical")
                      if alignment_data else AlignmentSettings())
    apply_changes(cfg, changes)
    return cfg


def breakdown(cfg: TrainConfig) -> dict[str, float]:
    """Seconds per optimizer step of the whole step (``"step"``) and of every labelled part,
    over the steps after the first ``WARMUP``."""
    active = cfg.steps - WARMUP
    if active < 2:
        raise ValueError(f"--steps must be at least {WARMUP + 2}, got {cfg.steps}")
    stamps: dict[int, float] = {}
    with profile(activities=[ProfilerActivity.CPU],
                 schedule=schedule(wait=0, warmup=WARMUP, active=active, repeat=1)) as prof:
        def tick(step: int, model: torch.nn.Module) -> None:
            stamps[step] = time.perf_counter()
            prof.step()

        train(cfg, progress=False, callbacks=[tick])
    seconds = {e.key[len(PREFIX):]: e.cpu_time_total / 1e6 / active
               for e in prof.key_averages() if e.key.startswith(PREFIX)}
    seconds["step"] = (stamps[cfg.steps] - stamps[WARMUP]) / active
    return seconds


def shares(method: dict[str, float], lora: dict[str, float]) -> dict[str, float]:
    """Each top-level part's extra seconds over plain LoRA's, as a share of LoRA's step; the
    nested anchor labels are reported as shares of the LoRA step too (they sit inside
    ``penalty`` / ``task_penalty``)."""
    top = ("task_forward", "task_penalty", "penalty", "backward", "on_gradients")
    out = {k: (method.get(k, 0.0) - lora.get(k, 0.0)) / lora["step"] for k in top}
    out["other"] = (method["step"] - lora["step"]) / lora["step"] - sum(out.values())
    out.update({k: v / lora["step"] for k, v in method.items() if "/" in k})
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(ap, "alignguard", steps=12)
    args = ap.parse_args()
    scenario, batch = run_options(ap, args)
    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in ["lora", *[m for m in args.methods.split(",") if m != "lora"]]:
            cfg = config(m, args.steps, Path(tmp), args.model, args.alignment_data, scenario, batch)
            report[m] = {"seconds_per_step": {k: round(v, 4) for k, v in breakdown(cfg).items()}}
    lora = report["lora"]["seconds_per_step"]
    for m, row in report.items():
        if m != "lora":
            row["ratio_vs_lora"] = round(row["seconds_per_step"]["step"] / lora["step"], 3)
            row["share_of_lora_step"] = shares(row["seconds_per_step"], lora)
    print(json.dumps({"model": args.model, "scenario": scenario, "batch_size": batch,
                      "steps": args.steps, "warmup_steps": WARMUP, "methods": report}, indent=1))


if __name__ == "__main__":
    main()
