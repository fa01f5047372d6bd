"""When posts and campaign messages happen: pure functions of a definition, two instants and a tz.

Every function returns aware UTC datetimes `t` with `after < t <= until`, ascending. A post
with a `window` that crosses midnight ("22:00-02:00") belongs to the day the window opens:
its `start`/`end`/`skip` dates are checked against that day.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schedules.config import CampaignConfig, PostConfig, make_cron, parse_hhmm, parse_window

# far enough in the past that an interval anchored here is stable for any post
_ANCHOR = date(2000, 1, 3)
ONE_DAY = timedelta(days=1)

SALE_KINDS = ("announce", "start", "remind", "last_call")
KIND_LABELS = {
    "post": "定时消息", "announce": "预告", "start": "开抢", "remind": "提醒",
    "last_call": "最后召唤", "end": "结束",
}


@dataclass(frozen=True, order=True)
class Occurrence:
    """One scheduled message of a job: when, and which of a campaign's posts it is."""

    time: datetime
    kind: str = "post"


def occurrence_key(when: datetime) -> str:
    """The ledger's occurrence id: the scheduled time in UTC, ISO 8601."""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def local_dt(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def as_aware(value: datetime, tz: ZoneInfo) -> datetime:
    """Config datetimes without an offset are in the bot's time zone."""
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)


# -- recurring posts ------------------------------------------------------------------

def window_day(local: datetime, window: tuple[time, time]) -> date | None:
    """The day whose window contains `local` (inclusive ends), or None when outside."""
    ws, we = window
    t = local.time()
    if ws < we:
        return local.date() if ws <= t <= we else None
    if t >= ws:
        return local.date()
    if t <= we:
        return local.date() - ONE_DAY
    return None


def _day_allowed(post: PostConfig, day: date) -> bool:
    if post.start and day < post.start:
        return False
    if post.end and day > post.end:
        return False
    return day not in post.skip


def _days(post: PostConfig, after: datetime, until: datetime, tz: ZoneInfo) -> Iterator[date]:
    day = after.astimezone(tz).date() - ONE_DAY
    if post.start and day < post.start:
        day = post.start
    last = until.astimezone(tz).date()
    if post.end and last > post.end:
        last = post.end
    while day <= last:
        if _day_allowed(post, day):
            yield day
        day += ONE_DAY


def _day_times(post: PostConfig, day: date, tz: ZoneInfo) -> list[datetime]:
    window = parse_window(post.window) if post.window else None
    if post.at:
        out = []
        for text in post.at:
            t = parse_hhmm(text)
            if window is None:
                out.append(local_dt(day, t, tz))
                continue
            ws, we = window
            if (ws < we and ws <= t <= we) or (ws > we and t >= ws):
                out.append(local_dt(day, t, tz))
            elif ws > we and t <= we:
                out.append(local_dt(day + ONE_DAY, t, tz))
        return sorted(out)
    step = timedelta(seconds=float(post.every or 0))
    if window is not None:
        ws, we = window
        first = local_dt(day, ws, tz)
        last = local_dt(day + ONE_DAY if we < ws else day, we, tz)
        n = int((last - first) / step)
        return [first + k * step for k in range(n + 1)]
    # no window: a continuous sequence anchored at local midnight of `start` (or a fixed day)
    anchor = local_dt(post.start or _ANCHOR, time(0), tz)
    day_start, day_end = local_dt(day, time(0), tz), local_dt(day + ONE_DAY, time(0), tz)
    k = max(0, math.ceil((day_start - anchor) / step))
    out = []
    moment = anchor + k * step
    while moment < day_end:
        out.append(moment)
        moment += step
    return out


def _cron_times(post: PostConfig, after: datetime, until: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    trigger = make_cron(post.cron, tz)
    window = parse_window(post.window) if post.window else None
    now = after + timedelta(microseconds=1)
    while True:
        fire = trigger.get_next_fire_time(None, now)
        if fire is None or fire > until:
            return
        now = fire + timedelta(microseconds=1)
        local = fire.astimezone(tz)
        day = window_day(local, window) if window else local.date()
        if post.end and local.date() > post.end + ONE_DAY:
            return
        if day is not None and _day_allowed(post, day):
            yield fire.astimezone(UTC)


def post_times(post: PostConfig, after: datetime, until: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    """Every time `post` is due in (after, until], ascending (a generator: slice it)."""
    if post.cron:
        yield from _cron_times(post, after, until, tz)
        return
    for day in _days(post, after, until, tz):
        for t in _day_times(post, day, tz):
            if t > until:
                return
            if t > after:
                yield t


# -- campaigns --------------------------------------------------------------------------

def campaign_bounds(campaign: CampaignConfig, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return as_aware(campaign.start, tz), as_aware(campaign.end, tz)


def campaign_plan(campaign: CampaignConfig, tz: ZoneInfo) -> list[Occurrence]:
    """The whole sequence: announcements, start, reminders, last call, end."""
    start, end = campaign_bounds(campaign, tz)
    out: list[Occurrence] = []
    if campaign.announce_text:
        out.extend(Occurrence(start - timedelta(seconds=float(a)), "announce") for a in set(campaign.announce))
    if campaign.start_text:
        out.append(Occurrence(start, "start"))
    last_call = None
    if campaign.last_call and campaign.last_call_text:
        lc = end - timedelta(seconds=float(campaign.last_call))
        if lc > start:
            last_call = lc
            out.append(Occurrence(lc, "last_call"))
    if campaign.remind and campaign.remind_text:
        step = timedelta(seconds=float(campaign.remind))
        stop = last_call or end
        t = start + step
        while t < stop:
            out.append(Occurrence(t, "remind"))
            t += step
    if campaign.end_text:
        out.append(Occurrence(end, "end"))
    return sorted(out)


def campaign_times(campaign: CampaignConfig, after: datetime, until: datetime, tz: ZoneInfo) -> list[Occurrence]:
    return [o for o in campaign_plan(campaign, tz) if after < o.time <= until]


def occurrences(spec: PostConfig | CampaignConfig, after: datetime, until: datetime, tz: ZoneInfo,
                limit: int = 100_000) -> list[Occurrence]:
    """Occurrences of a post or campaign in (after, until], at most `limit` (the earliest)."""
    if isinstance(spec, CampaignConfig):
        return campaign_times(spec, after, until, tz)[:limit]
    out = []
    for t in post_times(spec, after, until, tz):
        out.append(Occurrence(t, "post"))
        if len(out) >= limit:
            break
    return out


def next_occurrence(spec: PostConfig | CampaignConfig, after: datetime, tz: ZoneInfo,
                    horizon: timedelta = timedelta(days=400)) -> Occurrence | None:
    if isinstance(spec, CampaignConfig):
        return next((o for o in campaign_plan(spec, tz) if o.time > after), None)
    found = occurrences(spec, after, after + horizon, tz, limit=1)
    return found[0] if found else None
