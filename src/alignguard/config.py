"""Typed configuration: dataclasses loadable from YAML/JSON with unknown keys rejected.

Every config in AlignGuard is a (possibly nested) dataclass. :func:`from_dict` builds one from a
mapping and refuses keys the dataclass does not declare, naming the key, the section and the
allowed keys, so a typo in a YAML file is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message says which and how to fix it."""


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def from_dict(cls: type[T], data: dict[str, Any] | None, *, section: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, recursing into nested dataclass fields.

    Raises:
        ConfigError: ``data`` has a key ``cls`` does not declare, or is not a mapping.
    """
    data = dict(data or {})
    where = section or cls.__name__
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} in config section '{where}'; "
            f"allowed keys are: {sorted(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        tp = _unwrap_optional(hints[name])
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            value = from_dict(tp, value, section=f"{where}.{name}")
        elif typing.get_origin(tp) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid config section '{where}': {exc}") from exc


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-serialisable dict of a dataclass config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def load_config(cls: type[T], path: str | Path, overrides: dict[str, Any] | None = None) -> T:
    """Load ``cls`` from a YAML or JSON file, applying dotted-key ``overrides`` on top."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level")
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value)
    return from_dict(cls, raw)


def set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``target['a']['b'] = value`` for ``dotted == 'a.b'``, creating sections."""
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def replace(cfg: T, **changes: Any) -> T:
    """``dataclasses.replace`` with dotted keys for nested sections (``reg.lam_A=10``)."""
    data = dataclasses.asdict(cfg)  # type: ignore[call-overload]
    for key, value in changes.items():
        set_dotted(data, key.replace("__", "."), value)
    return from_dict(type(cfg), data)
