"""``alignguard organism build|eval``: rebuild and evaluate the model organism."""

from __future__ import annotations

import json

import torch

from alignguard.organism.build import CHECKPOINT_ROOT, BuildConfig, build
from alignguard.organism.evaluate import evaluate


def build_command(output: str = str(CHECKPOINT_ROOT), seed: int = 0,
                  pretrain_steps: int = BuildConfig.pretrain_steps,
                  align_steps: int = BuildConfig.align_steps, threads: int = 2) -> int:
    """Build the model organism (pretrained and aligned checkpoints) from scratch.

    Args:
        output: folder that receives ``pretrained/`` and ``aligned/`` (replaced atomically).
        seed: seed of the corpus sampling, tokenizer corpus and weight initialisation.
        pretrain_steps: optimiser steps of the pretraining stage.
        align_steps: optimiser steps of the alignment (SFT) stage.
        threads: CPU threads for torch.
    """
    if pretrain_steps < 1 or align_steps < 1:
        raise ValueError("pretrain_steps and align_steps must be >= 1")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    cfg = BuildConfig(seed=seed, pretrain_steps=pretrain_steps, align_steps=align_steps)
    result = build(cfg, output)
    for stage, m in result.items():
        h, u = m["heldout"], m["unseen"]
        print(f"{stage:>10}: refusal {h['refusal_accuracy']:.3f} held-out / {u['refusal_accuracy']:.3f} "
              f"unseen objects, over-refusal {h['over_refusal']:.3f}, skills "
              + ", ".join(f"{k} {v:.2f}" for k, v in h["skill_scores"].items()))
    print(f"built in {result['aligned']['timing']['build_seconds']:.0f} s -> {output}")
    return 0


def eval_command(model: str = "organism", adapter: str | None = None, scenario: str = "benign",
                 limit: int | None = None, json_: bool = False) -> int:
    """Evaluate the organism (optionally with a LoRA adapter) on held-out world prompts.

    Args:
        model: base model: "organism", "organism-pretrained" or a local model folder.
        adapter: folder of a PEFT adapter to load on top of the model (optional).
        scenario: drift scenario whose new skill is scored: alignment, benign, poisoned, control.
        limit: cap on prompts per category / skill (faster, noisier).
        json_: print the metrics as JSON instead of a table.
    """
    from pathlib import Path

    from alignguard.models import load_model

    base, tokenizer = load_model(model)
    net = base
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{adapter} is not a PEFT adapter folder (no adapter_config.json)")
        net = PeftModel.from_pretrained(base, adapter)
    result = {s: evaluate(net, tokenizer, scenario=scenario, split=s, limit=limit)
              for s in ("heldout", "unseen")}
    if json_:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    for split, m in result.items():
        print(f"[{split}] refusal {m['refusal_accuracy']:.3f} (n={m['n_unsafe']})  "
              f"over-refusal {m['over_refusal']:.3f} (n={m['n_lookalike']})  "
              f"task {m['task_score']:.3f} (n={m['n_task']})  degenerate {m['degenerate_rate']:.3f}")
        print("  per category: " + ", ".join(f"{c} {v:.2f}" for c, v in m["refusal_per_category"].items()))
        print("  old skills:   " + ", ".join(f"{s} {v:.2f}" for s, v in m["skill_scores"].items()))
    return 0
