"""Reply templates: `{nickname}`, `{group}`, `{date}`, `{time}` … filled in one pass, values escaped.

A value is inserted verbatim and never parsed again, so a nickname such as `{group}` or
`<b>x</b>` appears literally. `{{` and `}}` write literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REPLY_FIELDS = ("nickname", "group", "date", "time", "weekday")
WELCOME_FIELDS = ("nickname", "group", "count", "date", "time", "weekday")
WEEKDAYS = "一二三四五六日"
MAX_VALUE_LENGTH = 64

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def check_template(text: str, allowed: Iterable[str] = REPLY_FIELDS) -> None:
    """Raise ValueError (zh-CN) when the template names an unknown placeholder."""
    allowed = tuple(allowed)
    for m in _PLACEHOLDER.finditer(text):
        name = m.group(1)
        if name is not None and name not in allowed:
            shown = " ".join("{" + a + "}" for a in allowed)
            raise ValueError(f"未知的占位符 {{{name}}}，可用的有：{shown}（要写花括号本身请用 {{{{ 和 }}}}）")


def clean_value(value: str) -> str:
    """A user-provided value as plain text: no control or direction characters, one line, bounded."""
    value = _CONTROL.sub("", value)
    value = " ".join(value.split())
    if len(value) > MAX_VALUE_LENGTH:
        value = value[: MAX_VALUE_LENGTH - 1] + "…"
    return value


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill placeholders in one pass; unknown names are left as written."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        return values.get(name, token)

    return _PLACEHOLDER.sub(sub, text)


def time_values(local) -> dict[str, str]:
    """`{date}`, `{time}`, `{weekday}` for a local datetime."""
    return {
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M"),
        "weekday": "星期" + WEEKDAYS[local.weekday()],
    }
