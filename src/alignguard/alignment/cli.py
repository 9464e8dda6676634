"""``alignguard fisher``: estimate and save the alignment Fisher of a model."""

from __future__ import annotations

from pathlib import Path

from alignguard.alignment.basis import META_FILE, AlignmentBasis
from alignguard.alignment.fisher import _check_options, estimate_alignment_fisher


def _check_output(output: str) -> None:
    """Refuse a non-empty folder that is not a Fisher (``fisher`` replaces its own kind only)."""
    out = Path(output)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / META_FILE).is_file())):
        raise FileExistsError(f"--output {out} exists and is not a saved alignment Fisher; "
                              "choose an empty or new folder (nothing was changed)")


def fisher_command(
    model: str = "organism", data: str = "organism:alignment", output: str = "runs/fisher",
    target_modules: str = "all", tokens: str = "response", estimator: str = "contrastive",
    explained_variance: float = 0.9, max_rank: int = 32, batch_size: int = 16,
    max_length: int = 128, max_examples: int = 512, seed: int = 0,
) -> int:
    """Estimate the alignment Fisher subspaces of a model and save them.

    Args:
        model: model name or local folder ("organism", "smollm2", a save_pretrained folder).
        data: alignment data: a JSONL file of prompt/response(/rejected) rows or
            "organism:alignment".
        output: output folder (fisher.safetensors, fisher.json, provenance.json).
        target_modules: preset "all", "attention", "mlp" or comma-separated module names.
        tokens: "response" tokens (default) or "all" non-pad tokens.
        estimator: "contrastive" (aligned and rejected replies; rows need a "rejected" field),
            "empirical" (given targets only) or "sampled" (importance-sampled true Fisher).
        explained_variance: eigenvalue mass kept per K-FAC factor, in (0, 1].
        max_rank: cap on the eigenvectors kept per factor.
        batch_size: examples per forward/backward pass.
        max_length: token limit per example.
        max_examples: use at most this many examples (0 or less: all).
        seed: random seed (sampled estimator).
    """
    from alignguard.artifacts import atomic_write_json, provenance
    from alignguard.dataspec import load_dataset_spec
    from alignguard.models import load_model

    spec = _target_spec(target_modules)
    _check_options(tokens, estimator, explained_variance, max_rank, batch_size, max_length)
    _check_output(output)
    examples = load_dataset_spec(data)
    if estimator == "contrastive":
        _check_pairs(examples, data)
    lm, tokenizer = load_model(model)
    basis = estimate_alignment_fisher(
        lm, examples, tokenizer=tokenizer, target_modules=spec, tokens=tokens, estimator=estimator,
        explained_variance=explained_variance, max_rank=max_rank, batch_size=batch_size,
        max_length=max_length, max_examples=max_examples if max_examples > 0 else None, seed=seed,
        model_name=model,
    )
    out = basis.save(output)
    atomic_write_json(Path(out) / "provenance.json", provenance(
        seed=seed, data={data: basis.meta["data_fingerprint"]}, command="fisher",
        model=model, model_fingerprint=basis.meta["model_fingerprint"],
        options={"target_modules": target_modules, "tokens": tokens, "estimator": estimator,
                 "explained_variance": explained_variance, "max_rank": max_rank,
                 "batch_size": batch_size, "max_length": max_length, "max_examples": max_examples},
    ))
    print(_summary_text(basis, out))
    return 0


def _target_spec(target_modules: str) -> str | list[str]:
    """A preset name as it is, else the comma-separated module names (an empty list is an error)."""
    from alignguard.targets import PRESETS

    if target_modules in PRESETS:
        return target_modules
    names = [s.strip() for s in target_modules.split(",") if s.strip()]
    if not names:
        raise ValueError("--target-modules is empty; use a preset (all, attention, mlp) or names")
    return names


def _check_pairs(examples: list, data: str) -> None:
    """The contrastive estimator needs a ``rejected`` reply per row, different from its response."""
    from alignguard.data import DataError, contrastive_examples

    contrastive_examples(examples)  # raises without rejected replies
    same = [i for i, e in enumerate(examples) if e.rejected is not None and e.rejected == e.response]
    if same:
        raise DataError(f"{data}: row {same[0] + 1} has 'rejected' equal to its 'response'; "
                        "a preference pair must differ")


def _summary_text(basis: AlignmentBasis, folder: Path) -> str:
    meta = basis.meta
    width = max(len(n) for n in basis.modules)
    lines = [f"alignment Fisher: {len(basis)} modules, {meta['n_examples']} examples, "
             f"{meta['n_tokens']} tokens ({meta['tokens']}, {meta['estimator']}) -> {folder}",
             f"{'module':<{width}}  k_out  k_in"]
    for name, b in basis.modules.items():
        lines.append(f"{name:<{width}}  {b.k_out:>5}  {b.k_in:>4}")
    ks_o = [b.k_out for b in basis.modules.values()]
    ks_i = [b.k_in for b in basis.modules.values()]
    lines.append(f"mean k_out {sum(ks_o) / len(ks_o):.1f}, mean k_in {sum(ks_i) / len(ks_i):.1f}")
    return "\n".join(lines)
