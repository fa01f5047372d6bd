"""Pacing of bulk sends per bot account, so that platforms' risk control (风控) does not restrict it.

A delivery is bulk when its payload has `"bulk": true` (bot.kernel.priorities.BULK_KEY): broadcasts,
recurring posts, campaigns and SOP steps set it; replies and platform actions never do, so they are
never held back by anything here. Per adapter (one bot account each), before each bulk send:

- circuit breaker open (after `breaker_failures` consecutive failures or one risk-control error):
  wait until an admin resumes it from the console;
- quiet hours: wait until they end;
- daily budget used up: wait until local midnight;
- jitter: a random gap (`jitter`, e.g. 2s-8s) after the previous bulk send;
- identical text: at most `identical_per_minute` sends of the same text a minute.

A lost connection or an uncertain outcome is not a failure here: the outbox makes those wait.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.kernel.clock import Clock
from bot.kernel.durations import parse_duration

# an adapter's error that means the platform's risk control refused the send (go-cqhttp's
# "消息可能被风控", QQ's retcode 100 SEND_MSG_API_ERROR, WeCom's "api forbidden" / frequency codes)
RISK_PATTERNS = re.compile(r"风控|risk|SEND_MSG_API_ERROR|retcode 100\b|45009|45033|forbidden", re.IGNORECASE)
# a paused account looks again this often (a resume from the console wakes it at once)
PAUSED_RECHECK = 5.0
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_jitter(text: str) -> tuple[float, float]:
    """"2s-8s" → (2.0, 8.0); "0" or "" → (0, 0); a single duration is a fixed gap."""
    text = (text or "").strip()
    if text in ("", "0"):
        return 0.0, 0.0
    lo_text, sep, hi_text = text.partition("-")
    lo = parse_duration(lo_text)
    hi = parse_duration(hi_text) if sep else lo
    if hi < lo:
        raise ValueError(f"间隔 {text!r} 的上限小于下限")
    return lo, hi


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """"23:00-08:00" → (23:00, 08:00); "" → None. May cross midnight."""
    text = (text or "").strip()
    if not text:
        return None
    parts = text.split("-")
    bad = f"时间段 {text!r} 格式不对，应写成 HH:MM-HH:MM（如 \"23:00-08:00\"），不设请写 \"\""
    if len(parts) != 2:
        raise ValueError(bad)
    out = []
    for p in parts:
        m = _HHMM.match(p.strip())
        if not m:
            raise ValueError(bad)
        out.append(time(int(m.group(1)), int(m.group(2))))
    if out[0] == out[1]:
        raise ValueError(f"时间段 {text!r} 的开始和结束相同")
    return out[0], out[1]


@dataclass(frozen=True)
class SendingSettings:
    """Pacing of bulk sends (broadcasts, posts, campaigns, SOP steps) per bot account; replies excluded."""

    # at most this many bulk messages per bot account per local day
    daily_budget: int = 1000
    # a random gap between two bulk sends of one account, "MIN-MAX" (e.g. "2s-8s"); "0" for none
    jitter: str = "2s-8s"
    # bulk sends due in this local window wait until it ends, "HH:MM-HH:MM"; "" for none
    quiet_hours: str = "23:00-08:00"
    # at most this many sends of the same text per account a minute ({variant} lines vary it)
    identical_per_minute: int = 30
    # pause an account's bulk sends after this many consecutive failed bulk sends
    breaker_failures: int = 5
    # where the breaker alert is sent privately, as "platform:user_id" (e.g. "onebot:10001")
    alert_to: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.daily_budget < 1:
            raise ValueError("daily_budget: 至少为 1")
        try:
            parse_jitter(self.jitter)
        except ValueError as exc:
            raise ValueError(f"jitter: {exc}") from None
        try:
            parse_quiet_hours(self.quiet_hours)
        except ValueError as exc:
            raise ValueError(f"quiet_hours: {exc}") from None
        if self.identical_per_minute < 1:
            raise ValueError("identical_per_minute: 至少为 1")
        if self.breaker_failures < 1:
            raise ValueError("breaker_failures: 至少为 1")
        for target in self.alert_to:
            if ":" not in target:
                raise ValueError(f"alert_to: {target!r} 应写成 \"平台:用户ID\"（如 \"onebot:10001\"）")


@dataclass
class Account:
    """The pacing state of one bot account (one adapter)."""

    day: str = ""
    used: int = 0
    next_at: float = 0.0
    failures: int = 0
    paused: str = ""
    paused_at: str = ""
    recent: deque[tuple[float, str]] = field(default_factory=deque)


class Pacer:
    """Decides when the next bulk send of an account may go; trips the breaker."""

    def __init__(self, settings: SendingSettings, tz: ZoneInfo, clock: Clock | None = None,
                 rng: Callable[[], float] = random.random,
                 on_trip: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.tz = tz
        self.clock = clock or Clock()
        self.rng = rng
        self.jitter = parse_jitter(settings.jitter)
        self.quiet = parse_quiet_hours(settings.quiet_hours)
        self.accounts: dict[str, Account] = {}
        self.on_trip = on_trip

    def account(self, platform: str) -> Account:
        acc = self.accounts.setdefault(platform, Account())
        today = self.clock.now().astimezone(self.tz).date().isoformat()
        if acc.day != today:
            acc.day, acc.used = today, 0
        return acc

    # -- before a send ----------------------------------------------------------------

    def wait(self, platform: str, text: str) -> float:
        """Seconds until a bulk send of `text` on this account may go; 0 = now."""
        acc = self.account(platform)
        if acc.paused:
            return PAUSED_RECHECK
        local = self.clock.now().astimezone(self.tz)
        quiet = self.quiet_left(local)
        if quiet > 0:
            return quiet
        if acc.used >= self.settings.daily_budget:
            return max(1.0, _until_midnight(local))
        mono = self.clock.monotonic()
        if acc.next_at > mono:
            return acc.next_at - mono
        _expire(acc.recent, mono)
        digest = _digest(text)
        same = [t for t, d in acc.recent if d == digest]
        if len(same) >= self.settings.identical_per_minute:
            return max(0.001, same[0] + 60.0 - mono)
        return 0.0

    def reserve(self, platform: str, text: str) -> None:
        """A bulk send starts now: it counts against the budget and sets the next gap."""
        acc = self.account(platform)
        mono = self.clock.monotonic()
        acc.used += 1
        lo, hi = self.jitter
        acc.next_at = mono + lo + (hi - lo) * self.rng()
        acc.recent.append((mono, _digest(text)))

    def quiet_left(self, local: datetime) -> float:
        """Seconds until quiet hours end (0 outside them)."""
        if self.quiet is None:
            return 0.0
        start, end = self.quiet
        now_t = local.time()
        inside = start <= now_t < end if start < end else (now_t >= start or now_t < end)
        if not inside:
            return 0.0
        end_at = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if end_at <= local:
            end_at += timedelta(days=1)
        return (end_at - local).total_seconds()

    # -- after a send -----------------------------------------------------------------

    def result(self, platform: str, status: str, error: str = "") -> None:
        """How a bulk send ended: "sent", "failed", "uncertain", "waiting" (no connection)."""
        acc = self.account(platform)
        if status == "sent":
            acc.failures = 0
        elif status == "waiting":
            acc.used = max(0, acc.used - 1)  # nothing went out
        elif status == "failed":
            acc.failures += 1
            if RISK_PATTERNS.search(error or ""):
                self.trip(platform, f"平台风控：{error[:200]}")
            elif acc.failures >= self.settings.breaker_failures:
                self.trip(platform, f"连续 {acc.failures} 次群发失败（最近一次：{error[:200]}）")

    def trip(self, platform: str, reason: str) -> None:
        acc = self.account(platform)
        if acc.paused:
            return
        acc.paused = reason
        acc.paused_at = self.clock.now().isoformat()
        if self.on_trip is not None:
            self.on_trip(platform, reason)

    def resume(self, platform: str) -> bool:
        acc = self.account(platform)
        was = bool(acc.paused)
        acc.paused, acc.paused_at, acc.failures = "", "", 0
        return was

    def restore(self, platform: str, used_today: int, paused: str = "", paused_at: str = "") -> None:
        """State kept across restarts: today's bulk sends (from the ledger), an open breaker."""
        acc = self.account(platform)
        acc.used = max(acc.used, used_today)
        if paused:
            acc.paused, acc.paused_at = paused, paused_at

    def paused(self) -> dict[str, dict[str, str]]:
        return {p: {"reason": a.paused, "at": a.paused_at} for p, a in self.accounts.items() if a.paused}

    def status(self) -> dict[str, Any]:
        return {p: {"used_today": self.account(p).used, "budget": self.settings.daily_budget,
                    "paused": a.paused, "paused_at": a.paused_at, "failures": a.failures}
                for p, a in sorted(self.accounts.items())}

    # -- planning ---------------------------------------------------------------------

    def estimate_finish(self, platform: str, count: int, start: datetime) -> datetime:
        """When `count` bulk sends starting at `start` should finish: mean jitter per send, quiet
        hours and the daily budget taken into account (the rate limits of the outbox are not)."""
        if count <= 0:
            return start
        acc = self.account(platform)
        mean = sum(self.jitter) / 2
        at = start.astimezone(self.tz)
        used = acc.used if at.date().isoformat() == acc.day else 0
        left = count
        for _ in range(400):  # bounded: at most ~a year of days
            quiet = self.quiet_left(at)
            if quiet:
                at += timedelta(seconds=quiet)
            room = self.settings.daily_budget - used
            if room <= 0:
                at = (at + timedelta(seconds=_until_midnight(at))).astimezone(self.tz)
                used = 0
                continue
            # sends before the next quiet hours or midnight
            horizon = min(_until_midnight(at), self._until_quiet(at))
            fit = room if mean == 0 else min(room, max(1, math.floor(horizon / mean) + 1))
            n = min(left, fit)
            at += timedelta(seconds=mean * (n - 1 if n == left else n))
            left -= n
            used += n
            if left == 0:
                return at
        return at

    def _until_quiet(self, local: datetime) -> float:
        if self.quiet is None:
            return math.inf
        start = self.quiet[0]
        at = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
        if at <= local:
            at += timedelta(days=1)
        return (at - local).total_seconds()


def _until_midnight(local: datetime) -> float:
    nxt = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (nxt - local).total_seconds()


def _digest(text: str) -> str:
    return hashlib.blake2s(text.encode("utf-8"), digest_size=8).hexdigest()


def _expire(recent: deque[tuple[float, str]], mono: float) -> None:
    while recent and recent[0][0] <= mono - 60.0:
        recent.popleft()


def is_bulk(payload: dict[str, Any]) -> bool:
    return bool(payload.get("bulk"))
