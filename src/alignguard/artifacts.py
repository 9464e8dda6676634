"""Artifacts on disk: atomic writes, provenance records and fingerprints.

Every file AlignGuard writes goes through :func:`atomic_write_bytes` (write to a temporary file
in the same folder, ``fsync``, then ``os.replace``), so an interrupted run never leaves a
half-written artifact behind. Every output folder carries ``provenance.json`` from
:func:`provenance` (package versions, git commit, host, seed, data fingerprints).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

PROVENANCE_PACKAGES = ("torch", "transformers", "peft", "accelerate", "safetensors", "numpy", "trl")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; use the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Build a folder under a temporary name and move it into place only on success.

    Yields the temporary folder; on normal exit any existing ``path`` is replaced by it, on an
    exception the temporary folder is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_jsonl(path: str | os.PathLike, *, error: type[Exception] = ValueError,
               missing: str = "file {path} does not exist", hint: str = ""
               ) -> Iterator[tuple[str, Any]]:
    """Parse a JSONL file strictly: yield ``(location, value)`` per non-blank line.

    ``location`` is ``"path:line"`` for the caller's own validation messages.

    Raises:
        error: the file is missing (``missing``, formatted with ``path``) or a line is not valid
            JSON (the message names the line; ``hint`` is appended).
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a folder; pass a JSONL file (one JSON object per line)")
    if not path.is_file():
        raise error(missing.format(path=path))
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{path}:{lineno}: not UTF-8 text (byte {raw[exc.start]:#04x} at "
                            f"column {exc.start + 1}); save the file as UTF-8") from None
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{where}: not valid JSON ({exc.msg}){hint}") from exc
            yield where, value


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fingerprint_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint_records(records: Iterable[Mapping[str, Any]]) -> str:
    """Order-sensitive SHA-256 of JSON-serialisable records (e.g. prompt/response rows)."""
    h = hashlib.sha256()
    for rec in records:
        h.update(json.dumps(rec, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """The git commit of the checkout that holds this package's source, or ``None``.

    ``None`` when the package does not run from a git checkout, and also when the git repository
    found above it does not track the package's files (an installed copy in a virtual
    environment that lives inside some other repository must not report that repository's
    commit). A ``-dirty`` suffix marks uncommitted changes to tracked files.
    """
    here = Path(cwd) if cwd else Path(__file__).resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=here, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return None
    if cwd is None:
        tracked = git("ls-files", "--error-unmatch", Path(__file__).name)
        if tracked is None or tracked.returncode != 0:
            return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    suffix = "-dirty" if dirty is not None and dirty.stdout.strip() else ""
    return head.stdout.strip() + suffix


def package_versions(names: Iterable[str] = PROVENANCE_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` for a package that is not installed)."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(
    *, seed: int | None = None, data: Mapping[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A provenance record: versions, git commit, host, time, seed and data fingerprints."""
    from alignguard import __version__

    return {
        "alignguard": __version__,
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "created_unix": int(time.time()),
        "command": sys.argv,
        "seed": seed,
        "data_fingerprints": dict(data or {}),
        **extra,
    }
