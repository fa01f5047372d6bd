"""When recurring posts and campaign messages happen (pure timeline, Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.kernel.durations import Duration
from schedules.config import CampaignConfig, PostConfig
from schedules.templates import format_countdown, format_discount
from schedules.timeline import campaign_plan, next_occurrence, post_times

TZ = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


def local_times(post: PostConfig, after: datetime, until: datetime) -> list[str]:
    return [t.astimezone(TZ).strftime("%m-%d %H:%M") for t in post_times(post, after, until, TZ)]


def post(**kw) -> PostConfig:
    return PostConfig(**{"name": "p", "text": "hi", "groups": ["g1"], **kw})


def test_every_30_minutes_in_evening_window_includes_both_ends():
    p = post(every=Duration(1800), window="19:00-23:00")
    times = local_times(p, sh(2026, 11, 23, 12), sh(2026, 11, 24, 12))
    assert times[0] == "11-23 19:00"
    assert times[-1] == "11-23 23:00"
    assert len(times) == 9


def test_window_across_midnight_belongs_to_the_day_it_opens():
    p = post(every=Duration(3600), window="22:00-02:00", skip=[date(2026, 11, 24)])
    times = local_times(p, sh(2026, 11, 23, 12), sh(2026, 11, 26, 12))
    # the 24th's window (22:00 on the 24th to 02:00 on the 25th) is skipped as a whole
    assert times == [
        "11-23 22:00", "11-23 23:00", "11-24 00:00", "11-24 01:00", "11-24 02:00",
        "11-25 22:00", "11-25 23:00", "11-26 00:00", "11-26 01:00", "11-26 02:00",
    ]


def test_window_across_midnight_respects_end_date_of_the_opening_day():
    p = post(every=Duration(3600), window="23:00-01:00", end=date(2026, 11, 23))
    times = local_times(p, sh(2026, 11, 23, 0), sh(2026, 11, 30, 0))
    # 01:00 on the 23rd closes the 22nd's window
    assert times == ["11-23 01:00", "11-23 23:00", "11-24 00:00", "11-24 01:00"]


def test_daily_at_times_with_start_end_and_skip_dates():
    p = post(at=["20:00", "09:00"], start=date(2026, 11, 24), end=date(2026, 11, 26), skip=[date(2026, 11, 25)])
    times = local_times(p, sh(2026, 11, 20, 0), sh(2026, 12, 1, 0))
    assert times == ["11-24 09:00", "11-24 20:00", "11-26 09:00", "11-26 20:00"]


def test_cron_weekdays_use_standard_crontab_numbers():
    p = post(cron="0 9 * * 1-5")  # Monday to Friday, as in crontab
    times = [
        t.astimezone(TZ).strftime("%a %H:%M") for t in post_times(p, sh(2026, 11, 22, 12), sh(2026, 11, 29, 12), TZ)
    ]
    assert times == ["Mon 09:00", "Tue 09:00", "Wed 09:00", "Thu 09:00", "Fri 09:00"]


def test_cron_with_window_filters_by_local_time():
    p = post(cron="*/30 * * * *", window="23:00-00:30")
    times = local_times(p, sh(2026, 11, 23, 12), sh(2026, 11, 24, 12))
    assert times == ["11-23 23:00", "11-23 23:30", "11-24 00:00", "11-24 00:30"]


def test_interval_bounds_are_exclusive_after_and_inclusive_until():
    p = post(every=Duration(1800), window="19:00-20:00")
    assert local_times(p, sh(2026, 11, 23, 19, 0), sh(2026, 11, 23, 20, 0)) == ["11-23 19:30", "11-23 20:00"]


def test_interval_without_window_is_continuous_across_days():
    p = post(every=Duration(5 * 3600), start=date(2026, 11, 23))
    times = local_times(p, sh(2026, 11, 22, 0), sh(2026, 11, 24, 12))
    assert times == ["11-23 00:00", "11-23 05:00", "11-23 10:00", "11-23 15:00", "11-23 20:00",
                     "11-24 01:00", "11-24 06:00", "11-24 11:00"]


def test_times_are_utc_and_shanghai_has_no_dst():
    p = post(at=["09:00"])
    summer = list(post_times(p, sh(2026, 7, 1, 0), sh(2026, 7, 1, 23), TZ))
    winter = list(post_times(p, sh(2026, 1, 1, 0), sh(2026, 1, 1, 23), TZ))
    assert summer[0] == datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
    assert winter[0] == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)


def test_next_occurrence_after_end_is_none():
    p = post(at=["09:00"], end=date(2026, 11, 23))
    assert next_occurrence(p, sh(2026, 11, 23, 10), TZ) is None
    assert next_occurrence(p, sh(2026, 11, 23, 8), TZ).time == sh(2026, 11, 23, 9)


def campaign(**kw) -> CampaignConfig:
    base = dict(name="双11耳机秒杀", item="蓝牙耳机", price=9.9, original_price=25.9,
                start=datetime(2026, 11, 25, 10, 0), end=datetime(2026, 11, 25, 12, 0),
                link="https://example.com/s/1", groups=["g1"])
    return CampaignConfig(**{**base, **kw})


def test_campaign_timeline_has_announcements_start_reminders_last_call_and_end():
    c = campaign(announce=[Duration(86400), Duration(3600), Duration(300)], remind=Duration(1800))
    plan = [(o.kind, o.time.astimezone(TZ).strftime("%d %H:%M")) for o in campaign_plan(c, TZ)]
    assert plan == [
        ("announce", "24 10:00"), ("announce", "25 09:00"), ("announce", "25 09:55"),
        ("start", "25 10:00"), ("remind", "25 10:30"), ("remind", "25 11:00"), ("remind", "25 11:30"),
        ("last_call", "25 11:50"), ("end", "25 12:00"),
    ]


def test_empty_template_turns_that_post_off():
    c = campaign(end_text="", last_call_text="", announce=[])
    assert [o.kind for o in campaign_plan(c, TZ)] == ["start"]


def test_campaign_with_offset_keeps_its_own_time_zone():
    c = campaign(start=datetime(2026, 11, 25, 2, 0, tzinfo=UTC), end=datetime(2026, 11, 25, 4, 0, tzinfo=UTC),
                 announce=[])
    assert campaign_plan(c, TZ)[0].time == sh(2026, 11, 25, 10)


@pytest.mark.parametrize(("minutes", "text"), [(5, "5分钟"), (65, "1小时5分钟"), (1500, "1天1小时"), (0, "不到1分钟")])
def test_countdown_is_human_chinese(minutes, text):
    assert format_countdown(timedelta(minutes=minutes)) == text


def test_discount_is_written_as_zhe():
    assert format_discount(9.9, 25.9) == "3.8折"
    assert format_discount(50, 100) == "5折"
    assert format_discount(100, 100) == ""
