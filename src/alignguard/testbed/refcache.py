"""The reference model's cached evaluation: generate the reference once per prompt set.

A cache entry is ``CACHE/<key hash>.json`` holding the reference's DriftCheck responses,
degenerate flags, every judge's verdicts and its task answers. The key covers everything that
changes them: the testbed version, the reference name and adapter (with the size and
modification time of their weight files, so a rebuilt model is not mistaken for the old one),
dtype, the selected prompts and task items (fingerprints), generation budgets, the system prompt
and the judges (names and versions).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignguard.artifacts import atomic_write_json, fingerprint_records, sha256_bytes

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin")


def weights_stamp(name: str | None) -> list:
    """``[file, size, mtime_ns]`` of the weight files behind a model name, folder or adapter."""
    if not name:
        return []
    path = Path(name)
    if not path.exists():
        try:
            from alignguard.models import resolve_model_path

            folder, gguf = resolve_model_path(name)
            path = folder / gguf if gguf else folder
        except (OSError, ValueError):
            return []
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def cache_key(cfg, records, tasks: dict[str, tuple], judges, system: str | None) -> dict[str, Any]:
    """The JSON key of the reference evaluation under ``cfg`` (see the module docstring)."""
    from alignguard.drift.judges import describe
    from alignguard.testbed.scenarios import TESTBED_VERSION

    return {
        "version": TESTBED_VERSION, "reference": cfg.reference, "reference_adapter": cfg.reference_adapter,
        "weights": weights_stamp(cfg.reference), "adapter_weights": weights_stamp(cfg.reference_adapter),
        "dtype": cfg.dtype, "prompts": fingerprint_records(r.to_dict() for r in records),
        "tasks": {t: fingerprint_records({"p": i.prompt} for i in items) for t, items in tasks.items()},
        "max_new_tokens": cfg.max_new_tokens, "task_max_new_tokens": cfg.task_max_new_tokens,
        "system": system, "judges": [describe(j) | {"members": str(getattr(j, "use_likelihood", ""))}
                                     for j in judges],
    }


def _path(folder: str | Path, key: dict[str, Any]) -> Path:
    digest = sha256_bytes(json.dumps(key, sort_keys=True).encode("utf-8"))
    return Path(folder) / f"reference-{digest[:20]}.json"


@contextlib.contextmanager
def reserved(folder: str | Path, key: dict[str, Any]) -> Iterator[None]:
    """Hold the lock of the entry under ``key`` (``filelock``, beside the entry), so that two
    evaluations of one prompt set that start together generate the reference once: the second
    waits, then finds the first one's entry (``load_cached`` again inside the lock)."""
    from filelock import FileLock

    path = _path(folder, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.with_suffix(".lock"))):
        yield


def store(folder: str | Path, key: dict[str, Any], result: dict[str, Any]) -> Path:
    """Write the reference's evaluation (``{"eval": ModelEval, "tasks": ...}``) under ``key``."""
    ev = result["eval"]
    doc = {"key": key, "responses": ev.responses, "degenerate": ev.degenerate, "ended": ev.ended,
           "needs": ev.needs,
           "seconds": ev.seconds, "tasks": result["tasks"],
           "verdicts": {n: [[v.refusal, v.score] for v in vs] for n, vs in ev.verdicts.items()}}
    return atomic_write_json(_path(folder, key), doc)


def load_cached(folder: str | Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached evaluation under ``key``, or ``None`` (no entry, or an entry for another key)."""
    from alignguard.drift.judges import Verdict
    from alignguard.drift.runner import ModelEval

    path = _path(folder, key)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable reference cache %s (%s)", path, exc)
        return None
    if doc.get("key") != json.loads(json.dumps(key)):
        return None
    verdicts = {n: [Verdict(bool(r), float(s)) for r, s in vs] for n, vs in doc["verdicts"].items()}
    ev = ModelEval(doc["responses"], doc["degenerate"], verdicts, dict(doc["seconds"]), dict(doc["needs"]),
                   doc.get("ended"))
    return {"eval": ev, "tasks": doc["tasks"]}
