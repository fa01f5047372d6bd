"""The one template language for every outgoing text (docs/broadcast.md, "Template contexts").

`{name}` is replaced by a value of the context the text is sent in; `{{` and `}}` write literal
braces. Values are inserted verbatim in one pass and never parsed again, so a nickname such as
`{group}` appears literally. Lines starting with `{variant}` are alternatives: each run of
consecutive `{variant}` lines is replaced by one of them, chosen at random per render, so a bulk
send does not repeat identical text to every group.

Each context names the variables that have a value there. `validate()` is called when a text is
saved (console, config.toml, CLI import) and refuses unknown or out-of-context names with the list
of valid ones; `render()` never lets a literal `{name}` out, even for a text saved before a check.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

# every variable and what it means, in the order the docs table shows them
VARIABLES: dict[str, str] = {
    "group": "群名称",
    "date": "日期（如 2026-12-04）",
    "time": "时间（如 20:00）",
    "weekday": "星期（如 星期五）",
    "nickname": "成员昵称",
    "count": "本次欢迎的人数",
    "item": "商品名",
    "price": "秒杀价",
    "original_price": "原价",
    "discount": "折扣（如“3.9折”）",
    "countdown": "倒计时（预告：距开始；活动中：距结束）",
    "link": "活动链接（http:// 或 https://）",
    "stock": "库存",
    "start": "开始时间（如“11月25日 10:00”）",
    "end": "结束时间",
    "name": "活动名称",
}

GROUP_LEVEL = ("group", "date", "time", "weekday")
TIME_LEVEL = ("date", "time", "weekday")
CAMPAIGN_FIELDS = ("item", "price", "original_price", "discount", "countdown", "link", "stock", "start", "end",
                   "name")


@dataclass(frozen=True)
class Context:
    """Where a text is sent, and so which variables have a value there."""

    name: str
    label: str
    variables: tuple[str, ...]
    used_by: str = ""

    def shown(self) -> str:
        return " ".join("{" + v + "}" for v in self.variables)


CONTEXTS: dict[str, Context] = {c.name: c for c in (
    Context("group", "发到群（无具体成员）", GROUP_LEVEL, "定时消息、群发到群、群 SOP 的群内步骤"),
    Context("member", "已知成员（群内或私聊）", (*GROUP_LEVEL, "nickname"), "关键词回复、成员 SOP 步骤"),
    Context("private", "私聊成员（按成员标签群发）", (*TIME_LEVEL, "nickname"), "按成员标签的 1 对 1 群发"),
    Context("welcome", "入群欢迎", (*GROUP_LEVEL, "nickname", "count"), "欢迎语"),
    Context("campaign", "秒杀活动消息", (*GROUP_LEVEL, *CAMPAIGN_FIELDS), "秒杀预告、开抢、提醒、最后召唤、结束"),
    Context("campaign_reply", "秒杀活动的关键词回复（保存时填好，无实时倒计时）",
            tuple(f for f in CAMPAIGN_FIELDS if f != "countdown"), "活动 keyword_reply"),
)}

VARIANT = "{variant}"
WEEKDAYS = "一二三四五六日"
MAX_VALUE_LENGTH = 64

# `{{`, `}}`, or `{name}`: a name in any script counts as a variable reference, so `{昵称}` is
# refused at save time instead of being sent literally; `{6}` (a regex count) is plain text
_TOKEN = re.compile(r"\{\{|\}\}|\{([^\W\d]\w{0,39})\}")
_BRACES = "（要写花括号本身请用 {{ 和 }}）"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def context(name: str) -> Context:
    """The named context; KeyError names the known ones."""
    try:
        return CONTEXTS[name]
    except KeyError:
        raise KeyError(f"unknown template context {name!r}; known: {', '.join(CONTEXTS)}") from None


def validate(text: str, context_name: str) -> list[str]:
    """zh-CN errors for `text` sent in the named context; [] when it renders fully."""
    ctx = context(context_name)
    errors: list[str] = []
    seen: set[str] = set()
    for line in text.split("\n"):
        body = line[len(VARIANT):] if line.startswith(VARIANT) else line
        if VARIANT in body:
            errors.append("{variant} 只能写在一行的开头（连续几行 {variant} 开头的内容每次随机选一行）")
        for m in _TOKEN.finditer(body.replace(VARIANT, "")):
            name = m.group(1)
            if name is None or name in ctx.variables or name in seen:
                continue
            seen.add(name)
            if name in VARIABLES:
                where = "、".join(f"「{c.label}」" for c in CONTEXTS.values() if name in c.variables)
                errors.append(f"未知的占位符 {{{name}}}（它只能用在{where}里），此处可用：{ctx.shown()}" + _BRACES)
            else:
                errors.append(f"未知的占位符 {{{name}}}，此处可用：{ctx.shown()}" + _BRACES)
    return errors


def check(text: str, context_name: str) -> None:
    """Raise ValueError with the first error of `validate()`."""
    errors = validate(text, context_name)
    if errors:
        raise ValueError(errors[0])


def uses(text: str, name: str) -> bool:
    """Whether the text refers to the variable `name`."""
    return any(m.group(1) == name for m in _TOKEN.finditer(text))


def _pick_variants(text: str, rng: random.Random | None) -> str:
    if VARIANT not in text:
        return text
    pick = rng.choice if rng is not None else random.choice
    out: list[str] = []
    run: list[str] = []
    for line in [*text.split("\n"), None]:
        if line is not None and line.startswith(VARIANT):
            run.append(line[len(VARIANT):])
            continue
        if run:
            out.append(pick(run))
            run = []
        if line is not None:
            out.append(line.replace(VARIANT, ""))
    return "\n".join(out)


def render(text: str, context_name: str, values: Mapping[str, str], rng: random.Random | None = None) -> str:
    """The text as sent: variables filled in one pass, one line of each `{variant}` run chosen.

    A variable of the context without a value, or a name the context does not know (a text saved
    before validation existed), becomes "": a literal `{name}` never reaches a chat.
    """
    ctx = context(context_name)
    text = _pick_variants(text, rng)

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        return values.get(name, "") if name in ctx.variables else ""

    return _TOKEN.sub(sub, text)


def escape(value: str) -> str:
    """A value made literal for a text that is rendered again later (`{` → `{{`)."""
    return value.replace("{", "{{").replace("}", "}}")


def clean_value(value: str) -> str:
    """A user-provided value as plain text: no control or direction characters, one line, bounded."""
    value = _CONTROL.sub("", value)
    value = " ".join(value.split())
    if len(value) > MAX_VALUE_LENGTH:
        value = value[: MAX_VALUE_LENGTH - 1] + "…"
    return value


def time_values(local: datetime) -> dict[str, str]:
    """`{date}`, `{time}`, `{weekday}` for a local datetime."""
    return {
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M"),
        "weekday": "星期" + WEEKDAYS[local.weekday()],
    }


def group_values(group_name: str, local: datetime) -> dict[str, str]:
    """The group-level values: `{group}` plus the time values."""
    return {"group": clean_value(group_name), **time_values(local)}
