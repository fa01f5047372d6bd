"""Recurring posts and campaigns reach the delivery ledger exactly once (FakeClock, real SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import settings_from_dict
from bot.kernel.clock import FakeClock
from bot.services import Services
from bot.store import Store
from schedules.scheduler import Scheduler
from schedules.service import ScheduleError, ScheduleService

TZ = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


CAMPAIGN = {
    "name": "耳机秒杀", "item": "蓝牙耳机", "price": 9.9, "original_price": 25.9,
    "start": "2026-11-25T10:00:00", "end": "2026-11-25T12:00:00", "link": "https://example.com/s/1",
    "tags": ["学生"], "announce": ["1h", "5m"], "remind": "30m", "last_call": "10m",
}


class World:
    """A bot's store, clock, scheduler and schedule service; `restart()` reopens everything on the same file."""

    def __init__(self, tmp_path, config: dict, start: datetime) -> None:
        self.path = tmp_path / "qunbot.db"
        self.config = config
        self.clock = FakeClock(start.astimezone(UTC))
        self.store = Store(self.path)
        for i, tags in enumerate((["学生"], ["学生", "VIP"], ["宝妈"])):
            self.store.chats.upsert_chat("sim", f"g{i}", name=f"测试群{i}", tags=tags)
        self._start()

    def _start(self) -> None:
        settings = settings_from_dict(self.config)
        self.scheduler = Scheduler(Services(settings=settings, store=self.store, clock=self.clock))
        self.schedules = ScheduleService(self.scheduler)

    def restart(self) -> None:
        self.store.close()
        self.store = Store(self.path)
        self._start()

    def at(self, when: datetime) -> None:
        self.clock.set(when.astimezone(UTC))

    def ledger(self, source_prefix: str = "") -> list[dict]:
        rows = self.store.outbound.list(limit=10_000)
        return sorted((r for r in rows if r["source"].startswith(source_prefix)), key=lambda r: r["id"])

    def runs(self) -> list[dict]:
        return sorted(self.store.schedules.runs(limit=1000), key=lambda r: (r["scheduled_at"], r["id"]))


@pytest.fixture
def world(tmp_path):
    worlds = []

    def make(config: dict, start: datetime) -> World:
        w = World(tmp_path, config, start)
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        w.store.close()


async def test_post_reaches_each_target_once_even_when_run_due_runs_twice(world):
    w = world({"posts": [{"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g0", "测试群2"]}]},
              sh(2026, 11, 23, 8, 0))
    await w.scheduler.load()
    w.at(sh(2026, 11, 23, 9, 0, 5))
    first = await w.scheduler.run_due()
    again = await w.scheduler.run_due()
    assert [r["status"] for r in first] == ["submitted"]
    assert again == []
    rows = w.ledger("post:")
    assert [(r["chat_id"], r["payload"]["text"]) for r in rows] == [("g0", "早上好"), ("g2", "早上好")]
    assert rows[0]["occurrence"] == "2026-11-23T01:00:00+00:00"


async def test_restart_on_same_database_does_not_post_again(world):
    w = world({"posts": [{"name": "晚间福利", "texts": ["A", "B", "C"], "every": "30m", "window": "19:00-20:00",
                          "tags": ["学生"]}]}, sh(2026, 11, 23, 18, 0))
    await w.scheduler.load()
    w.at(sh(2026, 11, 23, 19, 0))
    await w.scheduler.run_due()
    w.at(sh(2026, 11, 23, 19, 30))
    await w.scheduler.run_due()
    w.restart()
    await w.scheduler.load()
    await w.scheduler.run_due()
    w.at(sh(2026, 11, 23, 20, 0))
    w.restart()
    await w.scheduler.load()
    texts = [(r["occurrence"][11:16], r["chat_id"], r["payload"]["text"]) for r in w.ledger("post:")]
    # texts rotate per occurrence; two tagged groups each get every occurrence once
    assert texts == [("11:00", "g0", "A"), ("11:00", "g1", "A"), ("11:30", "g0", "B"), ("11:30", "g1", "B"),
                     ("12:00", "g0", "C"), ("12:00", "g1", "C")]


