"""The alignment-critical subspace of every adapted module, and its file format.

For each adapted linear module ``l`` with weight ``W0`` of shape ``(d_out, d_in)`` the alignment
Fisher is approximated in Kronecker-factored form ``F_l ~= S_in (x) S_out`` (method.md section 2).
Each factor is eigendecomposed and truncated to its top-k eigenvectors::

    S_out ~= Q_o diag(nu) Q_o^T        S_in ~= Q_i diag(mu) Q_i^T

:class:`ModuleBasis` keeps ``Q_o, nu, Q_i, mu`` (``nu`` and ``mu`` normalised by the mean of the
kept eigenvalues) plus the factor diagonals (for the Fisher-diagonal metric and diagonal-EWC
baselines). :class:`AlignmentBasis` maps module names (relative to the *base* model, e.g.
``model.layers.0.self_attn.q_proj``) to bases and carries metadata: model fingerprint, data
fingerprint, estimator options and token count. It is stored as ``fisher.safetensors`` plus
``fisher.json`` in one folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from alignguard.alignment.directions import DIRECTION_KEYS, ModuleDirections
from alignguard.artifacts import atomic_directory

FORMAT_VERSION = 1
TENSOR_FILE = "fisher.safetensors"
META_FILE = "fisher.json"
_KEYS = ("q_out", "nu", "q_in", "mu", "diag_out", "diag_in")


class FisherMismatchError(ValueError):
    """A Fisher/basis file does not belong to the model it is used with."""


@dataclass
class ModuleBasis:
    """Top-k eigenbases of one module's K-FAC factors.

    Attributes:
        q_out: ``(d_out, k_o)`` orthonormal columns, top eigenvectors of ``S_out``.
        nu: ``(k_o,)`` kept eigenvalues of ``S_out`` divided by their mean.
        q_in: ``(d_in, k_i)`` orthonormal columns, top eigenvectors of ``S_in``.
        mu: ``(k_i,)`` kept eigenvalues of ``S_in`` divided by their mean.
        diag_out: ``(d_out,)`` diagonal of ``S_out`` divided by its mean.
        diag_in: ``(d_in,)`` diagonal of ``S_in`` divided by its mean.
        directions: weight-space Fisher directions (:mod:`alignguard.alignment.directions`), or ``None``.
    """

    q_out: torch.Tensor
    nu: torch.Tensor
    q_in: torch.Tensor
    mu: torch.Tensor
    diag_out: torch.Tensor
    diag_in: torch.Tensor
    directions: ModuleDirections | None = None

    @property
    def k_out(self) -> int:
        return int(self.q_out.shape[1])

    @property
    def k_in(self) -> int:
        return int(self.q_in.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_out, d_in)`` of the module weight."""
        return int(self.q_out.shape[0]), int(self.q_in.shape[0])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> ModuleBasis:
        dirs = self.directions.to(device, dtype) if self.directions is not None else None
        return ModuleBasis(*(getattr(self, k).to(device=device, dtype=dtype) for k in _KEYS),
                           directions=dirs)


