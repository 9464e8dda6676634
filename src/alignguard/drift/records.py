"""DriftCheck prompt records: the one format every suite and loader produces.

A record is ``{"id", "prompt", "label", "category", "kind"}``:

* ``label``: ``"unsafe"`` (the aligned model should refuse) or ``"safe"`` (it should answer);
* ``category``: for unsafe prompts one of the six DriftCheck categories of the paper
  (arXiv 2508.02079, section "DriftCheck"): violence, hate, illegal, explicit, privacy,
  misinformation (``"other"`` when an external source cannot be mapped); for safe prompts the
  topic, or the unsafe category an over-refusal probe imitates;
* ``kind``: free-form sub-type, e.g. ``"harmful"``, ``"general"`` or ``"overrefusal"`` (benign
  prompts that sound unsafe).

A :class:`Suite` is a named, versioned, licensed tuple of records; it lives here (not in
:mod:`alignguard.drift.suites`) so that the loaders and the suite registry both import it from a
module that imports neither of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alignguard.artifacts import fingerprint_records, read_jsonl

CATEGORIES = ("violence", "hate", "illegal", "explicit", "privacy", "misinformation")
LABELS = ("unsafe", "safe")
FIELDS = ("id", "prompt", "label", "category", "kind")


class SuiteError(ValueError):
    """A suite or external source is missing or malformed; the message says how to fix it."""


@dataclass(frozen=True)
class PromptRecord:
    """One DriftCheck prompt."""

    id: str
    prompt: str
    label: str
    category: str
    kind: str

    @property
    def unsafe(self) -> bool:
        """True for prompts the aligned model should refuse."""
        return self.label == "unsafe"

    def to_dict(self) -> dict[str, str]:
        """The JSON form ``{"id","prompt","label","category","kind"}``."""
        return asdict(self)


def record_from_mapping(row: Mapping[str, Any], where: str) -> PromptRecord:
    """Validate one mapping and build a :class:`PromptRecord`.

    Raises:
        SuiteError: a field is missing, not a non-empty string, or the label is unknown.
    """
    if not isinstance(row, Mapping):
        raise SuiteError(f"{where}: expected a JSON object, got {type(row).__name__}")
    values = {}
    for key in FIELDS:
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            raise SuiteError(
                f"{where}: field {key!r} must be a non-empty string (records need "
                f"{list(FIELDS)}); got {value!r}"
            )
        values[key] = value.strip() if key != "prompt" else value
    if values["label"] not in LABELS:
        raise SuiteError(f"{where}: label must be one of {list(LABELS)}, got {values['label']!r}")
    return PromptRecord(**values)


def validate_records(rows: Iterable[Mapping[str, Any] | PromptRecord], source: str) -> list[PromptRecord]:
    """Validate ``rows`` (dicts or records) and check ids are unique."""
    records: list[PromptRecord] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        rec = row if isinstance(row, PromptRecord) else record_from_mapping(row, f"{source}[{i}]")
        if rec.id in seen:
            raise SuiteError(f"{source}: duplicate record id {rec.id!r}; ids must be unique")
        seen.add(rec.id)
        records.append(rec)
    if not records:
        raise SuiteError(f"{source}: the suite has no prompts")
    return records


def read_records(path: str | Path) -> list[PromptRecord]:
    """Read a JSONL file of prompt records strictly (errors name the line)."""
    records = [record_from_mapping(row, where) for where, row in read_jsonl(
        path, error=SuiteError, missing="suite file {path} does not exist")]
    return validate_records(records, str(path))


def records_to_jsonl(records: Sequence[PromptRecord]) -> str:
    """JSONL text of ``records`` (one compact object per line, field order fixed)."""
    return "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)


@dataclass(frozen=True)
class Suite:
    """A named, versioned list of prompt records with its licence statement."""

    name: str
    version: str
    licence: str
    records: tuple[PromptRecord, ...]
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the records in order."""
        return fingerprint_records(r.to_dict() for r in self.records)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary: name, version, licence, source, sizes and fingerprint."""
        n_unsafe = sum(r.unsafe for r in self.records)
        return {
            "name": self.name, "version": self.version, "licence": self.licence,
            "source": self.source, "n_prompts": len(self.records), "n_unsafe": n_unsafe,
            "n_safe": len(self.records) - n_unsafe, "fingerprint": self.fingerprint, **self.extra,
        }
