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

On the real model (the testbed's ``benign-similar``, batch 8; the alignment data is a JSONL of
prompt/response rows such as ``alignguard align`` writes)::

    OMP_NUM_THREADS=1 python benchmarks/method_cost.py --model smollm2-aligned \
        --alignment-data runs/align-smollm2/data/align.jsonl --methods kl-anchor,alignguard \
        --steps 20 --rounds 2

A method may carry changed ``reg`` fields: ``--methods "alignguard,alignguard[kl_tokens=16;align_batch=1]"``.
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
from alignguard.models import ignore_known_deprecations
from alignguard.regularizers.config import RegularizerConfig
from alignguard.training.config import AlignmentSettings, TrainConfig
from alignguard.training.loop import train


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    """``"alignguard[kl_tokens=16,align_batch=1]"`` -> ``("alignguard", {"kl_tokens": "16", ...})``:
    a method preset with ``reg`` fields changed."""
    name, _, rest = spec.partition("[")
    pairs = [p.split("=", 1) for p in rest.rstrip("]").split(";") if p] if rest else []
    return name, dict(pairs)


def apply_changes(cfg: TrainConfig, changes: dict[str, str]) -> None:
    """Set a variant's ``reg`` fields on ``cfg``, coerced to the fields' annotated types."""
    import typing

    from alignguard.config import coerce

    hints = typing.get_type_hints(RegularizerConfig)
    for key, value in changes.items():
        setattr(cfg.reg, key, coerce(value, hints[key], key))


def time_method(method: str, steps: int, scenario: str, out: Path, model: str = "organism",
                alignment_data: str | None = None, batch_size: int = 16,
                mixed_precision: str = "no") -> float:
    """Median seconds per step of ``method`` (a preset, or ``preset[field=value;...]`` with
    ``reg`` fields changed); the first logging interval, the warm-up, is excluded."""
    organism = model.startswith("organism")
    name, changes = parse_variant(method)
    cfg = TrainConfig(model=model, data=f"{'scenario' if organism else 'testbed'}:{scenario}",
                      method=name, steps=steps, batch_size=batch_size, log_every=5,
                      mixed_precision=mixed_precision,
                      save_every=0, output_dir=str(out / method.replace("[", "_").rstrip("]")),
                      seed=0,
                      alignment=AlignmentSettings(data=alignment_data, estimator="empirical")
                      if alignment_data else
                      AlignmentSettings())
    apply_changes(cfg, changes)
    history = train(cfg, progress=False).history
    return step_time(history[1:] if len(history) > 2 else history)


def add_run_options(ap: argparse.ArgumentParser, methods: str, steps: int) -> None:
    """The options this script and `step_breakdown.py` share: which methods, model, data, batch."""
    ap.add_argument("--methods", default=methods)
    ap.add_argument("--model", default="organism", help="organism, or a real model such as "
                    "smollm2-aligned (the testbed's scenarios; needs --alignment-data)")
    ap.add_argument("--alignment-data", default=None, help="alignment JSONL (real models)")
    ap.add_argument("--scenario", default=None, help="default: benign (organism), "
                    "benign-similar (testbed)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: 16 (organism), 8")
    ap.add_argument("--steps", type=int, default=steps)


def run_options(ap: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, int]:
    """``(scenario, batch size)`` with the model's defaults; one thread for the timing."""
    torch.set_num_threads(1)
    organism = args.model.startswith("organism")
    if not organism and not args.alignment_data:
        ap.error("a real model needs --alignment-data (prompt/response JSONL)")
    scenario = args.scenario or ("benign" if organism else "benign-similar")
    return scenario, args.batch_size or (16 if organism else 8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(ap, ",".join(DEFAULT_METHODS), steps=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--mixed-precision", default="no", choices=["no", "bf16"],
                    help="train every method under accelerate's autocast (default: no)")
    args = ap.parse_args()
    ignore_known_deprecations()
    scenario, batch = run_options(ap, args)
    kw = {"model": args.model, "alignment_data": args.alignment_data, "batch_size": batch,
          "mixed_precision": args.mixed_precision}
    methods = [m for m in args.methods.split(",") if m != "lora"]
    ratios: dict[str, list[float]] = {m: [] for m in methods}
    seconds: dict[str, list[float]] = {m: [] for m in ["lora", *methods]}
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            lora = time_method("lora", args.steps, scenario, Path(tmp) / f"round{r}", **kw)
            seconds["lora"].append(lora)
            for m in methods:
                t = time_method(m, args.steps, scenario, Path(tmp) / f"round{r}", **kw)
                seconds[m].append(t)
                ratios[m].append(t / lora)
    print(json.dumps({"model": args.model, "scenario": scenario, "batch_size": kw["batch_size"],
                      "mixed_precision": args.mixed_precision,
                      "steps": args.steps, "rounds": args.rounds,
                      "lora_step_s": statistics.median(seconds["lora"]),
                      "ratio_vs_lora": {m: round(statistics.median(v), 3) for m, v in ratios.items()},
                      "ratio_per_round": {m: [round(x, 3) for x in v] for m, v in ratios.items()}},
                     indent=1))


if __name__ == "__main__":
    main()
