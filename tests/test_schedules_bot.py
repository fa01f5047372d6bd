"""The scheduler inside a running bot: posts go out through the outbox to the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.base import PermanentSendError
from bot.adapters.registry import build_adapters
from bot.demo import seed_if_empty
from bot.kernel.clock import FakeClock
from bot.kernel.events import ChatKind
from bot.runtime import Bot
from bot.store import Store
from tests.conftest import make_settings, wait_until

TZ = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ).astimezone(UTC)


@pytest.fixture
async def running(tmp_path):
    bots: list[Bot] = []

    async def start(clock: FakeClock, groups: int = 0, **sections) -> Bot:
        settings = make_settings(tmp_path, **sections)
        store = Store(settings.database_path)
        seed_if_empty(store, settings)
        with store.chats.tx():
            for i in range(groups):
                store.chats.upsert_chat("sim", f"fan{i:04d}", name=f"粉丝群{i}", tags=["粉丝"])
        bot = Bot(settings, store, clock=clock, adapters=build_adapters(settings))
        await bot.start()
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        await bot.stop()
        bot.store.close()


def bot_messages(bot: Bot, chat_id: str) -> list[str]:
    rows = bot.store.messages.chat_messages("sim", chat_id)
    return [r["text"] for r in rows if r["direction"] == "out"]


async def test_scheduler_starts_with_the_bot_and_posts_to_tagged_simulated_groups(running):
    clock = FakeClock(sh(2026, 11, 23, 8, 59))
    posts = [{"name": "早安", "text": "早上好，今天也要加油", "at": ["09:00"], "tags": ["学生", "宝妈"]}]
    bot = await running(clock, posts=posts)
    assert bot.scheduler.services is bot.services
    clock.set(sh(2026, 11, 23, 9, 0))
    await bot.scheduler.run_due()
    assert await bot.outbox.drain(5)
    assert bot_messages(bot, "g_student")[-1] == "早上好，今天也要加油"
    assert bot_messages(bot, "g_mom")[-1] == "早上好，今天也要加油"
    assert "早上好，今天也要加油" not in bot_messages(bot, "g_vip")
    progress = bot.store.schedules.delivery_progress("post:")
    assert progress[0]["sent"] == 2 and progress[0]["failed"] == 0


async def test_failed_targets_can_be_retried_for_one_occurrence(running):
    # the ledger stamps retries with the wall clock: keep the fake clock ahead of it
    day = (datetime.now(UTC) + timedelta(days=2)).astimezone(TZ).date()
    clock = FakeClock(sh(day.year, day.month, day.day, 8, 59))
    posts = [{"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g_student", "g_gone"]}]
    bot = await running(clock, posts=posts)
    bot.store.chats.upsert_chat("sim", "g_gone", name="临时群")
    sim = bot.adapters["sim"]
    real_send = sim.send

    async def flaky_send(delivery):
        if delivery.chat_id == "g_gone" and delivery.attempts == 1 and not flaky_send.failed:
            flaky_send.failed = True
            raise PermanentSendError("群不存在或机器人已被移出")
        return await real_send(delivery)

    flaky_send.failed = False
    sim.send = flaky_send
    clock.set(sh(day.year, day.month, day.day, 9, 0))
    await bot.scheduler.run_due()
    await wait_until(lambda: bot.store.schedules.delivery_progress("post:")[0]["failed"] == 1)
    job = (await bot.schedules.jobs())[0]
    occurrence = bot.store.schedules.delivery_progress("post:")[0]["occurrence"]
    assert await bot.schedules.retry(job.id, occurrence) == 1
    await wait_until(lambda: bot.store.schedules.delivery_progress("post:")[0]["sent"] == 2)
    assert bot_messages(bot, "g_gone") == ["早上好"]


async def test_fan_out_to_2000_groups_does_not_block_member_messages(running):
    clock = FakeClock(sh(2026, 11, 23, 19, 59))
    posts = [{"name": "晚间秒杀提醒", "text": "今晚 8 点秒杀开始", "at": ["20:00"], "tags": ["粉丝"]}]
    bot = await running(clock, groups=2000, posts=posts)
    clock.set(sh(2026, 11, 23, 20, 0))
    await bot.scheduler.run_due()
    assert bot.outbox.depth() > 0
    # a member message is handled while the broadcast is still going out
    event = bot.adapters["sim"].make_event("g_student", ChatKind.GROUP, "u_xiaoming", "小明", "你好",
                                           time=clock.now())
    outcome = await bot.handle(event)
    assert outcome.status
    assert bot.outbox.depth() > 0  # handled before the broadcast finished, not queued behind it
    assert await bot.outbox.drain(120)
    progress = bot.store.schedules.delivery_progress("post:")[0]
    assert (progress["total"], progress["sent"], progress["failed"]) == (2000, 2000, 0)


async def test_members_asking_for_the_link_get_it_only_during_the_sale(running):
    clock = FakeClock(sh(2026, 11, 25, 9, 0))
    campaigns = [{"name": "耳机秒杀", "item": "蓝牙耳机", "price": 9.9, "original_price": 25.9,
                  "start": "2026-11-25T10:00:00", "end": "2026-11-26T12:00:00",
                  "link": "https://example.com/s/1", "tags": ["学生"], "keywords": ["秒杀", "链接"]}]
    bot = await running(clock, campaigns=campaigns)
    sim = bot.adapters["sim"]

    async def ask(chat_id: str) -> list[str]:
        event = sim.make_event(chat_id, ChatKind.GROUP, "u_xiaoming", "小明", "秒杀链接在哪里？", time=clock.now())
        outcome = await bot.try_event(event)
        return [r.text for r in outcome.replies]

    assert not any("example.com" in r for r in await ask("g_student"))
    clock.set(sh(2026, 11, 25, 10, 0))
    assert await ask("g_student") == ["蓝牙耳机 秒杀进行中：¥9.9（3.8折），11月26日 12:00 结束，抢购链接：https://example.com/s/1"]
    assert not any("example.com" in r for r in await ask("g_office"))
    clock.set(sh(2026, 11, 26, 3, 0))  # overnight, still within the two-day sale
    assert any("example.com" in r for r in await ask("g_student"))
    clock.set(sh(2026, 11, 26, 12, 0))
    assert not any("example.com" in r for r in await ask("g_student"))
    # pausing the campaign disables its keyword rules at once
    clock.set(sh(2026, 11, 26, 11, 0))
    job = (await bot.schedules.jobs())[0]
    await bot.schedules.transition(job.id, "pause")
    assert not any("example.com" in r for r in await ask("g_student"))


async def test_apscheduler_timer_fires_the_occurrence_on_the_real_clock(running):
    from bot.kernel.clock import Clock

    bot = await running(Clock())
    start = (datetime.now(TZ) + timedelta(seconds=1)).replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
    job = await bot.schedules.create("campaign", {
        "name": "即将开始", "item": "纸巾", "price": 1, "original_price": 2, "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(), "link": "https://example.com/z", "groups": ["g_mom"],
        "announce": [], "keywords": []})
    await bot.schedules.transition(job.id, "activate")
    assert bot.schedules.next_run(job.id) is not None
    await wait_until(lambda: any("纸巾 现已开抢" in t for t in bot_messages(bot, "g_mom")), timeout=10)
    await bot.schedules.transition(job.id, "cancel")
    assert bot.schedules.next_run(job.id) is None


async def test_scheduled_post_fills_group_and_time_per_group(running):
    """The defect: `【测试】{group} 现在是 {time}` arrived with the literal `{group}` and `{time}`."""
    clock = FakeClock(sh(2026, 11, 23, 8, 59))
    posts = [{"name": "测试", "text": "【测试】{group} 现在是 {time}", "at": ["09:00"],
              "groups": ["g_student", "g_mom"]}]
    bot = await running(clock, posts=posts)
    clock.set(sh(2026, 11, 23, 9, 0))
    await bot.scheduler.run_due()
    assert await bot.outbox.drain(5)
    assert bot_messages(bot, "g_student")[-1] == "【测试】学生群 现在是 09:00"
    assert bot_messages(bot, "g_mom")[-1] == "【测试】宝妈群 现在是 09:00"
