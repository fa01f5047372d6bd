"""Member tags in the running bot: a VIP-only answer in a mixed group, tags changed from
another process taking effect within seconds, and [[member_tags]] rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.sim import SimAdapter
from bot.kernel.events import ChatKind, Event, EventType
from bot.runtime import Bot
from bot.store import Store
from keywords.manage import save_rule
from keywords.rules import RuleError
from members import service
from tests.conftest import make_settings, wait_until

_n = 0


def event(text: str, sender: str, *, chat: str = "g_mom", type: EventType = EventType.MESSAGE) -> Event:
    global _n
    _n += 1
    return Event(platform="sim", chat_id=chat, chat_kind=ChatKind.GROUP, sender_id=sender, sender_name=sender,
                 message_id=f"t{_n}", time=datetime.now(UTC), text=text, type=type)


async def start_bot(tmp_path, **sections) -> Bot:
    from bot.demo import seed_if_empty

    settings = make_settings(tmp_path, **sections)
    store = Store(settings.database_path)
    seed_if_empty(store, settings)
    bot = Bot(settings, store, adapters={"sim": SimAdapter()})
    await bot.start()
    return bot


@pytest.fixture
async def bot(tmp_path):
    bot = await start_bot(tmp_path)
    yield bot
    await bot.stop()
    bot.store.close()


def answered(outcome) -> list[str]:
    return [r.text for r in outcome.replies]


async def test_vip_only_keyword_answers_only_tagged_members_and_cli_changes_apply(bot, tmp_path):
    store = bot.store
    service.add_tag(store, "sim:u_mama_wang", "VIP", "admin")
    save_rule(store, {"keyword": "专属福利", "reply": "VIP 专属：满 300 减 50", "member_tags": ["VIP"]},
              source="console")
    await bot.keyword_stage.engine.areload()
    await bot.member_tags.refresh()
    assert answered(await bot.handle(event("有专属福利吗", "u_mama_wang"))) == ["VIP 专属：满 300 减 50"]
    outcome = await bot.handle(event("有专属福利吗", "u_tiantian"))
    assert answered(outcome) == []
    assert "仅对带成员标签 VIP 的成员生效" in outcome.decisions[-2].reason + outcome.decisions[-1].reason
    # a tag given from another process (the CLI: its own store connection) reaches the bot
    with Store(store.path) as other:
        service.add_tag(other, "sim:u_tiantian", "VIP", "cli")
    await wait_until(lambda: "VIP" in bot.member_tags.tags_of("sim", "u_tiantian"), what="tag reloaded")
    assert answered(await bot.handle(event("有专属福利吗呀", "u_tiantian"))) == ["VIP 专属：满 300 减 50"]


def test_a_keyword_rule_naming_an_unknown_member_tag_is_refused(store):
    with pytest.raises(RuleError) as err:
        save_rule(store, {"keyword": "福利", "reply": "x", "member_tags": ["VIPP"]}, source="console")
    assert "未知的成员标签" in err.value.errors["member_tags"]


async def test_faq_entry_for_vip_members_only(bot):
    faq = bot.faq_stage.faq
    store = bot.store
    service.add_tag(store, "sim:u_mama_wang", "VIP", "admin")
    await bot.store.run(faq.save, {"id": "vip_gift", "answer": "VIP 生日礼包每年一次，找专属客服领取。",
                                   "questions": ["生日礼包怎么领", "生日礼包在哪里领取"], "member_tags": ["VIP"]})
    await bot.member_tags.refresh()
    out = await bot.handle(event("@bot 生日礼包怎么领？", "u_mama_wang"))
    assert any("生日礼包" in t for t in answered(out))
    out = await bot.handle(event("@bot 生日礼包怎么领？", "u_tiantian"))
    assert not any("生日礼包每年" in t for t in answered(out))
    with pytest.raises(Exception, match="未知的成员标签"):
        faq.save({"id": "x1", "answer": "a", "questions": ["b c"], "member_tags": ["没有这个"]})


async def test_rules_tag_members_as_events_arrive_and_periodically(tmp_path):
    bot = await start_bot(tmp_path, member_tags=[
        {"tag": "宝妈客户", "when": "joined_group_tag", "value": "宝妈"},
        {"tag": "问过发货", "when": "faq_entry", "value": "shipping"},
        {"tag": "沉默", "when": "silent_days", "value": 30},
        {"tag": "活跃", "when": "active_messages", "value": 3},
    ])
    try:
        store = bot.store
        await bot.handle(event("大家好", "u_new", type=EventType.MEMBER_JOIN))
        assert "宝妈客户" in bot.member_tags.tags_of("sim", "u_new")
        await bot.handle(event("@bot 什么时候发货？", "u_zhang", chat="g_office"))
        assert bot.member_tags.tags_of("sim", "u_zhang") == {"问过发货"}
        for i in range(3):
            await bot.submit(event(f"第{i}条", "u_amy", chat="g_office"))
        await bot.recorder.flush()
        await wait_until(lambda: store.members.tagged_with("问过发货"), what="rule tag written")
        # u_chen was last seen 40 days ago
        old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
        store.members.upsert("sim", "g_office", "u_chen", "陈经理")
        with store.lock:
            store.conn.execute("UPDATE member_profiles SET last_seen_at = ? WHERE user_id = 'u_chen'", (old,))
        await bot.member_tags.recompute_periodic()
        assert ("sim", "u_chen") in store.members.tagged_with("沉默")
        assert ("sim", "u_amy") in store.members.tagged_with("活跃")
        assert "沉默" in bot.member_tags.tags_of("sim", "u_chen")
        # speaking again takes the silent tag back at the next recompute
        with store.lock:
            store.conn.execute("UPDATE member_profiles SET last_seen_at = ? WHERE user_id = 'u_chen'",
                               (datetime.now(UTC).isoformat(),))
        await bot.member_tags.recompute_periodic()
        assert ("sim", "u_chen") not in store.members.tagged_with("沉默")
        # rule tags are known tags: a keyword rule may target them before anyone has them
        assert "沉默" in store.members.known_tags()
    finally:
        await bot.stop()
        bot.store.close()



async def test_a_vip_joining_any_group_gets_the_vip_welcome_and_others_the_general_one(tmp_path):
    bot = await start_bot(tmp_path, welcome=[
        {"text": "欢迎 {nickname} 加入{group}！", "window": "0"},
        {"text": "尊贵的 VIP {nickname}，欢迎回家", "window": "0", "member_tags": ["VIP"]},
    ])
    try:
        store = bot.store
        service.add_tag(store, "sim:u_mama_wang", "VIP", "admin")  # known from 宝妈群
        await bot.member_tags.refresh()
        await bot.handle(event("", "u_mama_wang", chat="g_office", type=EventType.MEMBER_JOIN))
        plain = await bot.handle(event("", "u_tiantian", chat="g_office", type=EventType.MEMBER_JOIN))
        texts = sorted(r["payload"]["text"] for r in store.outbound.list(source="welcome:g_office"))
        assert texts == ["尊贵的 VIP u_mama_wang，欢迎回家", "欢迎 u_tiantian 加入上班族群！"]
        # the trace says why the VIP welcome was not the one sent
        assert any("仅对带成员标签 VIP 的成员发送" in d.reason for d in plain.decisions)
    finally:
        await bot.stop()
        bot.store.close()
