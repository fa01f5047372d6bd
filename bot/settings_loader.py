"""Turns a TOML document into typed, frozen settings dataclasses, or every error it holds.

Each settings section is a dataclass; this module walks the type hints, so a new
section needs no loader code. Errors name the file, the dotted English key path and the
reason in zh-CN; the loader keeps going past a bad key and raises one ConfigErrors listing all.
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
        super().__init__(self.line())

    def line(self) -> str:
        """`<file>: <key.path>: <reason>`, as check-config prints it."""
        where = f"{self.path}: {self.key}" if self.key else self.path
        return f"{where}: {self.reason}"

    @property
    def errors(self) -> list[ConfigError]:
        return [self]


class ConfigErrors(ConfigError):
    """Every mistake found in one file; reads as its first one for callers that want a single error."""

    def __init__(self, errors: list[ConfigError]) -> None:
        flat = [e for err in errors for e in err.errors]
        if not flat:
            raise ValueError("ConfigErrors needs at least one error")
        first = flat[0]
        self._errors = flat
        super().__init__(first.path, first.key, first.reason)
        self.args = ("\n".join(e.line() for e in flat),)

    @property
    def errors(self) -> list[ConfigError]:
        return list(self._errors)

    def __str__(self) -> str:
        return self.args[0]


def raise_all(errors: list[ConfigError]) -> None:
    """Raise nothing, the one error, or a ConfigErrors carrying them all."""
    if len(errors) == 1 and not isinstance(errors[0], ConfigErrors):
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)


def secret(default: str = "", **kw: Any) -> Any:
    """A string field that may be written as `env:NAME` and is never echoed back."""
    return dataclasses.field(default=default, metadata={"secret": True, **kw.pop("metadata", {})}, **kw)


def resolve_secret(value: str, key: str, path: str | Path | None) -> str:
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ConfigError(path, key, f"环境变量 {name} 未设置")
        return os.environ[name]
    return value


class _Bad:
    """Marks a value that could not be loaded; its error is already in the list."""


_BAD: Any = _Bad()


def load_section(cls: type, data: Any, key: str, path: str | Path | None) -> Any:
    """Build dataclass `cls` from `data`, rejecting unknown keys and wrong types.

    Keeps going past a bad key so that one ConfigErrors lists every mistake at once.
    """
    errors: list[ConfigError] = []
    obj = _load_section(cls, data, key, path, errors)
    raise_all(errors)
    return obj


def _load_section(cls: type, data: Any, key: str, path: str | Path | None, errors: list[ConfigError]) -> Any:
    if not isinstance(data, dict):
        errors.append(ConfigError(path, key, f"应为表（table），实际是{_type_name(data)}"))
        return _BAD
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    aliases = getattr(cls, "__aliases__", {})
    values: dict[str, Any] = {}
    bad = False
    for raw_name, raw_value in data.items():
        name = aliases.get(raw_name, raw_name)
        sub = f"{key}.{raw_name}" if key else raw_name
        if name not in fields:
            known = ", ".join(sorted(set(fields) | set(aliases)))
            errors.append(ConfigError(path, sub, f"未知的配置项（可用的有：{known}）"))
            bad = True
            continue
        field = fields[name]
        value = _convert(hints[name], raw_value, sub, path, errors)
        if value is _BAD:
            bad = True
            continue
        if field.metadata.get("secret") and isinstance(value, str):
            try:
                value = resolve_secret(value, sub, path)
            except ConfigError as exc:
                errors.append(exc)
                bad = True
                continue
        values[name] = value
    for name, field in fields.items():
        if name not in values and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            if any(aliases.get(n, n) == name for n in data):
                continue  # present but invalid: already reported
            errors.append(ConfigError(path, f"{key}.{name}" if key else name, "缺少必填项"))
            bad = True
    if bad:
        return _BAD  # a section with bad fields is not built and its validate() not run
    try:
        obj = cls(**values)
    except ConfigError as exc:
        errors.append(exc)
        return _BAD
    except (ValueError, TypeError) as exc:
        errors.append(ConfigError(path, key, str(exc)))
        return _BAD
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ConfigError as exc:
            errors.append(exc)
            return _BAD
        except ValueError as exc:
            errors.append(_validate_error(str(exc), key, path))
            return _BAD
        except ExceptionGroup as group:
            # validate() may report several "subkey: reason" mistakes at once
            values_only, rest = group.split(ValueError)
            if rest is not None or values_only is None:
                raise
            errors.extend(_validate_error(str(e), key, path) for e in _leaves(values_only))
            return _BAD
    return obj


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def _validate_error(msg: str, key: str, path: str | Path | None) -> ConfigError:
    # validate() may raise ValueError("subkey: reason") to point inside the section
    sub, sep, reason = msg.partition(": ")
    if sep and sub.replace("_", "").replace(".", "").replace("[", "").replace("]", "").isalnum() and " " not in sub:
        return ConfigError(path, f"{key}.{sub}" if key else sub, reason)
    return ConfigError(path, key, msg)


def _convert(tp: Any, value: Any, key: str, path: str | Path | None, errors: list[ConfigError]) -> Any:
    """The typed value, or _BAD after appending why not to `errors`."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(args) != len(get_args(tp)):
            return None
        reasons: list[str] = []
        for arg in args:
            trial: list[ConfigError] = []
            result = _convert(arg, value, key, path, trial)
            if result is not _BAD:
                return result
            if len(args) == 1:
                errors.extend(trial)  # Optional[X]: X's own errors, with their precise keys
                return _BAD
            reasons.extend(e.reason for e in trial[:1])
        errors.append(ConfigError(path, key, "，或".join(reasons)))
        return _BAD
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            shown = "、".join(repr(c) for c in choices)
            errors.append(ConfigError(path, key, f"应为 {shown} 之一，实际是 {value!r}"))
            return _BAD
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            errors.append(ConfigError(path, key, f"应为列表，实际是{_type_name(value)}"))
            return _BAD
        (item_tp, *_rest) = get_args(tp) or (Any,)
        items = [_convert(item_tp, v, f"{key}[{i}]", path, errors) for i, v in enumerate(value)]
        if any(item is _BAD for item in items):
            return _BAD
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(ConfigError(path, key, f"应为表（table），实际是{_type_name(value)}"))
            return _BAD
        _, val_tp = get_args(tp) or (str, Any)
        table = {k: _convert(val_tp, v, f"{key}.{k}", path, errors) for k, v in value.items()}
        if any(v is _BAD for v in table.values()):
            return _BAD
        return table
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _load_section(tp, value, key, path, errors)
    checked = _convert_scalar(tp, value)
    if isinstance(checked, _Reason):
        errors.append(ConfigError(path, key, checked.text))
        return _BAD
    return checked


