"""``alignguard compare``: the command (printing lives here; the grid in :mod:`.grid`)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from alignguard.compare.grid import DEFAULT_METHODS, CompareConfig
from alignguard.training.config import TrainConfig


def compare_command(model: str = "organism", methods: list[str] | None = None,
                    scenarios: list[str] | None = None, seeds: int = 3, steps: int = 200,
                    eval_limit: int | None = None, replay_fraction: float = 0.0, jobs: int = 1,
                    output: str = "runs/compare", run: bool = True,
                    train: TrainConfig | None = None, seed_list: list[int] | None = None,
                    eval_batch_size: int = 16, reference_from: str | None = None,
                    judges: list[str] | None = None) -> int:
    """Every defense on the same scenarios and seeds: a resumable grid, a table, a report.

    Args:
        model: the aligned model: "organism" (the organism's scenarios and evaluation) or a
            real model such as "smollm2-aligned" (the testbed's English scenarios and
            evaluation; the reference is the model itself before fine-tuning).
        methods: method presets to compare (default: alignguard, every published defense, agl
            and agl-paper; plain LoRA is always included as the reference), or variants of
            one with training settings changed: "alignguard@reg.kl_tokens=16".
        scenarios: drift scenarios (default: benign, poisoned; testbed: benign-similar,
            poisoned, identity-shift, control).
        seeds: seeds 0..N-1 for every method.
        steps: fine-tuning steps of every run.
        eval_limit: organism: prompts per evaluation group (default 60); testbed: unsafe
            DriftCheck prompts (default 300, the standard; fewer also shrink the safe prompts
            to 2/3 of it and the task items to it, for screening). Smaller is faster and noisier.
        replay_fraction: alignment replay added to every method (0: only replay-based methods).
        jobs: cells run at once (each with cpu_count / jobs threads).
        output: the grid folder; calling again runs only the missing cells.
        run: run the missing cells; --no-run summarizes the finished ones (also while the
            grid runs elsewhere) into OUTPUT/partial/.
        train: shared training settings (lr, lora.r, lora.target_modules, batch_size, ...).
        seed_list: these seeds instead of 0..N-1 (``--seed-list 1,2`` adds seeds 1 and 2 of a
            grid whose seed 0 ran elsewhere); overrides ``seeds``.
        eval_batch_size: prompts per generate call in the testbed evaluation (larger is faster
            on a GPU; the cells evaluate on --train.device).
        reference_from: another grid folder with the same shared settings: its base and plain
            LoRA cells are copied into this grid (origin recorded) instead of being run again;
            cost ratios against them are marked as timings of two runs.
        judges: the testbed evaluation's DriftCheck judges, the first deciding (default
            ensemble-probe,keyword; a grid started before stop 54 was judged by ensemble,keyword
            and resumes only with --judges ensemble,keyword).
    """
    from alignguard.compare.run import run_compare
    from alignguard.compare.summary import markdown_table

    base = TrainConfig(**{f.name: getattr(train, f.name) for f in dataclasses.fields(TrainConfig)}) \
        if isinstance(train, TrainConfig) else _train_config(train)
    cfg = CompareConfig(model=model, methods=list(methods or DEFAULT_METHODS),
                        scenarios=list(scenarios or _default_scenarios(model)),
                        seeds=list(seed_list) if seed_list else list(range(seeds)),
                        steps=steps,
                        eval_limit=eval_limit if eval_limit is not None
                        else (60 if model.startswith("organism") else 300),
                        replay_fraction=replay_fraction, jobs=jobs, output=output, train=base,
                        eval_batch_size=eval_batch_size, reference_from=reference_from,
                        judges=judges)

    results = run_compare(cfg, _progress_printer(output), run=run)
    for scenario in results["summary"]:
        print(f"\n{scenario}\n{markdown_table(results['summary'], scenario)}")
    where = Path(output) if run else Path(output) / "partial"
    print(f"\nresults: {where / 'results.json'}\nreport:  {where / 'report.html'}")
    expected = len(cfg.scenarios) * (1 + len(cfg.methods) * len(cfg.seeds))
    return 0 if results["n_cells"] == expected or not run else 1


def _progress_printer(output: str):
    """A ``progress(k, n, spec, result)`` callback printing one line per finished cell with a rough ETA."""
    started = time.monotonic()

    def progress(k: int, n: int, spec, result: dict | None) -> None:
        what = f"{spec.scenario}/{spec.method}" + ("" if spec.seed is None else f" seed {spec.seed}")
        left = (time.monotonic() - started) / k * (n - k)  # cells differ in cost: a rough guess
        eta = f"; ~{left / 60:.0f} min left" if k < n else ""
        if result is None:
            print(f"[{k}/{n}] {what}: FAILED (see {Path(output) / 'logs'}){eta}", flush=True)
        else:
            m = result["metrics"]
            print(f"[{k}/{n}] {what}: refusal {m['refusal']:.3f} task {m['task']:.3f} "
                  f"({result['wall_s']:.0f} s{eta})", flush=True)

    return progress


def _train_config(overrides: dict | None) -> TrainConfig:
    from alignguard.training.cli import build_train_config

    return build_train_config(None, overrides)


def _default_scenarios(model: str) -> list[str]:
    return ["benign", "poisoned"] if model.startswith("organism") else \
        ["benign-similar", "poisoned", "identity-shift", "control"]
