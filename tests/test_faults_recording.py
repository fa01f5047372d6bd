"""Recording faults: stopping while the writer is busy, poison deferred writes, a full disk.

Real SQLite files and the real recorder; a store job blocked on a threading.Event stands in
for a writer thread busy with a long job (a FAQ reload, a big import).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime

import pytest

from bot.kernel.events import ChatKind, Decision, Event
from bot.recorder import Recorder
from bot.store import Store
from tests.conftest import wait_until

pytestmark = pytest.mark.faults


def event(i: int, chat: str = "g1") -> Event:
    return Event(platform="sim", chat_id=chat, chat_kind=ChatKind.GROUP, sender_id=f"u{i % 3}",
                 sender_name="小明", message_id=f"m{i}", time=datetime(2026, 11, 23, tzinfo=UTC), text=f"第{i}条消息")


async def until(predicate, timeout: float = 15.0) -> None:
    await wait_until(predicate, timeout=timeout, interval=0.005)


async def test_stop_while_the_writer_is_busy_records_every_queued_message(tmp_path):
    """The batch has left the recorder's buffers and waits behind a long store job when the
    bot stops: stop() lets that write finish (or puts the batch back) and drains the rest."""
    with Store(tmp_path / "q.db") as store:
        recorder = Recorder(store, interval=0.01)
        await recorder.start()
        gate = threading.Event()
        busy = asyncio.ensure_future(store.run(gate.wait, 10))
        for i in range(10):
            recorder.add_message(event(i))
            recorder.add_decisions(f"sim:m{i}", [Decision("record", "recorded")], "passed")
        # the background flush takes the batch and waits for the writer thread
        await until(lambda: recorder.pending() == 0)
        stopping = asyncio.ensure_future(recorder.stop())
        for _ in range(5):
            await asyncio.sleep(0)
        recorder.add_message(event(10))  # arrives while stopping: drained too
        gate.set()
        await asyncio.wait_for(stopping, timeout=10)
        await busy
        assert store.messages.count("in") == 11
        assert {m["status"] for m in store.messages.chat_messages("sim", "g1", limit=50)} == {"passed", "received"}
        assert recorder.pending() == 0


async def test_a_flush_cancelled_before_its_write_starts_puts_the_batch_back(tmp_path):
    """Whoever awaits a flush may be cancelled (a timeout, shutdown); the batch it took out of
    the buffers is still written, once, by that flush or a later one."""
    with Store(tmp_path / "q.db") as store:
        recorder = Recorder(store)
        gate = threading.Event()
        busy = asyncio.ensure_future(store.run(gate.wait, 10))
        for i in range(5):
            recorder.add_message(event(i))
        flushing = asyncio.ensure_future(recorder.flush())
        await until(lambda: recorder.pending() == 0)
        flushing.cancel()
        gate.set()
        await busy
        await recorder.flush()
        assert store.messages.count("in") == 5


def unanswered(text: str | None, i: int = 0) -> dict:
    return {"text": text, "platform": "sim", "chat_id": "g1", "sender_id": f"u{i}", "outcome": "silent",
            "score": 0.1, "best_entry": None}


async def test_a_poison_deferred_write_is_set_aside_and_messages_keep_being_recorded(aiohttp_client, tmp_path, caplog):
    """A domain write that raises on every attempt (a bug, a bad row) no longer holds back the
    batch: members' messages are accepted and recorded, the good rows of the same writer land,
    the poison is dropped after DEFERRED_ATTEMPTS failures, logged once, counted in /metrics."""
    from bot.recorder import DEFERRED_ATTEMPTS
    from bot.web.app import create_app
    from bot.web.keys import BOT, STORE
    from tests.conftest import login, make_settings

    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    store, bot = client.app[STORE], client.app[BOT]
    bot.durable_timeout = 2.0
    csrf = await login(client)

    def poison() -> None:  # e.g. a counter written against a renamed table
        store.faq.conn.execute("UPDATE no_such_table SET hits = hits + 1")

    bot.recorder.defer(poison)
    for i in range(3):
        bot.recorder.defer_row(store.faq.log_unanswered_many, unanswered(f"好问题{i}", i))
    bot.recorder.defer_row(store.faq.log_unanswered_many, unanswered(None))  # NOT NULL: a bad row
    before = store.messages.count("in")
    statuses = []
    for i in range(4):
        resp = await client.post(
            "/sim/api/send",
            json={"chat_id": "g_mom", "member_id": "u_lin", "text": f"毒药之后{i}"},
            headers={"X-CSRF-Token": csrf},
        )
        statuses.append(resp.status)
    assert statuses == [202] * 4  # accepted: recorded durably
    assert store.messages.count("in") == before + 4
    await wait_until(lambda: bot.recorder.deferred_dropped == 2)
    assert {r["text"] for r in store.faq.open_unanswered()} >= {"好问题0", "好问题1", "好问题2"}
    metrics = await (await client.get("/metrics")).text()
    assert "qunbot_deferred_writes_dropped_total 2" in metrics
    dropped = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert len(dropped) == 2 and all(r.exc_info for r in dropped)
    assert {r.getMessage().split()[2] for r in dropped} == {
        "test_a_poison_deferred_write_is_set_aside_and_messages_keep_being_recorded.<locals>.poison",
        "FaqRepo.log_unanswered_many"}
    assert DEFERRED_ATTEMPTS == 3 and (await client.get("/healthz")).status == 200


async def test_a_full_disk_fails_the_whole_batch_and_sets_nothing_aside(tmp_path):
    """Disk full is the database failing, not a write: every flush fails and keeps everything
    (messages and deferred writes, more attempts than DEFERRED_ATTEMPTS), and all of it lands
    once there is room again."""
    from bot.recorder import DEFERRED_ATTEMPTS

    with Store(tmp_path / "q.db") as store:
        recorder = Recorder(store)
        recorder.add_message(event(0))
        await recorder.flush()
        conn = store.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        with store.lock:
            conn.execute(f"PRAGMA max_page_count = {pages}")
        # a batch of deferred writes only: the deferred write itself meets the full disk
        big = "满" * 20_000
        recorder.defer_row(store.faq.log_unanswered_many, unanswered(big + "a"))
        recorder.defer_row(store.faq.log_unanswered_many, unanswered(big + "b", 1))
        for _ in range(DEFERRED_ATTEMPTS + 2):
            with pytest.raises(sqlite3.OperationalError, match="full"):
                await recorder.flush()
        # then messages too
        for i in range(1, 20):
            recorder.add_message(event(i))
            recorder.defer_row(store.faq.log_unanswered_many, unanswered(f"{big}{i}", i))
        for _ in range(DEFERRED_ATTEMPTS + 2):
            with pytest.raises(sqlite3.OperationalError, match="full"):
                await recorder.flush()
        assert recorder.deferred_dropped == 0
        with store.lock:
            conn.execute("PRAGMA max_page_count = 1073741823")
        await recorder.flush()
        assert store.messages.count("in") == 20
        assert len(store.faq.open_unanswered()) == 21
        assert recorder.deferred_dropped == 0 and recorder.pending() == 0