class _Reason:
    def __init__(self, text: str) -> None:
        self.text = text


_DATE_EXAMPLES = {date: "日期，如 \"2026-11-01\"", datetime: "日期时间，如 \"2026-11-11T20:00:00+08:00\"",
                  time: "时间，如 \"19:30\""}


def _convert_scalar(tp: Any, value: Any) -> Any:
    """A scalar's typed value, or a _Reason in zh-CN."""
    if tp is bool:
        if not isinstance(value, bool):
            return _Reason(f"应为 true 或 false，实际是{_type_name(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return _Reason(f"应为整数，实际是{_type_name(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _Reason(f"应为数字，实际是{_type_name(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            return _Reason(f"应为字符串，实际是{_type_name(value)}")
        return value
    if tp in (date, datetime, time):
        if isinstance(value, tp) and not (tp is date and isinstance(value, datetime)):
            return value
        if isinstance(value, str):
            try:
                return tp.fromisoformat(value)
            except ValueError:
                pass
        return _Reason(f"应为{_DATE_EXAMPLES[tp]}，实际是 {value!r}")
    parse = getattr(tp, "from_config", None)
    if parse is not None:
        try:
            return parse(value)
        except (ValueError, TypeError) as exc:
            return _Reason(str(exc))
    return _Reason(f"不支持的配置类型 {tp!r}")


def _type_name(value: Any) -> str:
    return {
        bool: "布尔值", int: "整数", float: "数字", str: "字符串",
        list: "列表", dict: "表（table）",
    }.get(type(value), type(value).__name__)
