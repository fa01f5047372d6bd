"""SOP step texts: `{nickname}`, `{group}`, `{date}`, `{time}`, `{weekday}`, filled in one pass.

A stand-in until the one template module (issue 19) is merged: the same placeholders and the
same rules (an unknown name is refused when saved, `{{` / `}}` write braces, values are
inserted verbatim and never parsed again).
"""

from __future__ import annotations

import re
from datetime import datetime

FIELDS = ("nickname", "group", "date", "time", "weekday")
WEEKDAYS = "一二三四五六日"
MAX_VALUE_LENGTH = 64

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def check_text(text: str) -> None:
    """Raise ValueError (zh-CN) naming an unknown placeholder and the valid ones."""
    for m in _PLACEHOLDER.finditer(text):
        name = m.group(1)
        if name is not None and name not in FIELDS:
            shown = " ".join("{" + f + "}" for f in FIELDS)
            raise ValueError(f"未知的占位符 {{{name}}}，可用的有：{shown}（要写花括号本身请用 {{{{ 和 }}}}）")


def clean_value(value: str) -> str:
    value = " ".join(_CONTROL.sub("", value).split())
    return value if len(value) <= MAX_VALUE_LENGTH else value[: MAX_VALUE_LENGTH - 1] + "…"


def render_text(text: str, *, nickname: str, group: str, local: datetime) -> str:
    """The step's text for one member (or group) at a local time."""
    values = {
        "nickname": clean_value(nickname), "group": clean_value(group),
        "date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M"),
        "weekday": "星期" + WEEKDAYS[local.weekday()],
    }

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values.get(m.group(1), "")

    return _PLACEHOLDER.sub(sub, text)
