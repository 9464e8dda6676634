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
        if dataclasses.is_dataclass(tp):
            if isinstance(value, tp):
                kwargs[name] = value
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"config section '{where}.{name}' must be a mapping, got "
                                  f"{type(value).__name__} {value!r}")
            value = from_dict(tp, value, section=f"{where}.{name}")
        else:
            value = coerce(value, hints[name], f"{where}.{name}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid config section '{where}': {exc}") from exc


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against annotation ``tp`` and converted where that is lossless.

    Strings become numbers and booleans (YAML reads ``1e-4`` as a string; the CLI passes
    strings); an integer field refuses ``2.7``; ``None`` only where the annotation allows it;
    a comma-separated string fills a list field. Other types pass unchanged.

    Raises:
        ConfigError: naming the field, the value and the expected type.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1] if errors else f"{where}: invalid value {value!r}")
    if tp is Any:
        return value
    if value is None:
        raise ConfigError(f"{where} must be set (got null/None)")
    if tp is bool:
        return _to_bool(value, where)
    if tp is int:
        return _to_int(value, where)
    if tp is float:
        return _to_float(value, where)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {type(value).__name__} {value!r}")
        return value
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {type(value).__name__} {value!r}")
        item = args[0] if args else Any
        items = [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {type(value).__name__} {value!r}")
        return value
    return value


def _to_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"{where} must be true or false, got {value!r}")


def _to_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where} must be an integer, got {type(value).__name__} {value!r}")


def _to_float(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where} must be a number, got {type(value).__name__} {value!r}")


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
