"""``prepare_alignment``: everything the chosen defense needs from the aligned weights, once.

A run loads its alignment set once, and estimates at ``W0`` only what its components ask for
(``needs``): the K-FAC Fisher bases (``"fisher"``, AGL's ``L_A/L_T/E_col``, arXiv 2508.02079
section 3), the weight-space Fisher directions (``"directions"``, ``L_D``) and the alignment
gate's preference direction (``"preference"``). A cached Fisher in the run folder is reused only
when it was estimated from the same alignment rows with the same settings; otherwise it is
estimated again (and the reason logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from alignguard.alignment.basis import AlignmentBasis
from alignguard.alignment.settings import AlignmentSettings
from alignguard.data import Example, contrastive_examples, encoded_batches, fingerprint_examples
from alignguard.parallel import dist_info, is_main_process, shard_batch

log = logging.getLogger(__name__)
NEEDS = ("fisher", "directions", "preference", "deltas", "examples", "activations")
_SETTINGS_KEYS = ("tokens", "estimator", "explained_variance", "max_rank")


@dataclass
class AlignmentArtifacts:
    """What :func:`prepare_alignment` produced.

    Attributes:
        spec: the alignment data spec the rows came from.
        examples: the alignment rows (loaded once; empty when nothing needed them).
        fingerprint: SHA-256 of ``examples``.
        basis: the Fisher bases (with directions when asked for), or ``None``.
        gate: the alignment gate at ``W0`` (:class:`~alignguard.alignment.gate.AlignmentGate`).
        deltas: module name -> ``W_aligned - W_base`` (float32, CPU) for the adapted modules.
        tokenizer: the model's tokenizer (components that encode alignment rows use it).
        target_names: the adapted modules (relative to the base model).
        activations: module name -> ``U`` (``d_in x k``, float32, CPU), the leading eigenvectors
            of the module's input covariance on the alignment rows holding
            ``settings.activation_energy`` of its spectrum (:mod:`alignguard.alignment.activations`).
    """

    spec: str | None = None
    examples: list[Example] = field(default_factory=list)
    fingerprint: str | None = None
    basis: AlignmentBasis | None = None
    gate: object | None = None
    deltas: dict[str, torch.Tensor] | None = None
    tokenizer: object | None = None
    target_names: list[str] = field(default_factory=list)
    activations: dict[str, torch.Tensor] | None = None


def prepare_alignment(settings: AlignmentSettings, model: torch.nn.Module, tokenizer, *,
                      needs: Sequence[str], target_modules: str | Sequence[str], model_name: str,
                      seed: int = 0, cache_dir: str | Path | None = None,
                      basis: AlignmentBasis | None = None) -> AlignmentArtifacts:
    """Estimate at the model's current (aligned) weights what ``needs`` names.

    Args:
        settings: the alignment data and estimate sizes.
        model: the aligned model, before any adapter is attached.
        tokenizer: its tokenizer.
        needs: subset of :data:`NEEDS`: ``"fisher"``, ``"directions"``, ``"preference"``,
            ``"deltas"`` (alignment deltas against ``settings.base_model``), ``"examples"`` (the
            alignment rows only), ``"activations"`` (input subspaces on the alignment rows).
        target_modules: the adapter's target modules (a preset or suffixes; LoraSettings).
        model_name: the model's name (recorded in the Fisher metadata).
        seed: seed of the sampled Fisher estimator.
        cache_dir: a run's ``fisher/`` folder: reused when it matches, written when estimated.
        basis: a Fisher the caller already has (used as is).

    Raises:
        ValueError: ``needs`` names an unknown artifact, or alignment data is missing.
    """
    unknown = sorted(set(needs) - set(NEEDS))
    if unknown:
        raise ValueError(f"unknown alignment artifact(s) {unknown}; known: {list(NEEDS)}")
    out = AlignmentArtifacts(basis=basis, tokenizer=tokenizer)
    if not needs:
        return out
    from alignguard.targets import resolve_target_modules

    _, target_names = resolve_target_modules(model, target_modules)
    out.target_names = list(target_names)
    if "deltas" in needs:
        out.deltas = alignment_deltas(model, settings.base_model_or(model_name), target_names)
    if settings.fisher and out.basis is None and ("fisher" in needs or "directions" in needs):
        out.basis = AlignmentBasis.load(settings.fisher)
    from alignguard.dataspec import load_dataset_spec

    out.spec = settings.data_or(model_name)
    out.examples = load_dataset_spec(out.spec)
    out.fingerprint = fingerprint_examples(out.examples)
    if ("fisher" in needs or "directions" in needs) and out.basis is None:
        out.basis = _cached_or_estimated(settings, model, tokenizer, out.examples,
                                         (target_modules, target_names), model_name, seed, cache_dir)
    if "directions" in needs and out.basis is not None and not out.basis.has_directions:
        out.basis = _with_directions(out.basis, settings, model, tokenizer, out.examples, cache_dir)
    _add_activation_artifacts(out, settings, model, tokenizer, needs)
    return out


def _add_activation_artifacts(out: AlignmentArtifacts, settings: AlignmentSettings,
                              model: torch.nn.Module, tokenizer, needs: Sequence[str]) -> None:
    """The input subspaces (``"activations"``) and the alignment gate (``"preference"``) of the
    alignment rows, written into ``out``."""
    if "activations" in needs:
        from alignguard.alignment.activations import activation_bases

        out.activations = activation_bases(
            model, out.examples[: settings.activation_examples], tokenizer, out.target_names,
            energy=settings.activation_energy, batch_size=settings.batch_size,
            max_length=settings.max_length)
    if "preference" in needs:
        from alignguard.alignment.gate import AlignmentGate

        out.gate = AlignmentGate.estimate(model, out.examples[: settings.gate_examples], tokenizer,
                                          out.target_names, tau=float("inf"),
                                          batch_size=settings.batch_size,
                                          max_length=settings.max_length)


def alignment_deltas(model: torch.nn.Module, base_model: str,
                     names: Sequence[str]) -> dict[str, torch.Tensor]:
    """``W_aligned - W_base`` of every named module (the base model loaded, read, released).

    Raises:
        ValueError: the base model lacks a module or has another shape (not the same family).
    """
    from alignguard.models import load_model
    from alignguard.targets import base_model_of

    base, _ = load_model(base_model)
    aligned_mods = dict(base_model_of(model).named_modules())
    base_mods = dict(base.named_modules())
    deltas = {}
    for name in names:
        if name not in base_mods:
            raise ValueError(f"the base model {base_model!r} has no module {name!r}; it must be "
                             "the same architecture as the aligned model")
        w_a = getattr(aligned_mods[name], "base_layer", aligned_mods[name]).weight
        w_b = base_mods[name].weight
        if w_a.shape != w_b.shape:
            raise ValueError(f"{name}: aligned weight {tuple(w_a.shape)} vs base {tuple(w_b.shape)}")
        deltas[name] = (w_a.detach().float().cpu() - w_b.detach().float().cpu())
    del base
    log.info("alignment deltas against %s: %d modules", base_model, len(deltas))
    return deltas


def _cached_or_estimated(settings: AlignmentSettings, model, tokenizer, examples: list[Example],
                         targets: tuple, model_name: str, seed: int,
                         cache_dir: str | Path | None) -> AlignmentBasis:
    target_modules, target_names = targets
    rows = examples[: settings.max_examples]
    if cache_dir is not None and (Path(cache_dir) / "fisher.json").is_file():
        cached = AlignmentBasis.load(cache_dir)
        stale = _stale_reason(cached, settings, fingerprint_examples(rows), target_names)
        if stale is None:
            return cached
        log.warning("re-estimating the cached Fisher in %s: %s", cache_dir, stale)
    basis = estimate_fisher_sharded(
        model, rows, tokenizer=tokenizer, target_modules=target_modules,
        tokens=settings.tokens, estimator=settings.estimator,
        explained_variance=settings.explained_variance, max_rank=settings.max_rank,
        batch_size=settings.batch_size, max_length=settings.max_length, seed=seed,
        model_name=model_name)
    if cache_dir is not None and is_main_process():  # one writer: renames would race
        basis.save(cache_dir)
    return basis


def _stale_reason(basis: AlignmentBasis, settings: AlignmentSettings, data_fp: str,
                  target_names: Sequence[str]) -> str | None:
    """Why a cached basis cannot be reused (``None``: it can)."""
    if basis.meta.get("data_fingerprint") != data_fp:
        return "the alignment data changed since it was estimated"
    for key in _SETTINGS_KEYS:
        if basis.meta.get(key) != getattr(settings, key):
            return f"{key} was {basis.meta.get(key)!r}, now {getattr(settings, key)!r}"
    if sorted(basis.modules) != sorted(target_names):
        return "the adapted modules changed"
    return None


def estimate_fisher_sharded(model: torch.nn.Module, examples: Sequence[Example], *, tokenizer,
                            tokens: str = "all", batch_size: int = 16, max_length: int = 128,
                            max_examples: int | None = None, seed: int = 0, **kwargs
                            ) -> AlignmentBasis:
    """:func:`~alignguard.alignment.fisher.estimate_alignment_fisher`, each rank on its rows.

    The global batches are the ones a single process would form; rank ``r`` of ``w`` takes rows
    ``[r::w]`` of each. ``collect_kfac_factors`` all-reduces ``S_in``, ``S_out`` and the token
    count, so the eigenbases equal the single-process ones up to float summation order. Without
    an initialised process group this is exactly ``estimate_alignment_fisher``. The sampled
    estimator draws with seed ``seed + rank`` (statistically, not bitwise, equivalent).

    Args:
        model: the aligned causal LM, whole on every rank (not FSDP-sharded).
        examples: the alignment examples (the same list on every rank).
        tokenizer: its tokenizer.
        tokens: ``"all"`` or ``"response"``.
        batch_size: examples per global batch.
        max_length: token limit per example.
        max_examples: use the first ``max_examples`` examples (``None``: all).
        seed: seed of the sampled estimator.
        **kwargs: passed on (target_modules, estimator, explained_variance, max_rank, progress,
            model_name).
    """
    from alignguard.alignment.fisher import estimate_alignment_fisher

    rank, world = dist_info()
    examples = list(examples)[:max_examples] if max_examples else list(examples)
    if world == 1:
        return estimate_alignment_fisher(model, examples, tokenizer=tokenizer, tokens=tokens,
                                         batch_size=batch_size, max_length=max_length, seed=seed,
                                         **kwargs)
    if not examples:
        raise ValueError("the alignment data set is empty; pass at least one example")
    estimator = kwargs.pop("estimator", "empirical")
    sequences = contrastive_examples(examples) if estimator == "contrastive" else examples
    batches = encoded_batches(tokenizer, sequences, batch_size=batch_size, max_length=max_length,
                              loss_on="all" if tokens == "all" else "response")
    kwargs.setdefault("progress", rank == 0)
    basis = estimate_alignment_fisher(
        model, [shard_batch(b, rank, world) for b in batches], tokens=tokens, seed=seed + rank,
        estimator="empirical" if estimator == "contrastive" else estimator, **kwargs)
    basis.meta.update(data_fingerprint=fingerprint_examples(examples), n_examples=len(examples),
                      n_sequences=len(sequences), world_size=world, seed=seed, estimator=estimator)
    return basis


def _with_directions(basis: AlignmentBasis, settings: AlignmentSettings, model: torch.nn.Module,
                     tokenizer, examples: Sequence, cache_dir: str | Path | None) -> AlignmentBasis:
    """``basis`` with the weight-space Fisher directions of ``L_D`` estimated on the first
    ``settings.direction_examples`` alignment rows (saved to ``cache_dir`` on the main rank)."""
    from alignguard.alignment.directions import estimate_directions

    rows = examples[: settings.direction_examples]
    basis = basis.with_directions(estimate_directions(
        model, rows, tokenizer, sorted(basis.modules), k=settings.directions,
        rank=settings.direction_rank, tokens=settings.tokens, batch_size=settings.batch_size,
        max_length=settings.max_length))
    if cache_dir is not None and is_main_process():
        basis.save(cache_dir)
    return basis