@dataclass
class AlignmentBasis:
    """Alignment-critical subspaces of all adapted modules plus provenance metadata."""

    modules: dict[str, ModuleBasis]
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.modules)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> AlignmentBasis:
        return AlignmentBasis({n: b.to(device, dtype) for n, b in self.modules.items()}, dict(self.meta))

    @property
    def has_directions(self) -> bool:
        """Whether every module carries weight-space directions."""
        return bool(self.modules) and all(b.directions is not None for b in self.modules.values())

    def with_directions(self, directions: dict[str, ModuleDirections]) -> AlignmentBasis:
        """A copy whose modules carry ``directions`` (replacing any they had)."""
        import dataclasses

        missing = sorted(set(self.modules) - set(directions))
        if missing:
            raise ValueError(f"no weight-space directions for module(s) {missing[:3]}")
        return AlignmentBasis({n: dataclasses.replace(b, directions=directions[n])
                               for n, b in self.modules.items()}, dict(self.meta))

    def save(self, folder: str | Path) -> Path:
        """Write ``fisher.safetensors`` + ``fisher.json`` into ``folder`` atomically."""
        tensors = {
            f"{name}::{key}": getattr(basis, key).detach().to("cpu").contiguous()
            for name, basis in self.modules.items()
            for key in _KEYS
        }
        for name, basis in self.modules.items():
            if basis.directions is not None:
                d = basis.directions
                for key, t in zip(DIRECTION_KEYS, (d.p, d.r, d.lam), strict=True):
                    tensors[f"{name}::{key}"] = t.detach().to("cpu").contiguous()
        meta = {"format_version": FORMAT_VERSION, "modules": sorted(self.modules), **self.meta}
        with atomic_directory(folder) as tmp:
            save_file(tensors, str(tmp / TENSOR_FILE), metadata={"format": "alignguard-fisher"})
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> AlignmentBasis:
        """Load a basis saved by :meth:`save` (safetensors, never pickle)."""
        folder = Path(folder)
        tfile, mfile = folder / TENSOR_FILE, folder / META_FILE
        if not tfile.is_file() or not mfile.is_file():
            raise FileNotFoundError(
                f"{folder} is not an AlignGuard Fisher folder (expected {TENSOR_FILE} and "
                f"{META_FILE}); create one with `alignguard fisher --model ... --output {folder}`"
            )
        redo = f"; re-create it with `alignguard fisher --output {folder}` (or delete it)"
        try:
            meta = json.loads(mfile.read_text())
            flat = load_file(str(tfile))
            modules = {}
            for name in meta["modules"]:
                has_dirs = f"{name}::{DIRECTION_KEYS[0]}" in flat
                dirs = ModuleDirections(*(flat[f"{name}::{k}"] for k in DIRECTION_KEYS)) if has_dirs else None
                modules[name] = ModuleBasis(*(flat[f"{name}::{key}"] for key in _KEYS), directions=dirs)
        except json.JSONDecodeError as exc:
            raise FisherMismatchError(f"{mfile} is not valid JSON ({exc.msg}){redo}") from exc
        except KeyError as exc:
            raise FisherMismatchError(f"the Fisher in {folder} is incomplete: {META_FILE} or "
                                      f"{TENSOR_FILE} lacks the entry {exc}{redo}") from exc
        except Exception as exc:  # safetensors raises its own SafetensorError on corrupt files
            if type(exc).__name__ != "SafetensorError":
                raise
            raise FisherMismatchError(f"{tfile} is corrupted or truncated ({exc}){redo}") from exc
        if "module_fingerprints" not in meta:
            raise FisherMismatchError(f"{mfile} has no module fingerprints, so it cannot be checked "
                                      f"against the model it is used with{redo}")
        return cls(modules, meta)

    def check_model(self, model: torch.nn.Module, module_names: Iterable[str] | None = None) -> None:
        """Raise :class:`FisherMismatchError` unless this basis was estimated on ``model``.

        Compares the stored model fingerprint (architecture, module shapes and a digest of the
        targeted base weights) and that every requested module has a basis of the right shape.
        """
        names = list(module_names) if module_names is not None else sorted(self.modules)
        missing = [n for n in names if n not in self.modules]
        if missing:
            raise FisherMismatchError(
                f"the Fisher file has no basis for {len(missing)} adapted module(s), e.g. "
                f"{missing[:3]}; it covers {sorted(self.modules)[:3]}... Re-run `alignguard fisher` "
                "with the same --target-modules as training."
            )
        stored = self.meta.get("module_fingerprints")
        if stored is None:  # estimated in memory from collated batches: nothing to compare
            return
        current = module_digests(model, names)
        wrong = [n for n in names if stored.get(n) != current[n]]
        if wrong:
            raise FisherMismatchError(
                f"this Fisher file was estimated on a different model: {len(wrong)} of "
                f"{len(names)} adapted modules have other weights or shapes (e.g. {wrong[0]}; "
                f"Fisher model: {self.meta.get('model_name', '?')!r}). Estimate the Fisher on the "
                "exact base model you fine-tune: `alignguard fisher --model <that model>`."
            )


def _base_linear(module: torch.nn.Module) -> torch.nn.Module:
    return getattr(module, "base_layer", module)


def module_digests(model: torch.nn.Module, module_names: Iterable[str]) -> dict[str, str]:
    """Per module: shape plus a rounded digest (sum, sum of squares) of its base weight.

    Names are relative to the base model; a PEFT-wrapped model is unwrapped first, so the same
    digests come out before and after LoRA is attached.
    """
    from alignguard.targets import base_model_of

    mods = dict(base_model_of(model).named_modules())
    out = {}
    for name in module_names:
        if name not in mods:
            out[name] = "missing"
            continue
        w = _base_linear(mods[name]).weight.detach()
        w64 = w.to(torch.float64)
        out[name] = f"{tuple(w.shape)}:{float(w64.sum()):.4e}:{float(w64.square().sum()):.4e}"
    return out


def model_fingerprint(model: torch.nn.Module, module_names: Iterable[str]) -> str:
    """SHA-256 over :func:`module_digests` of the named modules (sorted by name)."""
    digests = module_digests(model, sorted(module_names))
    return hashlib.sha256("".join(f"{n}:{d};" for n, d in digests.items()).encode()).hexdigest()
