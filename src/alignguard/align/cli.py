"""``alignguard align``: the command (the stage itself is in :mod:`alignguard.align.run`)."""

from __future__ import annotations

from dataclasses import asdict

from alignguard.align.run import AlignSettings, align, format_summary


def align_command(model: str | None = None, output: str | None = None, config: str | None = None,
                  method: str | None = None, steps: int | None = None, batch_size: int | None = None,
                  lr: float | None = None, r: int | None = None, eval_limit: int | None = None,
                  max_new_tokens: int | None = None, seed: int | None = None,
                  device: str | None = None, dtype: str | None = None) -> int:
    """Align an instruct model (refusal SFT) and report DriftCheck before and after.

    With LoRA the alignment is saved as a float16 PEFT adapter with its build.json (output/adapter;
    `configs/smollm2-align-cpu.yaml` rebuilds the adapter shipped as `--model smollm2-aligned`)
    and merged for the check.

    Args:
        model: instruct model: "smollm2" (default), a local Hugging Face folder or a .gguf file.
        output: output folder (data/, sft/, adapter/, model/, drift/, align.json); default
            runs/align.
        config: YAML file with AlignSettings fields (e.g. configs/smollm2-align-cpu.yaml); the
            options below override it.
        method: "lora" (merged into the weights after training) or "full-ft".
        steps: SFT optimizer steps.
        batch_size: rows per micro-batch.
        lr: peak learning rate.
        r: LoRA rank.
        eval_limit: DriftCheck prompts (stratified subset) evaluated before and after.
        max_new_tokens: greedy generation budget per DriftCheck prompt.
        seed: seed of the data, LoRA init and DriftCheck subset.
        device: torch device (cpu, cuda).
        dtype: float32, bfloat16 or float16.
    """
    from alignguard.config import from_dict, load_config

    base = load_config(AlignSettings, config) if config else from_dict(AlignSettings, {})
    changes = {"model": model, "output": output, "method": method, "steps": steps,
               "batch_size": batch_size, "lr": lr, "r": r, "eval_limit": eval_limit,
               "max_new_tokens": max_new_tokens, "seed": seed, "device": device, "dtype": dtype}
    data = {**asdict(base), **{k: v for k, v in changes.items() if v is not None}}
    settings = from_dict(AlignSettings, data)
    summary = align(settings)
    print(format_summary(summary))
    return 0
