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


def data_command(output: str, rejected_from: str | None = None, n_harmful: int = 340,
                 n_helpful: int = 780, seed: int = 0, max_new_tokens: int = 64, batch_size: int = 8,
                 dtype: str = "float32", device: str = "cpu") -> int:
    """Write alignment data for `--alignment-data`: the rows the shipped `smollm2-aligned` adapter
    was trained on (at the defaults), with `rejected` replies when a pre-alignment model is given.

    Writes OUTPUT/align.jsonl (prompt/response(/rejected) rows) and OUTPUT/data.json (settings,
    counts, provenance). Rejected replies (`--rejected-from smollm2`) are the model's own compliant
    answers to the harmful prompts and over-refusals for the helpful ones; AGL's defaults
    (contrastive Fisher, gate) need them. They are generated here, never shipped.

    Args:
        output: output folder.
        rejected_from: pre-alignment model that answers the harmful prompts (e.g. smollm2);
            without it only prompt/response rows are written (enough for the anchors, replay and
            the null space).
        n_harmful: refusal rows (the shipped adapter: 340).
        n_helpful: helpful rows (the shipped adapter: 780).
        seed: data seed (the shipped adapter: 0).
        max_new_tokens: greedy budget of each generated rejected reply.
        batch_size: prompts per generate call.
        dtype: model dtype.
        device: torch device.
    """
    from pathlib import Path

    from alignguard.align.data import DATA_VERSION, alignment_examples
    from alignguard.artifacts import atomic_write_json, provenance
    from alignguard.data import fingerprint_examples, write_examples

    out = Path(output)
    if out.is_file():
        raise FileExistsError(f"--output {output} is a file; pass a folder")
    if min(max_new_tokens, batch_size) < 1:
        raise ValueError("max_new_tokens and batch_size must be >= 1")
    rows = alignment_examples(n_harmful, n_helpful, seed)  # bad counts fail before a model loads
    stats = None
    if rejected_from:
        from alignguard.align.rejected import rejected_cached
        from alignguard.drift.runner import load_eval_model

        model, tokenizer = load_eval_model(rejected_from, None, dtype, device)
        rows, stats = rejected_cached(out, rows, model, tokenizer, model_id=rejected_from, seed=seed,
                                      max_new_tokens=max_new_tokens, batch_size=batch_size)
    else:
        write_examples(out / "align.jsonl", rows)
    settings = {"n_harmful": n_harmful, "n_helpful": n_helpful, "seed": seed,
                "rejected_from": rejected_from, "max_new_tokens": max_new_tokens,
                "data_version": DATA_VERSION}
    atomic_write_json(out / "data.json", {"settings": settings, "rejected": stats,
                                          "provenance": provenance(seed=seed, command="align data",
                                                                   data={"align": fingerprint_examples(rows)})})
    n_rej = sum(r.rejected is not None for r in rows)
    print(f"{len(rows)} alignment rows ({n_harmful} refusals, {n_helpful} helpful; {n_rej} with a "
          f"rejected reply) -> {out / 'align.jsonl'}")
    return 0
