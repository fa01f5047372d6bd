"""Keyword replies and welcomes render through the one template module (bot/kernel/templates.py).

Kept as the keywords package's names for it: the reply context is "member", the welcome one "welcome".
"""

from __future__ import annotations

from bot.kernel.templates import CONTEXTS, MAX_VALUE_LENGTH, WEEKDAYS, check, clean_value, time_values
from bot.kernel.templates import render as _render

REPLY_CONTEXT = "member"
WELCOME_CONTEXT = "welcome"
REPLY_FIELDS = CONTEXTS[REPLY_CONTEXT].variables
WELCOME_FIELDS = CONTEXTS[WELCOME_CONTEXT].variables

__all__ = ["MAX_VALUE_LENGTH", "REPLY_FIELDS", "WEEKDAYS", "WELCOME_FIELDS", "check_template", "clean_value",
           "render", "time_values"]


def check_template(text: str, context: str = REPLY_CONTEXT) -> None:
    """Raise ValueError (zh-CN, naming the valid placeholders) for an unknown or out-of-context one."""
    check(text, context)


def render(text: str, values: dict[str, str], context: str = REPLY_CONTEXT) -> str:
    return _render(text, context, values)
