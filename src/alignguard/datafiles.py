"""Training rows from Hugging Face ``datasets``: objects, local files and saved folders.

Accepted, besides the strict JSONL reader of :mod:`alignguard.data`:

* a ``datasets.Dataset`` (or a ``DatasetDict`` with a ``train`` split, or any iterable of dicts)
  passed in Python (:func:`examples_from_dataset`);
* local files read with ``datasets.load_dataset`` and the builder of their extension: ``.json``
  (a JSON array or JSON lines), ``.parquet``, ``.csv`` (:func:`read_dataset`);
* folders written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``, read with
  ``datasets.load_from_disk``.

Rows follow TRL's dataset formats: ``prompt``/``response``, ``prompt``/``completion``,
``prompt``/``chosen``(/``rejected``) or ``messages``. Columns are checked first (one line naming
the columns found and the ones expected), then every row as in a JSONL file (one line naming
the row). Everything is local: no hub access, no download.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from alignguard.data import DataError, Example, examples_from_rows, read_examples

BUILDERS = {".json": "json", ".parquet": "parquet", ".csv": "csv"}
FORMATS = (("messages",), ("prompt", "response"), ("prompt", "completion"), ("prompt", "chosen"))


def check_columns(columns: Iterable[str], source: str) -> None:
    """Raise :class:`DataError` unless ``columns`` hold one of the accepted formats."""
    have = set(columns)
    if not any(set(f) <= have for f in FORMATS):
        wanted = ", ".join("/".join(f) for f in FORMATS)
        raise DataError(f"dataset {source} has columns {sorted(have)}; expected one of: {wanted}")


def examples_from_dataset(dataset: object, source: str = "dataset") -> list[Example]:
    """Examples from a ``datasets.Dataset``, a ``DatasetDict`` (its ``train`` split) or an
    iterable of row dicts, validated like a JSONL file.

    Raises:
        DataError: a ``DatasetDict`` without ``train``, columns of no accepted format, or a
            malformed row (named by its index).
    """
    if isinstance(dataset, (str, Path)):
        return read_dataset(dataset)
    if _is_dataset_dict(dataset):
        if "train" not in dataset:
            raise DataError(f"{source} is a DatasetDict with splits {sorted(dataset)}; pass one "
                            "split (e.g. dataset['train']) or add a 'train' split")
        dataset, source = dataset["train"], f"{source}['train']"
    columns = getattr(dataset, "column_names", None)
    if columns is not None:
        check_columns(columns, source)
    return examples_from_rows(dataset, source)


def read_dataset(path: str | Path) -> list[Example]:
    """Examples from a local file or folder: ``.jsonl`` (strict reader), ``.json``,
    ``.parquet``, ``.csv`` (``datasets.load_dataset``) or a ``save_to_disk`` folder.

    Raises:
        DataError: the path does not exist, has another extension, or holds bad rows.
    """
    path = Path(path)
    if path.is_dir():
        return examples_from_dataset(_load_from_disk(path), str(path))
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None or not path.is_file():
        return read_examples(path)  # .jsonl, and the missing-file / wrong-type messages
    from datasets import load_dataset

    try:
        dataset = load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # pyarrow / datasets parse errors: one line naming the file
        if "corresponds to no data" in str(exc):  # datasets' words for a file without rows
            raise DataError(f"dataset {path} is empty: it needs at least one row") from exc
        raise DataError(f"dataset {path} could not be read as {builder} "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc
    return examples_from_dataset(dataset, str(path))


def _load_from_disk(path: Path):
    from datasets import load_from_disk

    if not ((path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()):
        raise DataError(f"{path} is a folder but not one written by datasets' save_to_disk (no "
                        "dataset_info.json or dataset_dict.json); pass a data file or such a folder")
    return load_from_disk(str(path))


def _is_dataset_dict(obj: object) -> bool:
    return type(obj).__name__ in ("DatasetDict", "IterableDatasetDict") and isinstance(obj, dict)


__all__ = ["BUILDERS", "check_columns", "examples_from_dataset", "read_dataset"]
