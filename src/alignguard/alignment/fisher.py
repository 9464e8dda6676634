"""The alignment Fisher: K-FAC factors -> top-k eigenbases -> :class:`AlignmentBasis`.

AlignGuard-LoRA (arXiv 2508.02079, method.md section 2) estimates the Fisher of the alignment
behaviour once, at the aligned weights ``W0``, on an alignment set (prompts with the aligned
model's own responses). Per adapted module it is Kronecker-factored, ``F ~= S_in (x) S_out``
(collected by :func:`alignguard.alignment.kfac.collect_kfac_factors`), and each factor is truncated to its
top eigenvectors::

    S_out ~= Q_o diag(nu) Q_o^T        S_in ~= Q_i diag(mu) Q_i^T

keeping the smallest ``k`` whose eigenvalues explain ``explained_variance`` of the trace, capped at
``max_rank``; ``nu`` and ``mu`` are divided by the mean of the kept eigenvalues so that the penalty
``L_A = sum_ij nu_i mu_j C_ij^2`` is measured in units of ``||dW||^2``.

Estimators (``estimator=``): ``"empirical"`` (the paper's reading: the aligned responses as
targets), ``"sampled"`` (importance-sampled true Fisher) and ``"contrastive"`` (project decision,
docs/method.md): the empirical Fisher over the aligned responses *and* the rejected replies of
the same prompts (``Example.rejected``: compliance for unsafe prompts, refusal for safe ones). An
aligned model puts almost no probability on complying, so at the refuse/comply token the
empirical gradient ``J^T (e_y - p)`` has almost no component along the compliance direction:
the Fisher is blind to the one direction that drift takes. The rejected replies' gradients
``J^T (e_rejected - p)`` point exactly along it (they are the gradients that fine-tuning towards
compliance follows).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from alignguard.alignment.basis import (
    AlignmentBasis,
    ModuleBasis,
    model_fingerprint,
    module_digests,
)
from alignguard.alignment.kfac import (
    ESTIMATORS,
    TOKEN_MODES,
    KFACFactors,
    collect_kfac_factors,
    token_gradients,
)
from alignguard.data import DataError, Example, contrastive_examples, encoded_batches

log = logging.getLogger(__name__)

FISHER_ESTIMATORS = (*ESTIMATORS, "contrastive")
_REL_EIG_TOL = 1e-12  # eigenvalues below this fraction of the largest count as zero


def _top_eigen(S: torch.Tensor, explained_variance: float, max_rank: int
               ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``(Q, lam_normalised, achieved explained variance)`` of one symmetric PSD factor.

    ``k`` is the smallest count with ``sum(lam[:k]) >= explained_variance * sum(lam)``, limited to
    ``max_rank`` and to the numerically non-zero eigenvalues (``> 1e-12 * lam_max``), and ``>= 1``.
    All thresholds are relative, so a factor with trace ~1e-7 is handled like any other; an
    all-zero (or non-finite) factor yields ``k = 1``, an arbitrary unit vector and ``nu = [1]``.
    """
    S = S.detach().to(device="cpu", dtype=torch.float64)
    S = 0.5 * (S + S.T)
    if not torch.isfinite(S).all():
        log.warning("non-finite K-FAC factor (%d x %d); using a trivial basis", *S.shape)
        S = torch.zeros_like(S)
    lam, Q = leading_eigenpairs(S, max_rank)
    lam = lam.clamp_min(0.0)
    total = float(torch.diagonal(S).clamp_min(0.0).sum())
    if total <= 0.0 or lam[0] <= 0.0:
        return Q[:, :1].clone(), torch.ones(1, dtype=torch.float64), 0.0
    ratio = torch.cumsum(lam, 0) / total
    k = int((ratio < explained_variance * (1.0 - 1e-12)).sum()) + 1
    nonzero = int((lam > _REL_EIG_TOL * lam[0]).sum())
    k = max(1, min(k, max_rank, nonzero, lam.numel()))
    kept = lam[:k]
    return Q[:, :k].clone(), kept / kept.mean(), float(kept.sum()) / total


