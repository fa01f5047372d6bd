"""[[sop]] sequences of config.toml: steps relative to a member joining or a group being tagged."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Literal

from bot.kernel import templates
from bot.kernel.durations import Duration

ANCHORS = ("member_joined", "group_tagged")
ANCHOR_LABELS = {"member_joined": "成员入群", "group_tagged": "群被打上标签"}
TO_LABELS = {"member": "私聊成员", "group": "群内", "staff": "私聊群主/管理员"}

# "3d 10:00" (day offset + local time), "0d", "2h", "30m", "1d2h"
_DAY_AT = re.compile(r"^(\d{1,3})d\s+([01]?\d|2[0-3]):([0-5]\d)$")
_OFFSET = re.compile(r"^(?:\d+[dhm])+$")
AFTER_HELP = '应写成 "0d"、"3d 10:00"（第 3 天当地时间 10:00）或 "2h"、"30m"（入群后多久）'
ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-\u4e00-\u9fff]{1,40}$")


@dataclass(frozen=True)
class StepTime:
    """When a step is due: `days` after the anchor's local date at `at`, or `offset` seconds after it."""

    offset: float = 0.0
    days: int = 0
    at: time | None = None


def parse_after(text: object) -> StepTime:
    """"3d 10:00" → day 3 at 10:00; "2h" → 2 hours after the anchor; raises ValueError (zh-CN)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"after: {text!r} {AFTER_HELP}")
    value = " ".join(text.strip().lower().split())
    m = _DAY_AT.match(value)
    if m:
        return StepTime(days=int(m.group(1)), at=time(int(m.group(2)), int(m.group(3))))
    compact = value.replace(" ", "")
    if compact == "0" or _OFFSET.match(compact):
        from bot.kernel.durations import parse_duration

        seconds = parse_duration(compact)
        if seconds > 366 * 86400:
            raise ValueError(f"after: {text!r} 太远了（最多 366 天）")
        return StepTime(offset=seconds)
    raise ValueError(f"after: {text!r} {AFTER_HELP}")


@dataclass(frozen=True)
class SopStepConfig:
    """One step of a sequence: when, what, to whom, and an optional member-tag condition."""

    # when: "0d" (at the anchor), "3d 10:00" (3 days later, local time 10:00, [bot] timezone), "2h", "30m"
    after: str
    # the message: {nickname} (member_joined steps and group_tagged private steps), {group}, {date},
    # {time}, {weekday}; lines starting with {variant} are alternatives (docs/sop.md)
    text: str
    # true: 1:1 to the member (member_joined; group_tagged: to every member of the group); false: in the group
    private: bool = False
    # "staff": privately to the group's owner and managers instead of members (a reminder for staff);
    # "member" / "group" say the same as private = true / false; "" = as private says
    to: Literal["", "member", "group", "staff"] = ""
    # only when the member has this tag (member tags of the member directory); "" = always
    if_tag: str = ""
    # only when the member does not have this tag; "" = always
    unless_tag: str = ""

    @property
    def when(self) -> StepTime:
        return parse_after(self.after)

    @property
    def target(self) -> str:
        """member (1:1) / group (in the group) / staff (1:1 to owner and managers)."""
        if self.to:
            return self.to
        return "member" if self.private else "group"

    def validate(self) -> None:
        # the text's variables are checked by the sequence, which knows the anchor (text_context)
        parse_after(self.after)
        if not self.text.strip():
            raise ValueError("text: 内容不能为空")
        if self.to == "staff" and self.private:
            raise ValueError('to: to = "staff" 已经是私聊群主/管理员，不要再写 private = true')
        if self.to == "group" and self.private:
            raise ValueError('to: to = "group" 是发在群内，与 private = true 矛盾')


@dataclass(frozen=True)
class SopConfig:
    """A 群SOP sequence: an anchor, the group tags it applies to, and its steps."""

    # unique id of the sequence (letters, digits, _ - or Chinese, up to 40); also its key in the ledger
    id: str
    # what starts the sequence: "member_joined" (a member joins a tagged group) or "group_tagged"
    # (a group gets one of the tags)
    anchor: Literal["member_joined", "group_tagged"]
    # group tags it applies to; [] = every group (member_joined only)
    tags: list[str] = field(default_factory=list)
    # the steps, each with after / text / private (and optional to, if_tag, unless_tag)
    steps: list[SopStepConfig] = field(default_factory=list)
    # false: paused (due steps are skipped and counted); a pause set in the console is kept
    enabled: bool = True
    # a step missed while the bot was down is sent late within this time, else skipped and
    # counted; unset: [schedule] sop_misfire_grace
    misfire_grace: Duration | None = None

    def validate(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError("id: 只能用字母、数字、_、- 或汉字，最长 40 个字符")
        if not self.steps:
            raise ValueError("steps: 至少要有一个步骤")
        if self.anchor == "group_tagged" and not self.tags:
            raise ValueError("tags: group_tagged 序列需要指定标签（群被打上哪个标签时开始）")
        for i, tag in enumerate(self.tags):
            if not tag.strip():
                raise ValueError(f"tags: 第 {i + 1} 个标签为空")
        for i, step in enumerate(self.steps):
            errors = templates.validate(step.text, text_context(self.anchor, step))
            if errors:
                raise ValueError(f"steps[{i}].text: {errors[0]}")


def text_context(anchor: str, step: SopStepConfig) -> str:
    """The template context of a step: a member is known except in a group_tagged group/staff step."""
    if anchor == "member_joined" or step.target == "member":
        return "member"
    return "group"


def parse_sequence(raw: dict[str, Any], key: str = "") -> SopConfig:
    """Validate one [[sop]] table (console, config); raises ConfigError naming the key."""
    from bot.settings_loader import load_section

    spec: SopConfig = load_section(SopConfig, raw, key, None)
    return spec


def to_raw(spec: SopConfig) -> dict[str, Any]:
    """The table form of a sequence, as config.toml would write it (defaults left out)."""
    from bot.kernel.durations import format_duration

    out: dict[str, Any] = {"id": spec.id, "anchor": spec.anchor}
    if spec.tags:
        out["tags"] = list(spec.tags)
    if not spec.enabled:
        out["enabled"] = False
    if spec.misfire_grace is not None:
        out["misfire_grace"] = format_duration(spec.misfire_grace)
    steps = []
    for step in spec.steps:
        s: dict[str, Any] = {"after": step.after, "text": step.text}
        if step.private:
            s["private"] = True
        for name in ("to", "if_tag", "unless_tag"):
            if getattr(step, name):
                s[name] = getattr(step, name)
        steps.append(s)
    out["steps"] = steps
    return out
