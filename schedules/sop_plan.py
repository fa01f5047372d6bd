"""When each step of a sequence is due for one anchor, and what to do with a due step."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.kernel import templates
from bot.kernel.durations import format_duration
from bot.settings_loader import ConfigError
from schedules.sop_config import SopConfig, SopStepConfig, parse_after, parse_sequence, text_context

# later than this counts as "sent late" in the record
LATE_AFTER = 60.0

REASON_PAUSED = "序列暂停期间，未发送"
REASON_LEFT = "成员已退群，序列停止"
REASON_BLACKLISTED = "成员已被拉黑，序列停止"
REASON_UNTAGGED = "群已不再带有序列的标签，序列停止"
REASON_GONE = "序列已删除或归档"


def step_time(anchor: datetime, step: SopStepConfig, tz: ZoneInfo) -> datetime:
    """The UTC time a step is due for an anchor; a day's local time already past at the anchor
    ("0d 09:00" for a 15:00 join) means at the anchor itself."""
    when = parse_after(step.after)
    if when.at is None:
        return anchor + timedelta(seconds=when.offset)
    local_day = anchor.astimezone(tz).date() + timedelta(days=when.days)
    due = datetime.combine(local_day, when.at, tzinfo=tz).astimezone(UTC)
    return max(due, anchor)


def step_times(anchor: datetime, spec: SopConfig, tz: ZoneInfo) -> list[datetime]:
    return [step_time(anchor, step, tz) for step in spec.steps]


@dataclass(frozen=True)
class Verdict:
    send: bool
    reason: str = ""


def decide(due: datetime, now: datetime, grace: float, *, paused: bool) -> Verdict:
    """Send within the grace time; skip when paused or too late (the bot was down)."""
    if paused:
        return Verdict(False, REASON_PAUSED)
    late = (now - due).total_seconds()
    if late > grace:
        return Verdict(
            False, f"错过发送时间 {format_duration(late)}（机器人未运行），超过补发宽限 {format_duration(grace)}"
        )
    if late > LATE_AFTER:
        return Verdict(True, f"补发，迟到 {format_duration(late)}")
    return Verdict(True)


def condition_fails(step: SopStepConfig, tags: set[str]) -> str:
    """Why a step's member-tag condition is not met ("" when it is)."""
    if step.if_tag and step.if_tag not in tags:
        return f"条件不满足：成员没有标签「{step.if_tag}」"
    if step.unless_tag and step.unless_tag in tags:
        return f"条件不满足：成员带有标签「{step.unless_tag}」"
    return ""


def applies(spec: SopConfig, chat_tags: list[str]) -> bool:
    """Does a sequence apply to a group with these tags? (no tags: member_joined in every group)"""
    return not spec.tags or bool(set(spec.tags) & set(chat_tags))


def source(seq_id: str, step_index: int) -> str:
    """The ledger's source of one step; the occurrence names the member (or the group)."""
    return f"sop:{seq_id}:{step_index}"


def occurrence(platform: str, chat_id: str, member_id: str) -> str:
    return f"{platform}:{chat_id}:{member_id}" if member_id else f"{platform}:{chat_id}"


def render_step(spec: SopConfig, step: SopStepConfig, *, nickname: str, group: str, local: datetime,
                rng: random.Random | None = None) -> str:
    """A step's text as sent (the one template module, in the step's context)."""
    values = templates.group_values(group, local)
    if nickname:
        values["nickname"] = templates.clean_value(nickname)
    return templates.render(step.text, text_context(spec.anchor, step), values, rng)


def load_spec(row: dict[str, Any]) -> SopConfig | None:
    """A stored definition, or None (logged by the caller) when it no longer validates."""
    try:
        return parse_sequence(row["spec"])
    except (ConfigError, ValueError):
        return None
