"""群SOP inside a running bot: a simulated member joins, the day-0 step reaches them privately,
the staff reminder reaches the group's manager, and leaving stops the rest."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.registry import build_adapters
from bot.adapters.sim import SimAdapter
from bot.demo import seed_if_empty
from bot.kernel.clock import Clock
from bot.kernel.events import ChatKind, EventType
from bot.runtime import Bot
from bot.store import Store
from schedules.sop_service import member_preview
from tests.conftest import make_settings, wait_until

SOP = [{
    "id": "newbie", "anchor": "member_joined", "tags": ["宝妈"],
    "steps": [
        {"after": "0d", "text": "欢迎 {nickname} 加入{group}，有问题随时问我～", "private": True},
        {"after": "0d", "text": "新成员 {nickname} 入群了，记得打招呼", "to": "staff"},
        {"after": "1d", "text": "{nickname}，第二天的小贴士", "private": True},
    ],
}]


@pytest.fixture
async def bot(tmp_path):
    settings = make_settings(tmp_path, sop=SOP)
    store = Store(settings.database_path)
    seed_if_empty(store, settings)
    bot = Bot(settings, store, clock=Clock(), adapters=build_adapters(settings))
    await bot.start()
    yield bot
    await bot.stop()
    store.close()


def outgoing(bot: Bot, chat_id: str) -> list[str]:
    return [r["text"] for r in bot.store.messages.chat_messages("sim", chat_id) if r["direction"] == "out"]


async def membership(bot: Bot, kind: EventType, member: str, name: str) -> None:
    sim = bot.adapters["sim"]
    assert isinstance(sim, SimAdapter)
    event = sim.make_event("g_mom", ChatKind.GROUP, member, name, "", time=bot.clock.now(), type=kind,
                           chat_name="宝妈群")
    await bot.submit(event)


async def test_member_joining_a_tagged_group_gets_the_first_step_and_staff_a_reminder(bot):
    await membership(bot, EventType.MEMBER_JOIN, "u_new", "新妈妈")
    await bot.scheduler.sop.run_due()
    assert await bot.outbox.drain(5)
    await bot.recorder.flush()
    assert outgoing(bot, "u_new") == ["欢迎 新妈妈 加入宝妈群，有问题随时问我～"]
    assert outgoing(bot, "u_lin") == ["新成员 新妈妈 入群了，记得打招呼"]
    # a second tick (or a restart) sends nothing again
    await bot.scheduler.sop.run_due()
    assert await bot.outbox.drain(5)
    await bot.recorder.flush()
    assert len(outgoing(bot, "u_new")) == 1

    await membership(bot, EventType.MEMBER_LEAVE, "u_new", "新妈妈")
    rows = await bot.store.run(member_preview, bot.store, bot.settings, "sim:u_new", bot.clock.now())
    assert [(r["step"], r["status"]) for r in rows] == [(1, "sent"), (2, "sent"), (3, "pending")]
    await bot.scheduler.sop.run_due(bot.clock.now().replace(year=bot.clock.now().year + 1))
    rows = await bot.store.run(member_preview, bot.store, bot.settings, "sim:u_new", bot.clock.now())
    assert rows[2]["status"] == "skipped" and rows[2]["reason"] == "成员已退群，序列停止"


async def test_sop_steps_are_bulk_sends_held_by_quiet_hours_while_replies_go(tmp_path):
    from datetime import timedelta

    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.now(tz)
    quiet = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    settings = make_settings(tmp_path, sop=SOP, sending={"quiet_hours": quiet})
    store = Store(settings.database_path)
    seed_if_empty(store, settings)
    bot = Bot(settings, store, clock=Clock(), adapters=build_adapters(settings))
    await bot.start()
    try:
        await membership(bot, EventType.MEMBER_JOIN, "u_new", "新妈妈")
        await bot.scheduler.sop.run_due()
        sim = bot.adapters["sim"]
        assert isinstance(sim, SimAdapter)
        await bot.submit(sim.make_event("g_mom", ChatKind.GROUP, "u_new", "新妈妈", "/help",
                                        time=bot.clock.now(), chat_name="宝妈群"))
        await wait_until(lambda: any("可用命令" in t for t in outgoing(bot, "g_mom")))
        rows = [r for r in bot.store.outbound.list(limit=100) if r["source"].startswith("sop:")]
        assert rows and {r["status"] for r in rows} == {"pending"}, "SOP steps wait for the quiet hours to end"
        assert all(r["payload"]["bulk"] is True for r in rows)
    finally:
        await bot.stop()
        store.close()


async def test_running_bot_sends_the_day_0_step_on_its_own_tick(tmp_path):
    settings = make_settings(tmp_path, sop=SOP, schedule={"tick": "1s"})
    store = Store(settings.database_path)
    seed_if_empty(store, settings)
    bot = Bot(settings, store, clock=Clock(), adapters=build_adapters(settings))
    await bot.start()
    try:
        await membership(bot, EventType.MEMBER_JOIN, "u_tick", "准时妈妈")
        await wait_until(lambda: outgoing(bot, "u_tick") == ["欢迎 准时妈妈 加入宝妈群，有问题随时问我～"], timeout=10)
    finally:
        await bot.stop()
        store.close()
