"""``alignguard scaling sweep|fit``: the forgetting scaling-law commands."""

from __future__ import annotations

import time

from alignguard.config import load_config
from alignguard.scaling.sweep import SweepSpec, _data_spec, organism_behaviour_fn, run_sweep
from alignguard.training.config import TrainConfig


def sweep_command(model: str = "organism", scenario: str = "benign",
                  methods: tuple[str, ...] = ("lora", "agl"), ranks: tuple[int, ...] = (2, 8, 32),
                  steps: tuple[int, ...] = (8, 16, 32, 64, 128, 256), seeds: tuple[int, ...] = (0, 1),
                  output: str = "runs/scaling", lam_A: float | None = None, eval_limit: int = 200,
                  config: str | None = None, align_data: str = "organism:alignment_heldout",
                  pretrain_data: str = "organism:pretrain_heldout", task_eval: str | None = None,
                  fisher_data: str | None = None, refusal: bool = True,
                  refusal_limit: int = 20) -> int:
    """Sweep forgetting over fine-tuning steps and LoRA ranks for plain LoRA and AGL.

    One training run per (method, rank, seed) up to the largest step count, measured at every
    grid step; results are appended to OUTPUT/sweep.jsonl (resumable: rerun the same command).

    Args:
        model: base model: organism, a local model folder or a .gguf file.
        scenario: task data: an organism scenario name (benign, poisoned, ...) or a JSONL path.
        methods: training methods to compare (lora, agl, or any ablation preset).
        ranks: LoRA ranks (>= 3 values for the Kalajdzievski fit).
        steps: fine-tuning step counts, log-spaced (>= 6 values); one run goes to the largest.
        seeds: seeds per (method, rank).
        output: folder for sweep.jsonl, base.json, the alignment basis and the runs.
        lam_A: Fisher-penalty weight for AGL (default: the regularizer config's value).
        eval_limit: examples per held-out set and refusal prompts per measurement.
        config: YAML TrainConfig used as the base of every run (lr, batch size, targets, ...).
        align_data: held-out alignment data (forgetting_align).
        pretrain_data: held-out pre-training text (forgetting_pretrain).
        task_eval: data for the task loss (default: organism:heldout_task for an organism
            scenario, else the first eval_limit task rows).
        fisher_data: alignment data for the Fisher (default: the config's fisher_settings.data).
        refusal: measure refusal (and compliance, over-refusal, task score, degeneration) with
            the organism evaluator by greedy generation (--no-refusal skips it).
        refusal_limit: prompts per evaluation group (unsafe category, look-alike, task, ...).
    """
    from alignguard.models import load_model

    base = load_config(TrainConfig, config) if config else TrainConfig()
    spec = SweepSpec(model=model, data=_data_spec(scenario), methods=list(methods),
                     ranks=list(ranks), steps=list(steps), seeds=list(seeds), output=output,
                     lam_A=lam_A, eval_limit=eval_limit, align_data=align_data,
                     pretrain_data=pretrain_data, task_eval=task_eval, fisher_data=fisher_data,
                     base=base)
    behaviour_fn = organism_behaviour_fn(scenario, refusal_limit) if refusal else None
    net, tokenizer = load_model(model, dtype=base.dtype, device=base.device)
    t0 = time.time()
    written = run_sweep(spec, model=net, tokenizer=tokenizer, behaviour_fn=behaviour_fn)
    print(f"wrote {written} record(s) to {spec.records_path} in {time.time() - t0:.0f} s; "
          f"fit with: alignguard scaling fit --input {spec.records_path}")
    return 0


def fit_command(input: str = "runs/scaling/sweep.jsonl", output: str = "runs/scaling",
                target: str = "forgetting_align", bootstrap: int = 200, seed: int = 0,
                amount: str = "steps") -> int:
    """Fit forgetting scaling laws (Bethune 2025, Kalajdzievski 2024) to a sweep's JSONL.

    Writes ``fit_<target>.json`` (per method: Bethune fits per LoRA rank, a Kalajdzievski fit
    over ranks and amounts, bootstrap 95% intervals, held-in R^2, extrapolation errors, and the
    paired task-loss comparison) and plots ``fit_<target>.png`` / ``task_loss.png``.

    Args:
        input: sweep results (JSONL written by ``alignguard scaling sweep``).
        output: folder for the fit report and plots.
        target: forgetting_align, forgetting_pretrain, refusal_drift or task_loss.
        bootstrap: bootstrap resamples for the 95% intervals (0 disables them).
        seed: bootstrap seed.
        amount: fine-tuning amount variable: steps or tokens_seen.
    """
    from pathlib import Path

    from alignguard.artifacts import atomic_write_json, provenance
    from alignguard.scaling.analysis import analyse, jsonable, read_records, summary_lines
    from alignguard.scaling.plots import plot_fits, plot_task_loss

    records = read_records(input)
    report = analyse(records, target=target, amount=amount, n_boot=bootstrap, seed=seed)
    report["provenance"] = provenance(seed=seed, input=str(input))
    out = Path(output)
    atomic_write_json(out / f"fit_{target}.json", jsonable(report))
    plot_fits(records, report, out / f"fit_{target}.png")
    plot_task_loss(records, out / "task_loss.png", amount=amount)
    for line in summary_lines(report):
        print(line)
    print(f"wrote {out / f'fit_{target}.json'} and plots in {out}")
    return 0
