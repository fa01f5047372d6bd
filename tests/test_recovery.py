"""Start-up recovery: messages recorded (acknowledged) but not handled before a crash are
handled at the next start; replies only within reply_ttl, moderation always, never twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.sim import SimAdapter
from bot.demo import seed_if_empty
from bot.kernel.events import ChatKind, Decision, Event
from bot.runtime import Bot
from bot.store import Store
from bot.store.outbound import OutboundItem
from tests.conftest import make_settings, wait_until


def event(message_id: str, text: str, age: timedelta, *, to_me: bool = False) -> Event:
    return Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id="u_mama_wang",
                 sender_name="王妈妈", message_id=message_id, time=datetime.now(UTC) - age, text=text,
                 to_me=to_me, mentions=["bot"] if to_me else [])


@pytest.fixture
def crashed_store(tmp_path):
    """A database as a crash leaves it: messages recorded ("received"), their handling lost."""
    settings = make_settings(tmp_path, outbox={"reply_ttl": "10m"})
    store = Store(settings.database_path)
    seed_if_empty(store, settings)
    store.lexicon.add_words([{"word": "代开发票", "category": "广告", "action": "mute"}])
    yield settings, store
    store.close()


async def run_bot(settings, store) -> Bot:
    bot = Bot(settings, store, adapters={"sim": SimAdapter()})
    await bot.start()
    return bot


def status(store: Store, uid: str) -> str:
    row = store.messages.get(uid)
    assert row is not None, f"message {uid} not recorded"
    return row["status"]


def stages(store: Store, uid: str) -> list[str]:
    return [d["stage"] for d in store.messages.decisions(uid)]


async def test_unhandled_messages_are_answered_within_reply_ttl_and_only_moderated_after(crashed_store):
    settings, store = crashed_store
    fresh = event("fresh1", "/help", timedelta(minutes=1))
    late = event("late1", "/help", timedelta(minutes=30))
    late_spam = event("late2", "低价代开发票，私聊", timedelta(minutes=30))
    store.messages.record_batch([(e, "received", False) for e in (fresh, late, late_spam)], [])
    bot = await run_bot(settings, store)
    try:
        await wait_until(lambda: all(status(store, e.uid) != "received" for e in (fresh, late, late_spam)))
        await bot.outbox.drain()
        replies = {r["source"] for r in store.outbound.list()}
        assert "reply:sim:fresh1" in replies
        # the same command 30 minutes late: decided and explained, not answered
        assert "reply:sim:late1" not in replies
        assert "commands" in stages(store, late.uid)
        assert any("不再回复" in d["reason"] for d in store.messages.decisions(late.uid))
        # moderation applies however late
        moderation = [d for d in store.messages.decisions(late_spam.uid) if d["stage"] == "moderation"]
        assert moderation and moderation[0]["outcome"] != "pass"
    finally:
        await bot.stop()


async def test_handled_old_and_outside_window_messages_are_left_alone(crashed_store):
    settings, store = crashed_store
    handled = event("done1", "/help", timedelta(minutes=1))
    store.messages.record_batch([(handled, "answered", False)],
                                [(handled.uid, [Decision("commands", "answered")], "answered")])
    ancient = event("old1", "/help", timedelta(days=3))
    store.messages.record_batch([(ancient, "received", False)], [])
    bot = await run_bot(settings, store)
    await bot.stop()
    assert stages(store, handled.uid) == ["commands"]
    assert status(store, ancient.uid) == "received" and stages(store, ancient.uid) == []


async def test_a_reply_queued_before_the_crash_is_not_sent_twice(crashed_store):
    settings, store = crashed_store
    msg = event("q1", "/help", timedelta(seconds=5))
    store.messages.record_batch([(msg, "received", False)], [])
    # the crash came after the reply's ledger row was committed, before the message's status
    store.outbound.insert([OutboundItem(source=f"reply:{msg.uid}", occurrence="0", platform="sim",
                                        chat_id="g_mom", payload={"text": "可用命令"}, reply_to=msg.uid)])
    bot = await run_bot(settings, store)
    try:
        await wait_until(lambda: status(store, msg.uid) != "received")
        await bot.outbox.drain()
        assert len(store.outbound.list(source=f"reply:{msg.uid}")) == 1
    finally:
        await bot.stop()


async def test_recovered_message_keeps_being_addressed_to_the_bot(crashed_store):
    _, store = crashed_store
    store.messages.record_batch([(event("m1", "@小助手 你好", timedelta(0), to_me=True), "received", False)], [])
    assert store.messages.unhandled(datetime.now(UTC) - timedelta(hours=1), 10)[0].to_me is True


async def test_stop_handles_an_event_still_being_taken_in(crashed_store):
    # a socket's reader hands events over in the background: one may be mid-intake at the stop
    settings, store = crashed_store
    bot = await run_bot(settings, store)
    taking_in = asyncio.create_task(bot.submit(event("s1", "/help", timedelta(0))))
    await asyncio.sleep(0)  # recorded in memory, waiting for its commit
    await bot.stop()
    assert taking_in.done() and taking_in.result() == "accepted"
    assert status(store, "sim:s1") == "answered"


async def test_a_recovered_burst_is_not_taken_for_flooding(crashed_store):
    # the messages came over minutes before the crash; handled together at the start they must
    # not look like one member repeating the same text within the flood window
    settings, store = crashed_store
    burst = [event(f"b{i}", "明天几点开始团购呀", timedelta(minutes=10 - i)) for i in range(6)]
    store.messages.record_batch([(e, "received", False) for e in burst], [])
    bot = await run_bot(settings, store)
    await wait_until(lambda: all(status(store, e.uid) != "received" for e in burst))
    await bot.stop()
    outcomes = [d["outcome"] for e in burst for d in store.messages.decisions(e.uid) if d["stage"] == "moderation"]
    assert outcomes == ["pass"] * 6
