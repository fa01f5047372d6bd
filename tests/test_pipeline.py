"""The pipeline as a running bot sees it: dedupe, record, stages in order, decisions stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.sim import SimAdapter
from bot.kernel.events import ChatKind, Event
from bot.runtime import Bot
from bot.store import Store
from tests.conftest import make_settings, wait_until


def event(message_id: str, text: str = "你好", chat: str = "g_mom", sender: str = "u_mama_wang") -> Event:
    return Event(platform="sim", chat_id=chat, chat_kind=ChatKind.GROUP, sender_id=sender,
                 sender_name="王妈妈", message_id=message_id, time=datetime.now(UTC), text=text)


@pytest.fixture
async def bot(tmp_path):
    from bot.demo import seed_if_empty

    settings = make_settings(tmp_path, bot={"max_text_length": 50})
    store = Store(settings.database_path)
    seed_if_empty(store, settings)
    bot = Bot(settings, store, adapters={"sim": SimAdapter()})
    await bot.start()
    yield bot
    await bot.stop()
    store.close()


async def test_stages_run_in_design_order(bot):
    assert bot.pipeline.names == ["dedupe", "record", "moderation", "commands", "keywords", "intents"]


async def test_every_stage_decision_is_stored_for_why(bot):
    await bot.handle(event("a1"))
    await bot.recorder.flush()
    stages = [d["stage"] for d in bot.store.messages.decisions("sim:a1")]
    assert stages == bot.pipeline.names
    assert bot.store.messages.get("sim:a1")["text"] == "你好"


async def test_same_platform_message_id_is_dropped_and_recorded_as_duplicate(bot):
    first = await bot.handle(event("dup1", "/help"))
    second = await bot.handle(event("dup1", "/help"))
    await bot.recorder.flush()
    assert first.status == "answered" and len(first.replies) == 1
    assert second.status == "duplicate" and second.replies == []
    assert bot.store.messages.count("in") == 6  # five demo messages plus this one
    outcomes = [(d["stage"], d["outcome"]) for d in bot.store.messages.decisions("sim:dup1")]
    assert ("dedupe", "duplicate") in outcomes
    await bot.outbox.drain()
    replies = [m for m in bot.store.messages.chat_messages("sim", "g_mom") if m["direction"] == "out"]
    assert len(replies) == 1, "a retried message must not be answered twice"


async def test_duplicates_are_recognised_after_a_restart(tmp_path):
    settings = make_settings(tmp_path)
    store = Store(settings.database_path)
    bot = Bot(settings, store, adapters={"sim": SimAdapter()})
    await bot.start()
    await bot.handle(event("r1"))
    await bot.stop()
    bot = Bot(settings, store, adapters={"sim": SimAdapter()})
    await bot.start()
    outcome = await bot.handle(event("r1"))
    await bot.stop()
    store.close()
    assert outcome.status == "duplicate"


async def test_oversized_text_is_truncated_recorded_and_explained(bot):
    long_text = "很长的消息" * 100
    outcome = await bot.handle(event("big1", long_text))
    await bot.recorder.flush()
    row = bot.store.messages.get("sim:big1")
    assert row["truncated"] == 1 and len(row["text"]) == 50
    record = next(d for d in outcome.decisions if d.stage == "record")
    assert "截断" in record.reason


async def test_message_from_unknown_chat_creates_the_chat(bot):
    await bot.handle(event("u1", chat="g_new"))
    await bot.recorder.flush()
    assert bot.store.chats.get_chat("sim", "g_new") is not None


async def test_help_command_reply_goes_out_through_the_outbox(bot):
    await bot.submit(event("h1", "/help"))
    await wait_until(lambda: any(
        m["direction"] == "out" and "可用命令" in m["text"]
        for m in bot.store.messages.chat_messages("sim", "g_mom")
    ))
    await wait_until(lambda: bot.store.outbound.list(source="reply:sim:h1")[0]["status"] == "sent")
    [row] = bot.store.outbound.list(source="reply:sim:h1")
    assert row["reply_to"] == "sim:h1" and row["attempts"] == 1
    # held back by rate limits longer than [outbox] reply_ttl (10 minutes), it would be dropped
    expires = datetime.fromisoformat(row["not_after"]) - datetime.fromisoformat(row["created_at"])
    assert 599 <= expires.total_seconds() <= 601


async def test_dry_run_changes_nothing(bot):
    outcome = await bot.try_event(event("t1", "/help"))
    await bot.recorder.flush()
    assert outcome.replies and bot.store.messages.get("sim:t1") is None
    assert bot.store.outbound.list(source="reply:sim:t1") == []
    # and the same id is still new for the real pipeline
    assert (await bot.handle(event("t1", "/help"))).status == "answered"


async def test_deferred_writes_run_in_the_next_batch_not_before(bot):
    calls: list[str] = []

    def write(label: str) -> None:
        bot.store.accounts.set_value("deferred", label)
        calls.append(label)

    bot.services.write_later(write, "first")
    assert calls == []
    await bot.recorder.flush()
    assert calls == ["first"] and bot.store.accounts.get_value("deferred") == "first"


async def test_rows_for_one_writer_go_in_one_call_in_order_and_survive_a_failed_batch(bot):
    calls: list[list[str]] = []
    fail = [True]

    def write_rows(rows: list[str]) -> None:
        calls.append(list(rows))
        if fail[0]:
            raise OSError("磁盘已满")
        bot.store.accounts.set_value("rows", ",".join(rows))

    bot.services.write_row_later(write_rows, "a")
    bot.services.write_later(calls.append, ["other"])
    bot.services.write_row_later(write_rows, "b")
    with pytest.raises(OSError):
        await bot.recorder.flush()
    assert calls == [["a", "b"]], "one call for both rows, at the first row's place"
    # the failed batch is kept: written again, before rows queued since
    fail[0] = False
    bot.services.write_row_later(write_rows, "c")
    await bot.recorder.flush()
    assert calls[1:] == [["a", "b"], ["other"], ["c"]]
    assert bot.store.accounts.get_value("rows") == "c"


async def test_unanswered_questions_and_faq_answers_of_a_burst_are_all_logged(bot):
    questions = [event(f"q{i}", f"请问第{i}号仓库周末几点开门？", sender=f"u{i}") for i in range(30)]
    for e in questions:
        await bot.handle(e)
    await bot.recorder.flush()
    logged = bot.store.faq.open_unanswered()
    assert sorted(r["sender_id"] for r in logged) == sorted(f"u{i}" for i in range(30))
    assert all(r["at"] and r["outcome"] in ("silent", "suggest") for r in logged)


async def test_a_burst_is_held_by_a_bounded_queue_and_every_message_is_recorded(tmp_path):
    import asyncio

    settings = make_settings(tmp_path)
    store = Store(settings.database_path)
    bot = Bot(settings, store, adapters={"sim": SimAdapter()}, workers=1, queue_size=5)
    release = asyncio.Event()

    async def slow_stage(event, ctx):
        await release.wait()
        from bot.kernel.events import pass_

        return pass_("keywords")

    bot.pipeline.replace("keywords", slow_stage)
    await bot.start()
    senders = [asyncio.create_task(bot.submit(event(f"burst{i}", f"消息{i}"))) for i in range(60)]
    await wait_until(lambda: bot.queue_depth() == 5, what="the bounded queue to fill up")
    depth = bot.queue_depth()
    waiting = sum(not t.done() for t in senders)
    release.set()
    await asyncio.gather(*senders)
    await bot.stop()
    assert depth <= 5, "the queue is bounded"
    assert waiting >= 50, "senders wait (back-pressure) instead of growing memory"
    assert store.messages.count("in") == 60
    assert all(store.messages.decisions(f"sim:burst{i}") for i in range(60))
    store.close()
