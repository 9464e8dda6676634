"""``alignguard demo``: the command (printing lives here; the experiment in :mod:`.run`)."""

from __future__ import annotations

import json
from pathlib import Path

from alignguard.config import ConfigError, from_dict, to_dict
from alignguard.demo.run import DemoConfig, run_demo, sweep_field
from alignguard.demo.table import format_table
from alignguard.regularizers import RegularizerConfig
from alignguard.training.config import TrainConfig


def demo_command(scenario: str = "benign", method: str | None = None, seeds: int = 1, steps: int = 400,
                 lam_A: float | None = None, lam_D: float | None = None,
                 replay_fraction: float | None = None,
                 sweep: bool = False, sweep_values: list[float] | None = None,
                 eval_limit: int | None = None, output: str = "runs/demo",
                 reg: RegularizerConfig | None = None, json_: bool = False,
                 print_config: bool = False) -> int:
    """Reproduce the headline on the organism: plain LoRA drifts, the defense does not.

    Args:
        scenario: benign (similar-looking benign data), poisoned (with harmful compliance;
            uses 10% alignment replay by default) or control (no resemblance).
        method: the defense compared with plain LoRA (default: the default method of
            ``alignguard train``; ``agl`` for the paper's AlignGuard-LoRA).
        seeds: number of seeds (0..N-1); tables show mean +- std.
        steps: fine-tuning steps per run.
        lam_A: weight of the Fisher penalty (AGL methods only; default: the calibrated default).
        lam_D: weight of the weight-space Fisher directions penalty (AGL only; default 0: off).
        replay_fraction: alignment replay mixed into the task data (both methods).
        sweep: also run the sweep of the method's main weight (safety-utility frontier):
            lam_A for AGL, lam_kl for the anchors, lam_rdir for refusal-direction.
        sweep_values: values for the sweep (default: 0.3 to 100 for lam_A, 0.25 to 4 otherwise).
        eval_limit: evaluate on at most this many prompts per set (faster, noisier).
        output: output folder (results.json, report.html, one folder per run).
        reg: the defense's weights and options (every RegularizerConfig field, as in
            ``alignguard train``: ``--reg.lam-rdir 2``, ``--reg.kl-refusal-tokens 4``); plain LoRA
            ignores them.
        json_: print results as JSON instead of the table.
        print_config: print the resolved demo config (JSON) and exit without running.
    """
    chosen = method or DemoConfig().method
    defaults = ([0.3, 1.0, 3.0, 10.0, 30.0, 100.0] if sweep_field(chosen) == "lam_A"
                else [0.25, 0.5, 1.0, 2.0, 4.0]) if sweep else []
    given = reg if isinstance(reg, dict) else {}
    for name, value in (("lam_A", lam_A), ("lam_D", lam_D)):
        if value is not None and name in given:
            flag = name.replace("_", "-")
            raise ConfigError(f"--{flag} and --reg.{flag} both set the same weight; pass one")
    train = TrainConfig(reg=from_dict(RegularizerConfig, given, section="reg"))
    cfg = DemoConfig(scenario=scenario, method=chosen, seeds=list(range(seeds)), steps=steps,
                     lam_A=lam_A, lam_D=lam_D, replay_fraction=replay_fraction,
                     eval_limit=eval_limit, output=output, sweep=(sweep_values or defaults),
                     train=train)
    if print_config:
        print(json.dumps(to_dict(cfg), indent=2, default=str))
        return 0
    results = run_demo(cfg)
    if json_:
        print(json.dumps({k: results[k] for k in ("scenario", "method", "base", "summary", "sweep")},
                         indent=2, default=str))
    else:
        print(format_table(results))
        print(f"\nresults: {Path(output) / 'results.json'}\nreport:  {Path(output) / 'report.html'}")
    return 0
