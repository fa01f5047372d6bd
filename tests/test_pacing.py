"""Pacing of bulk sends per account: jitter, budget, quiet hours, identical texts, the breaker."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.kernel.clock import FakeClock
from bot.kernel.pacing import Pacer, SendingSettings, parse_jitter, parse_quiet_hours
from tests.conftest import make_settings
from tests.pacing_sim import simulate

TZ = ZoneInfo("Asia/Shanghai")


def pacer(clock: FakeClock, **kw) -> tuple[Pacer, list[tuple[str, str]]]:
    trips: list[tuple[str, str]] = []
    settings = SendingSettings(**{"jitter": "2s-8s", "quiet_hours": "23:00-08:00", **kw})
    return Pacer(settings, TZ, clock, rng=random.Random(1).random, on_trip=lambda p, r: trips.append((p, r))), trips


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 4, hour, minute, tzinfo=TZ).astimezone(UTC)


def test_jitter_spaces_bulk_sends_between_its_bounds():
    clock = FakeClock(local(10))
    p, _ = pacer(clock)
    gaps = []
    for _ in range(50):
        assert p.wait("onebot", "x") == 0
        p.reserve("onebot", f"text {_}")
        gap = p.wait("onebot", "y")
        gaps.append(gap)
        clock.advance(gap)
    assert all(2 <= g <= 8 for g in gaps) and 4 < sum(gaps) / len(gaps) < 6


def test_quiet_hours_hold_bulk_sends_until_they_end():
    clock = FakeClock(local(23, 30))
    p, _ = pacer(clock)
    assert p.wait("onebot", "x") == pytest.approx(8.5 * 3600)
    clock.set(local(8, 0) + timedelta(days=1))
    assert p.wait("onebot", "x") == 0


def test_budget_stops_bulk_sends_until_the_next_day():
    clock = FakeClock(local(22))
    p, _ = pacer(clock, daily_budget=3, jitter="0", quiet_hours="")
    for _ in range(3):
        assert p.wait("onebot", "x") == 0
        p.reserve("onebot", "x")
    assert p.wait("onebot", "x") == pytest.approx(2 * 3600)
    clock.advance(2 * 3600)
    assert p.wait("onebot", "x") == 0


def test_identical_text_to_more_than_the_limit_per_minute_waits():
    clock = FakeClock(local(10))
    p, _ = pacer(clock, jitter="0", identical_per_minute=3)
    for _ in range(3):
        p.reserve("onebot", "同一条")
        clock.advance(1)
    assert p.wait("onebot", "同一条") == pytest.approx(57)
    assert p.wait("onebot", "另一条") == 0


def test_breaker_trips_after_consecutive_failures_or_a_risk_control_error():
    clock = FakeClock(local(10))
    p, trips = pacer(clock, breaker_failures=3)
    for status in ("failed", "uncertain", "waiting", "failed"):
        p.result("onebot", status, "群不存在")
    assert not trips  # uncertain and no connection are not failures
    p.result("onebot", "failed", "群不存在")
    assert trips and "连续 3 次群发失败" in trips[0][1]
    assert p.wait("onebot", "x") > 0
    assert p.resume("onebot") and p.wait("onebot", "x") == 0
    p.result("wecom", "failed", "errcode 45009 api freq out of limit")
    assert trips[-1][0] == "wecom" and "平台风控" in trips[-1][1]


def test_estimate_counts_jitter_quiet_hours_and_budget():
    clock = FakeClock(local(10))
    p, _ = pacer(clock)
    assert p.estimate_finish("onebot", 500, local(10)) == local(10) + timedelta(seconds=499 * 5)
    late = p.estimate_finish("onebot", 500, local(22, 30))
    assert late.astimezone(TZ).hour == 8  # the rest waits for the quiet hours to end
    small, _ = pacer(clock, daily_budget=100, quiet_hours="")
    assert small.estimate_finish("onebot", 150, local(10)).astimezone(TZ).date() == local(10).date() + timedelta(1)


@pytest.mark.parametrize(("key", "value", "words"), [
    ("jitter", "8s-2s", "上限小于下限"), ("jitter", "soon", "时长格式不对"),
    ("quiet_hours", "23:00", "HH:MM-HH:MM"), ("daily_budget", 0, "至少为 1"),
    ("alert_to", ["10001"], "平台:用户ID"),
])
def test_bad_sending_settings_are_refused(tmp_path, key, value, words):
    from bot.settings_loader import ConfigError

    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, sending={key: value})
    assert info.value.key == f"sending.{key}" and words in info.value.reason


def test_parsers():
    assert parse_jitter("2s-8s") == (2, 8) and parse_jitter("0") == (0, 0)
    assert parse_quiet_hours("") is None


async def test_fan_out_keeps_to_jitter_and_replies_go_in_between():
    result = await simulate(120, jitter="2s-8s", horizon=3600)
    assert result.finished_after is not None and 119 * 2 <= result.finished_after <= 119 * 8
    assert result.reply_latencies and max(result.reply_latencies) <= 1.5


async def test_fan_out_never_exceeds_the_daily_budget():
    result = await simulate(60, jitter="0", budget=40, horizon=600, step=1.0)
    assert result.bulk_sent == 40 and result.max_used == 40


async def test_risk_control_error_pauses_bulk_sends_but_not_replies_until_resumed():
    paused = await simulate(80, jitter="1s-2s", risk_after=30, horizon=600, step=0.5)
    assert paused.bulk_sent == 30 and "onebot" in paused.paused and "风控" in paused.paused["onebot"]["reason"]
    assert paused.reply_latencies and max(paused.reply_latencies) <= 1.5
    resumed = await simulate(80, jitter="1s-2s", risk_after=30, horizon=900, step=0.5, resume_at=300)
    # the send refused by risk control stays failed (retry it from the broadcast); the rest goes out
    assert resumed.bulk_sent == 79 and not resumed.paused
