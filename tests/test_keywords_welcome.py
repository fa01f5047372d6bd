"""Welcome messages: per group or tag, templated, and one merged welcome for a wave of joins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.sim import SimAdapter
from bot.kernel.clock import FakeClock
from bot.kernel.events import ChatKind, Event, EventType
from bot.runtime import Bot
from bot.store import Store
from keywords.manage import save_welcome
from tests.conftest import make_settings, wait_until
from tests.keywords_helpers import START, Harness

JOIN = EventType.MEMBER_JOIN


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path, welcome=[
        {"text": "欢迎 {nickname} 加入{group}！", "window": "10s"},
        {"text": "VIP 专属欢迎 {nickname}（{count} 位）", "tags": ["VIP"]},
        {"text": "宝妈们好，欢迎 {nickname}", "groups": ["宝妈群"]},
    ])
    yield h
    h.close()


async def join(h: Harness, name: str, chat: str = "g_student", sender: str = ""):
    return await h.send("", chat=chat, sender=sender or name, name=name, type=JOIN)


async def test_joins_within_the_window_are_merged_into_one_welcome(harness):
    h = harness
    first = await join(h, "小明")
    assert first.outcome == "welcome-queued" and first.stop
    h.clock.advance(4)
    await join(h, "Lily")
    h.clock.advance(5)
    await join(h, "阿豪")
    assert await h.engine.welcome.flush_due() == 0  # the window is still open
    h.clock.advance(1)
    assert await h.engine.welcome.flush_due() == 1
    assert len(h.submitted) == 1
    item = h.submitted[0]
    assert item.payload["text"] == "欢迎 小明、Lily、阿豪 加入g_student！"
    assert item.source == "welcome:g_student" and item.chat_id == "g_student"
    assert item.occurrence == START.isoformat()  # keyed by the window start


async def test_a_join_after_the_window_starts_a_new_welcome(harness):
    h = harness
    await join(h, "小明")
    h.clock.advance(11)
    await join(h, "Lily")  # closes the first window on its way
    h.clock.advance(11)
    await h.engine.welcome.flush_due()
    assert [i.payload["text"] for i in h.submitted] == ["欢迎 小明 加入g_student！", "欢迎 Lily 加入g_student！"]
    assert len({i.occurrence for i in h.submitted}) == 2


async def test_the_same_member_joining_twice_is_named_once(harness):
    h = harness
    await join(h, "小明", sender="u1")
    await join(h, "小明", sender="u1")
    h.clock.advance(10)
    await h.engine.welcome.flush_due()
    assert h.submitted[0].payload["text"] == "欢迎 小明 加入g_student！"


async def test_group_welcome_beats_tag_welcome_beats_default(harness):
    h = harness
    await join(h, "王妈妈", chat="g_mom")
    await join(h, "李总", chat="g_vip")
    h.clock.advance(10)
    await h.engine.welcome.flush_due()
    texts = sorted(i.payload["text"] for i in h.submitted)
    assert texts == ["VIP 专属欢迎 李总（1 位）", "宝妈们好，欢迎 王妈妈"]


async def test_nickname_in_welcome_is_literal(harness):
    h = harness
    await join(h, "{group}<a href=x>")
    h.clock.advance(10)
    await h.engine.welcome.flush_due()
    assert h.submitted[0].payload["text"] == "欢迎 {group}<a href=x> 加入g_student！"


async def test_dry_run_join_previews_without_queueing(harness):
    h = harness
    decision = await h.send("", chat="g_student", sender="u9", name="小红", type=JOIN, dry_run=True)
    assert decision.outcome == "welcome" and decision.detail["text"] == "欢迎 小红 加入g_student！"
    assert h.engine.welcome.pending == {}


async def test_welcome_edited_in_console_applies_after_reload(harness):
    h = harness
    row = next(r for r in h.store.keywords.list_welcome() if not r["spec"]["groups"] and not r["spec"]["tags"])
    with pytest.raises(Exception, match="配置文件"):
        save_welcome(h.store, {"text": "改了"}, rowid=row["id"])
    save_welcome(h.store, {"text": "新朋友 {nickname} 好", "groups": ["g_student"]})
    await h.engine.areload()
    await join(h, "小明")
    h.clock.advance(10)
    await h.engine.welcome.flush_due()
    assert h.submitted[0].payload["text"] == "新朋友 小明 好"


async def test_merged_welcome_is_delivered_once_through_the_outbox(tmp_path):
    settings = make_settings(tmp_path, welcome=[{"text": "欢迎 {nickname}", "window": "5s"}])
    store = Store(settings.database_path)
    clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    sim = SimAdapter()
    bot = Bot(settings, store, clock=clock, adapters={"sim": sim})
    await bot.start()
    try:
        for i, name in enumerate(["甲", "乙", "丙"]):
            await bot.handle(Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id=f"n{i}",
                                   sender_name=name, message_id=f"j{i}", time=clock.now(), type=JOIN))
            clock.advance(1)
        engine = bot.keyword_stage.engine
        clock.advance(5)
        assert await engine.welcome.flush_due() == 1

        def sent():
            return [m for m in store.messages.chat_messages("sim", "g_mom") if m["direction"] == "out"]

        await wait_until(sent)
        assert [m["text"] for m in sent()] == ["欢迎 甲、乙、丙"]
    finally:
        await bot.stop()
        store.close()


async def test_stopping_the_bot_sends_open_welcomes_and_writes_hits(tmp_path):
    settings = make_settings(tmp_path, welcome=[{"text": "欢迎 {nickname}", "window": "60s"}],
                             keywords=[{"id": "k", "keyword": "群规", "reply": "看公告"}])
    store = Store(settings.database_path)
    clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    bot = Bot(settings, store, clock=clock, adapters={"sim": SimAdapter()})
    await bot.start()
    try:
        await bot.handle(Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id="n1",
                               sender_name="甲", message_id="j1", time=clock.now(), type=JOIN))
        await bot.handle(Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id="n1",
                               sender_name="甲", message_id="m1", time=clock.now(), text="群规"))
    finally:
        await bot.stop()
    assert [r["payload"]["text"] for r in store.outbound.list(source="welcome:g_mom")] == ["欢迎 甲"]
    assert store.keywords.get_rule_by_name("k")["hits"] == 1
    store.close()


async def test_the_bot_joining_a_group_is_not_welcomed(harness):
    # QQ's GROUP_ADD_ROBOT: the bot itself is the one who joined (to_me)
    h = harness
    decision = await h.send("", chat="g_student", sender="bot", name="bot", type=JOIN, to_me=True)
    assert decision.outcome != "welcome-queued" and "机器人自己入群" in decision.reason
    h.clock.advance(11)
    await h.engine.welcome.flush_due()
    assert h.submitted == []