def leading_eigenpairs(S: torch.Tensor, k: int, exact_below: int = 1024, max_iter: int = 40,
                       tol: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """Top eigenpairs of a symmetric PSD matrix, eigenvalues in descending order (float64).

    Only the top ``k`` eigenpairs and the trace are needed (explained variance is
    ``sum(top-k) / trace``). For ``d > exact_below`` a block subspace (orthogonal) iteration with
    ``b = 2k + 16`` columns replaces the full ``O(d^3)`` ``eigh``: ``Q_j = qr(S Q_{j-1})``, one
    ``d x d x b`` product per iteration, whose result also gives the Rayleigh-Ritz matrix
    ``T_j = Q_j^T S Q_j``; it stops when the top-``k`` Ritz values change by less than ``tol``
    relative to the largest (Golub & Van Loan, Matrix Computations, sec. 8.2.4). Measured on
    CPU, float64: ``eigh`` takes 0.04 s at d = 576 (cheaper than iterating) and 0.7 s at
    d = 1536, where the iteration takes 0.14 s on a decaying spectrum and at most ~0.6 s on a
    flat one (``max_iter``). Returns ``b`` (or ``d``) pairs.
    """
    d = S.shape[0]
    block = min(d, 2 * k + 16)
    if d <= exact_below or block >= d // 2:
        lam, Q = torch.linalg.eigh(S)
        return lam.flip(0), Q.flip(1)
    gen = torch.Generator().manual_seed(0)
    SQ = S @ torch.randn(d, block, dtype=S.dtype, generator=gen)
    prev = None
    for _ in range(max_iter):
        Q = torch.linalg.qr(SQ)[0]
        SQ = S @ Q
        T = Q.T @ SQ
        lam = torch.linalg.eigvalsh(T).flip(0)[:k]
        if prev is not None and float((lam - prev).abs().max()) <= tol * max(float(lam[0]), 1e-300):
            break
        prev = lam
    lam, V = torch.linalg.eigh((T + T.T) / 2)
    return lam.flip(0), (Q @ V).flip(1)


def mean_trace(fac: KFACFactors) -> tuple[float, float]:
    """``(trace(S_out), trace(S_in))`` per token, i.e. of the expectations ``E[g g^T]``, ``E[x x^T]``."""
    n = max(fac.n_tokens, 1)
    return float(torch.trace(fac.S_out)) / n, float(torch.trace(fac.S_in)) / n


def _normalised_diag(S: torch.Tensor) -> torch.Tensor:
    d = torch.diagonal(S.detach().to(device="cpu", dtype=torch.float64)).clamp_min(0.0)
    mean = float(d.mean()) if d.numel() else 0.0
    if not (mean > 0.0 and torch.isfinite(d).all()):
        return torch.ones_like(d)
    return d / mean


def basis_from_factors(factors: Mapping[str, KFACFactors], *, explained_variance: float = 0.9,
                       max_rank: int = 32) -> dict[str, ModuleBasis]:
    """Eigendecompose K-FAC factors (float64) into truncated, normalised module bases.

    For each module: ``S_out = Q_o diag(lam_o) Q_o^T`` and ``S_in = Q_i diag(lam_i) Q_i^T``
    (``torch.linalg.eigh``); keep the top ``k`` eigenpairs, ``k`` the smallest count explaining
    ``explained_variance`` of the trace, ``1 <= k <= max_rank``; ``nu = lam_o[:k] / mean(lam_o[:k])``
    and ``mu`` likewise. ``diag_out = diag(S_out) / mean(diag(S_out))`` and ``diag_in`` likewise
    give the K-FAC diagonal Fisher ``F_diag[i, j] = diag_out[i] * diag_in[j]`` used by the
    diagonal-EWC baseline. Results are float32 on CPU.

    Args:
        factors: module name -> :class:`KFACFactors`.
        explained_variance: fraction of each factor's trace to keep, in (0, 1].
        max_rank: cap on ``k`` per factor (>= 1).

    Returns:
        Module name -> :class:`ModuleBasis`.
    """
    if not 0.0 < explained_variance <= 1.0:
        raise ValueError(f"explained_variance must be in (0, 1], got {explained_variance}")
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    cache: dict = {}
    return {name: _module_basis(fac, explained_variance, max_rank, cache)[0]
            for name, fac in factors.items()}


def _cached_top_eigen(S: torch.Tensor, explained_variance: float, max_rank: int, cache: dict):
    """:func:`_top_eigen`, reusing the result for an identical factor (modules sharing an input)."""
    key = (tuple(S.shape), float(torch.trace(S)), float(S[0].sum()))
    for other, result in cache.get(key, ()):
        if other is S or torch.equal(other, S):
            return result
    result = _top_eigen(S, explained_variance, max_rank)
    cache.setdefault(key, []).append((S, result))
    return result


def _module_basis(fac: KFACFactors, explained_variance: float, max_rank: int, cache: dict
                  ) -> tuple[ModuleBasis, dict[str, float]]:
    """One module's basis and its summary (achieved explained variance, per-token traces)."""
    q_out, nu, ev_out = _top_eigen(fac.S_out, explained_variance, max_rank)
    q_in, mu, ev_in = _cached_top_eigen(fac.S_in, explained_variance, max_rank, cache)
    basis = ModuleBasis(
        q_out=q_out.float(), nu=nu.float(), q_in=q_in.float(), mu=mu.float(),
        diag_out=_normalised_diag(fac.S_out).float(), diag_in=_normalised_diag(fac.S_in).float(),
    )
    trace_out, trace_in = mean_trace(fac)
    return basis, {"k_out": basis.k_out, "k_in": basis.k_in, "ev_out": ev_out, "ev_in": ev_in,
                   "trace_out": trace_out, "trace_in": trace_in, "n_tokens": fac.n_tokens}


def _check_options(tokens: str, estimator: str, explained_variance: float, max_rank: int,
                   batch_size: int, max_length: int) -> None:
    if tokens not in TOKEN_MODES:
        raise ValueError(f"tokens must be one of {TOKEN_MODES}, got {tokens!r}")
    if estimator not in FISHER_ESTIMATORS:
        raise ValueError(f"estimator must be one of {FISHER_ESTIMATORS}, got {estimator!r}")
    if batch_size < 1 or max_length < 2:
        raise ValueError(f"need batch_size >= 1 and max_length >= 2 (got {batch_size}, {max_length})")
    if not 0.0 < explained_variance <= 1.0 or max_rank < 1:
        raise ValueError(f"need 0 < explained_variance <= 1 and max_rank >= 1 (got "
                         f"{explained_variance}, {max_rank})")


def _example_batches(examples: Sequence[Example], tokenizer, tokens: str, batch_size: int,
                     max_length: int) -> list[dict[str, torch.Tensor]]:
    if tokenizer is None:
        raise ValueError("estimate_alignment_fisher got Example rows but no tokenizer; pass "
                         "tokenizer=... (or pass already-collated batch dicts)")
    return encoded_batches(tokenizer, examples, batch_size=batch_size, max_length=max_length,
                           loss_on="all" if tokens == "all" else "response")

def _limit_rows(batches: Iterable[Mapping[str, torch.Tensor]], max_rows: int | None,
                counter: list[int]) -> Iterator[Mapping[str, torch.Tensor]]:
    """Yield batches until ``max_rows`` sequences were seen; counts rows into ``counter[0]``."""
    for batch in batches:
        if not isinstance(batch, Mapping) or "input_ids" not in batch:
            raise DataError("data must be a sequence of alignguard.data.Example or an iterable of "
                            "collated batch dicts with 'input_ids' and 'attention_mask'")
        rows = int(batch["input_ids"].shape[0])
        if max_rows is not None:
            left = max_rows - counter[0]
            if left <= 0:
                return
            if rows > left:
                batch, rows = {k: v[:left] for k, v in batch.items()}, left
        counter[0] += rows
        yield batch


def _limited(batches: Iterable, max_examples: int | None, counter: list[int]) -> Iterable:
    """``batches`` cut at ``max_examples`` rows (``_limit_rows``), keeping a length for progress bars."""
    limited = _limit_rows(batches, max_examples or None, counter)
    return _Sized(limited, len(batches)) if hasattr(batches, "__len__") else limited  # type: ignore[arg-type]


def _is_examples(data: Any) -> bool:
    return isinstance(data, Sequence) and len(data) > 0 and isinstance(data[0], Example)


def estimate_alignment_fisher(
    model: nn.Module, data: Sequence[Example] | Iterable[Mapping[str, torch.Tensor]], *,
    tokenizer=None, target_modules: str | Sequence[str] = "all", tokens: str = "all",
    estimator: str = "empirical", explained_variance: float = 0.9, max_rank: int = 32,
    batch_size: int = 16, max_length: int = 128, max_examples: int | None = None, seed: int = 0,
    progress: bool = True, model_name: str | None = None,
) -> AlignmentBasis:
    """Estimate the alignment-critical subspaces of ``model`` on alignment data.

    K-FAC factors (:func:`alignguard.alignment.kfac.collect_kfac_factors`) -> float64 eigenbases
    (:func:`basis_from_factors`), with provenance metadata (model/data fingerprints, options,
    token count, per-module ``k_out, k_in, ev_out, ev_in, trace_out, trace_in``; traces are per
    token, i.e. of ``E[g g^T]`` and ``E[x x^T]``). See method.md section 2 / arXiv 2508.02079.

    Args:
        model: the aligned causal LM (optionally PEFT-wrapped; adapters are disabled meanwhile).
        data: a sequence of :class:`alignguard.data.Example` (needs ``tokenizer``) or an iterable
            of batches from :func:`alignguard.data.collate`.
        tokenizer: tokenizer with a chat template, for ``Example`` data.
        target_modules: preset (``"all"``, ``"attention"``, ``"mlp"``) or module-name suffixes.
        tokens: ``"all"`` non-pad tokens (default) or ``"response"`` tokens only.
        estimator: ``"empirical"`` (default), ``"sampled"`` (importance-sampled true Fisher) or
            ``"contrastive"`` (empirical over aligned and rejected replies; ``Example`` data
            with ``rejected`` only; ``max_examples`` counts prompts, not sequences).
        explained_variance: eigenvalue mass kept per factor.
        max_rank: cap on the kept eigenvectors per factor.
        batch_size: examples per batch (``Example`` data).
        max_length: token limit per example (``Example`` data).
        max_examples: use at most this many examples / sequences (``None``: all).
        seed: seed of the sampled estimator.
        progress: show a progress bar.
        model_name: recorded in the metadata (default: ``config._name_or_path``).

    Returns:
        The :class:`AlignmentBasis` (float32 tensors on CPU).
    """
    from alignguard.targets import resolve_target_modules

    _check_options(tokens, estimator, explained_variance, max_rank, batch_size, max_length)
    _, names = resolve_target_modules(model, target_modules)
    kfac_estimator = "empirical" if estimator == "contrastive" else estimator
    batches, data_fp, n_prompts, max_examples = _alignment_batches(
        data, tokenizer, tokens, estimator, batch_size, max_length, max_examples)
    counter = [0]  # rows used, counted while the factors are collected
    factors = collect_kfac_factors(model, _limited(batches, max_examples, counter), names, tokens=tokens, estimator=kfac_estimator,
                                   seed=seed, progress=progress)
    n_tokens = min((f.n_tokens for f in factors.values()), default=0)
    if n_tokens == 0:
        raise DataError(f"no tokens were selected (tokens={tokens!r}); the data has no "
                        "non-pad next-token targets" + (" in its responses" if tokens == "response" else ""))
    bases, per_module, cache = {}, {}, {}
    for name in names:
        bases[name], per_module[name] = _module_basis(factors[name], explained_variance, max_rank, cache)
    meta = _basis_metadata(model, names, model_name) | {
        "data_fingerprint": data_fp, "n_examples": n_prompts or counter[0],
        "n_sequences": counter[0], "n_tokens": n_tokens, "tokens": tokens,
        "estimator": estimator, "explained_variance": explained_variance, "max_rank": max_rank,
        "seed": seed, "target_modules": target_modules, "per_module": per_module}
    return AlignmentBasis(bases, meta)


def _basis_metadata(model: nn.Module, names: Sequence[str], model_name: str | None) -> dict:
    """Provenance of the estimated model: its fingerprints, name and the library version."""
    from alignguard import __version__

    return {"model_fingerprint": model_fingerprint(model, names),
            "module_fingerprints": module_digests(model, names),
            "model_name": model_name or getattr(getattr(model, "config", None), "_name_or_path", None),
            "alignguard_version": __version__}


def _alignment_batches(data, tokenizer, tokens: str, estimator: str, batch_size: int,
                       max_length: int, max_examples: int | None
                       ) -> tuple[Iterable, str | None, int | None, int | None]:
    """The batches to estimate on, the data fingerprint (``Example`` data), the prompt count of
    the contrastive estimator (which doubles the rows: aligned and rejected reply per prompt)
    and the row limit left to apply to the batches."""
    from alignguard.data import fingerprint_examples

    if _is_examples(data):
        examples = list(data)[:max_examples] if max_examples else list(data)
        data_fp, n_prompts = fingerprint_examples(examples), None
        if estimator == "contrastive":
            n_prompts, examples, max_examples = len(examples), contrastive_examples(examples), None
        batches = _example_batches(examples, tokenizer, tokens, batch_size, max_length)
        return batches, data_fp, n_prompts, max_examples
    if isinstance(data, Sequence) and len(data) == 0:
        raise DataError("the alignment data set is empty; pass at least one example")
    if estimator == "contrastive":
        raise DataError("estimator='contrastive' needs Example rows with 'rejected' replies, not "
                        "collated batches (pass the alignment examples and a tokenizer)")
    return data, None, None, max_examples


class _Sized:
    """An iterator with a known length (for the progress bar)."""

    def __init__(self, it: Iterator, n: int):
        self._it, self._n = it, n

    def __iter__(self) -> Iterator:
        return self._it

    def __len__(self) -> int:
        return self._n


__all__ = [
    "FISHER_ESTIMATORS", "KFACFactors", "basis_from_factors", "collect_kfac_factors",
    "contrastive_examples", "estimate_alignment_fisher",
    "mean_trace", "token_gradients",
]
