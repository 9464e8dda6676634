"""Step time of every method preset vs plain LoRA, measured in one process, printed as JSON.

`alignguard compare` records each cell's step time, but its cells run at different times, two at
a time, beside whatever else the machine does, so its ratios are noisy. Here every method trains
the same organism scenario for the same steps in one process, one thread, in rounds: each round
runs plain LoRA and then every method, and a method's ratio in a round is its median step time
(over logging intervals, as in `alignguard.compare.cell.step_time`) divided by LoRA's in that
round; the printed ratio is the median over rounds. The alignment estimates each method needs (the
Fisher, the deltas, the activation bases) are prepared before the clock starts and are not timed.

Example (~4 min per round on one CPU thread)::

    OMP_NUM_THREADS=1 python benchmarks/method_cost.py --steps 40 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

from alignguard.compare.cell import step_time
from alignguard.compare.grid import DEFAULT_METHODS
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train


def time_method(method: str, steps: int, scenario: str, out: Path) -> float:
    """Median seconds per step of ``method`` (first logging interval, the warm-up, excluded)."""
    cfg = TrainConfig(model="organism", data=f"scenario:{scenario}", method=method, steps=steps,
                      log_every=5, save_every=0, output_dir=str(out / method), seed=0)
    history = train(cfg, progress=False).history
    return step_time(history[1:] if len(history) > 2 else history)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    ap.add_argument("--scenario", default="benign")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    methods = [m for m in args.methods.split(",") if m != "lora"]
    ratios: dict[str, list[float]] = {m: [] for m in methods}
    seconds: dict[str, list[float]] = {m: [] for m in ["lora", *methods]}
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            lora = time_method("lora", args.steps, args.scenario, Path(tmp) / f"round{r}")
            seconds["lora"].append(lora)
            for m in methods:
                t = time_method(m, args.steps, args.scenario, Path(tmp) / f"round{r}")
                seconds[m].append(t)
                ratios[m].append(t / lora)
    print(json.dumps({"scenario": args.scenario, "steps": args.steps, "rounds": args.rounds,
                      "lora_step_s": statistics.median(seconds["lora"]),
                      "ratio_vs_lora": {m: round(statistics.median(v), 3) for m, v in ratios.items()},
                      "ratio_per_round": {m: [round(x, 3) for x in v] for m, v in ratios.items()}},
                     indent=1))


if __name__ == "__main__":
    main()
