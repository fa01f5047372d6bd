"""What to do with an occurrence whose time has come: send it, late, or record it as skipped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.kernel.durations import format_duration
from schedules.config import CampaignConfig
from schedules.jobs import Job
from schedules.timeline import SALE_KINDS, Occurrence, campaign_bounds

# later than this counts as "posted late" in the record
LATE_AFTER = 60.0

REASON_PAUSED = "暂停期间，未发送"
REASON_SALE_OVER = "活动已结束，过期的活动消息不再发送"


@dataclass(frozen=True)
class Verdict:
    send: bool
    reason: str = ""


def decide(job: Job, occ: Occurrence, now: datetime, grace: float, tz: ZoneInfo) -> Verdict:
    """Send within the grace time; skip when paused, too late, or a sale post after the sale."""
    if job.status == "paused":
        return Verdict(False, REASON_PAUSED)
    spec = job.spec
    if isinstance(spec, CampaignConfig) and occ.kind in SALE_KINDS and now >= campaign_bounds(spec, tz)[1]:
        return Verdict(False, REASON_SALE_OVER)
    late = (now - occ.time).total_seconds()
    if late > grace:
        return Verdict(
            False, f"错过发送时间 {format_duration(late)}（机器人未运行），超过补发宽限 {format_duration(grace)}"
        )
    if late > LATE_AFTER:
        return Verdict(True, f"补发，迟到 {format_duration(late)}")
    return Verdict(True)