async def test_crash_after_handing_to_outbox_before_recording_is_not_posted_twice(world, monkeypatch):
    w = world({"posts": [{"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g0", "g1"]}]},
              sh(2026, 11, 23, 8, 0))
    await w.scheduler.load()
    w.at(sh(2026, 11, 23, 9, 0))

    def crash(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(w.store.schedules, "record_run", crash)
    with pytest.raises(SystemExit):
        await w.scheduler.run_due()
    assert len(w.ledger("post:")) == 2
    w.at(sh(2026, 11, 23, 9, 30))  # back after the grace time
    w.restart()
    results = await w.scheduler.load()
    assert len(w.ledger("post:")) == 2
    assert results[0]["status"] == "submitted"
    assert w.runs()[0]["status"] == "submitted"


async def test_missed_post_is_sent_late_within_grace_and_skipped_after(world):
    config = {"schedule": {"post_misfire_grace": "10m"},
              "posts": [{"name": "整点", "text": "整点报时", "cron": "0 * * * *", "groups": ["g0"]}]}
    w = world(config, sh(2026, 11, 23, 8, 30))
    await w.scheduler.load()
    # the bot was down from 08:30 to 10:05: 09:00 is too late, 10:00 is within the grace time
    w.at(sh(2026, 11, 23, 10, 5))
    w.restart()
    await w.scheduler.load()
    runs = w.runs()
    assert [(r["scheduled_at"][11:16], r["status"]) for r in runs] == [("01:00", "skipped"), ("02:00", "submitted")]
    assert "超过补发宽限" in runs[0]["reason"]
    assert "补发" in runs[1]["reason"]
    assert [r["occurrence"][11:16] for r in w.ledger("post:")] == ["02:00"]


async def test_campaign_timeline_goes_out_in_order_with_rendered_text(world):
    w = world({"campaigns": [CAMPAIGN]}, sh(2026, 11, 25, 8, 0))
    await w.scheduler.load()
    t = sh(2026, 11, 25, 8, 0)
    while t <= sh(2026, 11, 25, 12, 30):
        w.at(t)
        await w.scheduler.run_due()
        t += timedelta(minutes=1)
    kinds = [r["source"].split(":")[2] for r in w.ledger("campaign:") if r["chat_id"] == "g0"]
    assert kinds == ["announce", "announce", "start", "remind", "remind", "remind", "last_call", "end"]
    first = w.ledger("campaign:")[0]
    assert first["payload"]["text"].startswith("【秒杀预告】蓝牙耳机 将于 11月25日 10:00 开抢，距开抢还有 1小时")
    assert "3.8折" in first["payload"]["text"]
    assert {r["chat_id"] for r in w.ledger("campaign:")} == {"g0", "g1"}
    sale = [r for r in w.ledger("campaign:") if ":end" not in r["source"]]
    assert all(r["not_after"].startswith("2026-11-25T04:00:00") for r in sale)
    job = (await w.scheduler.jobs())[0]
    assert job.status == "ended"


async def test_stale_sale_posts_are_never_sent_after_the_sale(world):
    w = world({"campaigns": [CAMPAIGN]}, sh(2026, 11, 25, 11, 45))
    await w.scheduler.load()
    # down from 11:45 until 12:02: last call (11:50) is stale, the end notice is within the grace
    w.at(sh(2026, 11, 25, 12, 2))
    w.restart()
    await w.scheduler.load()
    runs = {r["kind"]: r for r in w.runs()}
    assert runs["last_call"]["status"] == "skipped"
    assert runs["last_call"]["reason"] == "活动已结束，过期的活动消息不再发送"
    assert runs["end"]["status"] == "submitted"


async def test_console_campaign_starts_as_draft_and_posts_nothing_until_activated(world):
    w = world({}, sh(2026, 11, 25, 8, 0))
    await w.scheduler.load()
    job = await w.schedules.create("campaign", {**CAMPAIGN, "tags": ["VIP"]})
    assert job.status == "draft"
    w.at(sh(2026, 11, 25, 9, 0))
    assert await w.scheduler.run_due() == []
    preview = await w.schedules.preview(days=1, include_drafts=True)
    assert preview[0]["chat"] == "g1" and preview[0]["kind"] == "announce"
    await w.schedules.transition(job.id, "activate")
    w.at(sh(2026, 11, 25, 9, 55))
    await w.scheduler.run_due()
    assert [r["source"] for r in w.ledger()] == [f"campaign:{job.id}:announce"]


async def test_pause_skips_occurrences_and_resume_continues_without_backfill(world):
    w = world({}, sh(2026, 11, 25, 8, 0))
    await w.scheduler.load()
    job = await w.schedules.create("campaign", CAMPAIGN)
    await w.schedules.transition(job.id, "activate")
    w.at(sh(2026, 11, 25, 10, 0))
    await w.scheduler.run_due()
    await w.schedules.transition(job.id, "pause")
    w.at(sh(2026, 11, 25, 11, 5))
    await w.scheduler.run_due()
    await w.schedules.transition(job.id, "resume")
    w.at(sh(2026, 11, 25, 11, 30))
    await w.scheduler.run_due()
    status = {(r["kind"], r["scheduled_at"][11:16]): r["status"] for r in w.runs()}
    assert status[("remind", "02:30")] == "skipped"
    assert status[("remind", "03:00")] == "skipped"
    assert status[("remind", "03:30")] == "submitted"
    sent = sorted({(r["source"].split(":")[2], r["occurrence"][11:16]) for r in w.ledger()})
    # 09:00 announcement was an hour late at 10:00 (skipped); 09:55 was within the 5 minute grace
    assert sent == [("announce", "01:55"), ("remind", "03:30"), ("start", "02:00")]


async def test_edit_after_some_posts_went_out_changes_only_future_posts(world):
    w = world({}, sh(2026, 11, 25, 8, 0))
    await w.scheduler.load()
    job = await w.schedules.create("campaign", CAMPAIGN)
    await w.schedules.transition(job.id, "activate")
    w.at(sh(2026, 11, 25, 10, 1))
    await w.scheduler.run_due()
    before = len(w.ledger())
    # new price, and the start moved earlier: the already-sent start is not repeated
    await w.schedules.update(job.id, {**CAMPAIGN, "price": 8.8, "start": "2026-11-25T09:30:00"})
    w.at(sh(2026, 11, 25, 10, 30))
    await w.scheduler.run_due()
    rows = w.ledger()
    new = rows[before:]
    assert {r["source"].split(":")[2] for r in new} == {"remind"}
    assert all("¥8.8" in r["payload"]["text"] for r in new)
    assert all("¥9.9" in r["payload"]["text"] for r in rows[:before])
    assert len({(r["source"], r["occurrence"], r["chat_id"]) for r in rows}) == len(rows)


async def test_cancelled_campaign_posts_nothing_more(world):
    w = world({}, sh(2026, 11, 25, 8, 0))
    await w.scheduler.load()
    job = await w.schedules.create("campaign", CAMPAIGN)
    await w.schedules.transition(job.id, "activate")
    await w.schedules.transition(job.id, "cancel")
    w.at(sh(2026, 11, 25, 13, 0))
    await w.scheduler.run_due()
    assert w.ledger() == []
    with pytest.raises(ScheduleError):
        await w.schedules.transition(job.id, "resume")


async def test_config_jobs_keep_console_pause_across_restart(world):
    w = world({"posts": [{"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g0"]}]},
              sh(2026, 11, 23, 8, 0))
    await w.scheduler.load()
    job = (await w.scheduler.jobs())[0]
    await w.schedules.transition(job.id, "pause")
    w.restart()
    await w.scheduler.load()
    w.at(sh(2026, 11, 23, 9, 0))
    await w.scheduler.run_due()
    assert w.ledger() == []
    assert (await w.scheduler.jobs())[0].status == "paused"


async def test_groups_that_do_not_exist_are_reported_on_the_run(world):
    w = world({"posts": [{"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g0", "不存在的群"]}]},
              sh(2026, 11, 23, 8, 0))
    await w.scheduler.load()
    w.at(sh(2026, 11, 23, 9, 0))
    await w.scheduler.run_due()
    assert "未找到群：不存在的群" in w.runs()[0]["reason"]
    assert len(w.ledger()) == 1


async def test_failed_hand_over_is_retried_on_the_next_run_and_sent_once(world):
    w = world({"posts": [{"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g0", "g1"]}]},
              sh(2026, 11, 23, 8, 0))
    await w.scheduler.load()
    w.at(sh(2026, 11, 23, 9, 0))
    calls = []

    async def flaky_submit(items):
        calls.append(len(items))
        if len(calls) == 1:
            raise OSError("database is locked")
        return w.store.outbound.insert(items)

    w.scheduler.services.submit = flaky_submit
    assert await w.scheduler.run_due() == []
    assert w.ledger() == []
    w.at(sh(2026, 11, 23, 9, 1))
    results = await w.scheduler.run_due()
    assert [r["status"] for r in results] == ["submitted"]
    assert len(w.ledger()) == 2 and calls == [2, 2]
