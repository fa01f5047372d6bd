"""Turns a TOML document into typed, frozen settings dataclasses, or one precise error.

Each settings section is a dataclass; this module walks the type hints, so a new
section needs no loader code. Errors name the file, the dotted key path and the reason.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal, get_args, get_origin


class ConfigError(ValueError):
    """A configuration mistake, with the file and key it came from."""

    def __init__(self, path: str | Path | None, key: str, reason: str) -> None:
        self.path = str(path) if path else "<config>"
        self.key = key
        self.reason = reason
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {reason}")


def secret(default: str = "", **kw: Any) -> Any:
    """A string field that may be written as `env:NAME` and is never echoed back."""
    return dataclasses.field(default=default, metadata={"secret": True, **kw.pop("metadata", {})}, **kw)


def resolve_secret(value: str, key: str, path: str | Path | None) -> str:
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ConfigError(path, key, f"environment variable {name} is not set")
        return os.environ[name]
    return value


def load_section(cls: type, data: Any, key: str, path: str | Path | None) -> Any:
    """Build dataclass `cls` from `data`, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(path, key, f"expected a table, got {_type_name(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    aliases = getattr(cls, "__aliases__", {})
    values: dict[str, Any] = {}
    for raw_name, raw_value in data.items():
        name = aliases.get(raw_name, raw_name)
        sub = f"{key}.{raw_name}" if key else raw_name
        if name not in fields:
            known = ", ".join(sorted(set(fields) | set(aliases)))
            raise ConfigError(path, sub, f"unknown key (known keys: {known})")
        field = fields[name]
        value = _convert(hints[name], raw_value, sub, path)
        if field.metadata.get("secret") and isinstance(value, str):
            value = resolve_secret(value, sub, path)
        values[name] = value
    for name, field in fields.items():
        if name not in values and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(path, f"{key}.{name}" if key else name, "required key is missing")
    try:
        obj = cls(**values)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(path, key, str(exc)) from None
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ConfigError:
            raise
        except ValueError as exc:
            # validate() may raise ValueError("subkey: reason") to point inside the section
            msg = str(exc)
            sub, sep, reason = msg.partition(": ")
            if sep and sub.replace("_", "").replace(".", "").isalnum() and " " not in sub:
                raise ConfigError(path, f"{key}.{sub}" if key else sub, reason) from None
            raise ConfigError(path, key, msg) from None
    return obj


def _convert(tp: Any, value: Any, key: str, path: str | Path | None) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(args) != len(get_args(tp)):
            return None
        errors = []
        for arg in args:
            try:
                return _convert(arg, value, key, path)
            except ConfigError as exc:
                errors.append(exc.reason)
        raise ConfigError(path, key, " or ".join(errors))
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices)
            raise ConfigError(path, key, f"must be one of {shown}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(path, key, f"expected a list, got {_type_name(value)}")
        (item_tp, *_rest) = get_args(tp) or (Any,)
        items = [_convert(item_tp, v, f"{key}[{i}]", path) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, key, f"expected a table, got {_type_name(value)}")
        _, val_tp = get_args(tp) or (str, Any)
        return {k: _convert(val_tp, v, f"{key}.{k}", path) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return load_section(tp, value, key, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, key, f"expected true or false, got {_type_name(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, key, f"expected an integer, got {_type_name(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, key, f"expected a number, got {_type_name(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, key, f"expected a string, got {_type_name(value)}")
        return value
    if tp in (date, datetime, time):
        if isinstance(value, tp) and not (tp is date and isinstance(value, datetime)):
            return value
        if isinstance(value, str):
            try:
                return tp.fromisoformat(value)
            except ValueError:
                pass
        raise ConfigError(path, key, f"expected a {tp.__name__}, got {value!r}")
    parse = getattr(tp, "from_config", None)
    if parse is not None:
        try:
            return parse(value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(path, key, str(exc)) from None
    raise ConfigError(path, key, f"unsupported setting type {tp!r}")


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string",
        list: "a list", dict: "a table",
    }.get(type(value), type(value).__name__)
