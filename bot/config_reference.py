"""docs/config.md and docs/config.example.toml, generated from the settings dataclasses.

Every key of config.toml is a field of a frozen dataclass reachable from `Settings`; its
meaning is the comment written just above the field (or the class docstring for a table).
`python -m bot.config_reference` rewrites both files; a test fails when they are stale.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import sys
import tokenize
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from bot.config import Settings
from bot.kernel.durations import Duration, format_duration

DOCS = Path(__file__).resolve().parent.parent / "docs"
REFERENCE = DOCS / "config.md"
EXAMPLE = DOCS / "config.example.toml"


@dataclass(frozen=True)
class Key:
    """One config key: where it lives, its TOML type, default and meaning."""

    table: str  # "console", "adapters.onebot", "[keywords]" for an array of tables
    name: str
    type: str
    default: str
    meaning: str
    secret: bool


@dataclass(frozen=True)
class Table:
    path: str
    array: bool
    meaning: str
    keys: list[Key]

    @property
    def header(self) -> str:
        """How the table is opened in TOML: `[path]`, or `[[path]]` for an array of tables."""
        return f"[[{self.path}]]" if self.array else f"[{self.path}]"


def tables(root: type = Settings) -> list[Table]:
    """Every table of the config, depth first, in field order."""
    found: list[Table] = []
    _walk(root, "", False, "", found)
    return found


def _walk(cls: type, path: str, array: bool, meaning: str, found: list[Table]) -> None:
    hints = typing.get_type_hints(cls)
    comments = _field_comments(cls)
    keys: list[Key] = []
    nested: list[tuple[type, str, bool, str]] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name == "source":
            continue
        tp = hints[f.name]
        sub = _dataclass_of(tp)
        if sub is not None:
            nested.append((sub, f"{path}.{f.name}" if path else f.name, get_origin(tp) is list,
                           comments.get(f.name) or _doc(sub)))
            continue
        keys.append(Key(path, f.name, _type_name(tp), _default(f), comments.get(f.name, ""),
                        bool(f.metadata.get("secret"))))
    if path:
        found.append(Table(path, array, meaning, keys))
    for sub, sub_path, sub_array, sub_meaning in nested:
        _walk(sub, sub_path, sub_array, sub_meaning, found)


def _dataclass_of(tp: Any) -> type | None:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return tp
    if get_origin(tp) is list:
        (item,) = get_args(tp)
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return item
    return None


def _doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    # dataclasses invent a signature docstring when there is none
    if doc.startswith(cls.__name__ + "("):
        return ""
    return " ".join(doc.split())


@cache
def _field_comments(cls: type) -> dict[str, str]:
    """The comment lines right above each field (or at the end of its line) in the class body."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in _logical_lines(source):
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        name, sep, _ = stripped.partition(":")
        if sep and name.isidentifier() and not stripped.startswith(("def ", "class ", "@")):
            trailing = _trailing_comment(line)
            text = " ".join(pending + ([trailing] if trailing else []))
            if text:
                comments[name] = text
        pending = []
    return comments


def _logical_lines(source: str) -> Iterator[str]:
    """Lines of the class body at its first indentation level (fields and their comments)."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("class "))
    body_indent = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if body_indent is None:
            body_indent = indent
        if indent == body_indent:
            yield line


def _trailing_comment(line: str) -> str:
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            if tok.type == tokenize.COMMENT:
                return tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return ""


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(_toml(v) for v in get_args(tp))
    if origin in (list, tuple):
        (item, *_rest) = get_args(tp) or (Any,)
        return f"list of {_type_name(item)}s"
    if origin is dict:
        _, val = get_args(tp) or (str, Any)
        return f"table of {_type_name(val)}s"
    return {
        bool: "boolean", int: "integer", float: "number", str: "string", Duration: "duration",
        date: "date", datetime: "date-time", time: "time", Any: "any",
    }.get(tp) or str(getattr(tp, "config_type", None) or getattr(tp, "__name__", tp))


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "(required)"
    if value is None:
        return "(unset)"  # TOML has no null: an optional key is simply left out
    return _toml(value)


def _toml(value: Any) -> str:
    if isinstance(value, Duration):
        return f'"{format_duration(value)}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _toml_key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else _toml(key)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def console_labels() -> dict[str, dict[str, str]]:
    """Per table, the zh-CN field names the console's forms show, where a form edits that table."""
    from schedules.forms import CAMPAIGN_LABELS, POST_LABELS

    return {"campaigns": CAMPAIGN_LABELS, "posts": POST_LABELS}


def reference_markdown(found: list[Table] | None = None) -> str:
    found = tables() if found is None else found
    labels = console_labels()
    count = sum(len(t.keys) for t in found)
    out = [
        "# Configuration reference",
        "",
        "<!-- generated by `python -m bot.config_reference`; do not edit by hand -->",
        "",
        f"Every key config.toml accepts ({count} keys in {len(found)} tables), generated from the",
        "settings dataclasses. A complete commented example is in",
        "[config.example.toml](config.example.toml). Durations are written like `\"30s\"`, `\"5m\"`,",
        "`\"1h30m\"` or `\"0\"`; a secret may be written `\"env:NAME\"` to read it from the environment.",
        "`qunbot check-config` validates a file without starting the bot. A default of `(required)`",
        "marks a key that must be given; `(unset)` an optional key that is left out by default.",
        "",
    ]
    for table in found:
        out += [f"## `{table.header}`", ""]
        if table.meaning:
            out += [table.meaning, ""]
        if not table.keys:
            continue
        shown = labels.get(table.path)
        if shown:
            out += ["| key | console | type | default | meaning |", "|---|---|---|---|---|"]
        else:
            out += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for key in table.keys:
            meaning = key.meaning + (" (secret: may be `env:NAME`)" if key.secret else "")
            label = f" {shown.get(key.name, '')} |" if shown else ""
            out.append(f"| `{key.name}` |{label} {_cell(key.type)} | `{_cell(key.default)}` | {_cell(meaning)} |")
        out.append("")
    return "\n".join(out)


def example_toml(found: list[Table] | None = None) -> str:
    found = tables() if found is None else found
    out = [
        "# Every key of config.toml with its default, commented out: uncomment what you change.",
        "# Generated by `python -m bot.config_reference`; the meaning of each key: docs/config.md.",
        "# (required) and (unset) are placeholders, not values: write a real value when you uncomment one.",
        "",
    ]
    for table in found:
        out.append(f"# {table.header}")
        if table.meaning:
            out.append(f"#   {table.meaning}")
        for key in table.keys:
            if key.meaning:
                out.append(f"#   {key.meaning}")
            out.append(f"# {key.name} = {key.default}")
        out.append("")
    return "\n".join(out)


def write() -> None:
    found = tables()
    REFERENCE.write_text(reference_markdown(found), encoding="utf-8")
    EXAMPLE.write_text(example_toml(found), encoding="utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote {REFERENCE} and {EXAMPLE}", file=sys.stderr)
