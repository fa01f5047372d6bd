"""The SQLite store: pragmas, forward-only migrations, idempotent recording."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from bot.events import ChatKind, Decision, Event
from bot.store import Store, StoreError


def event(message_id: str = "m1", text: str = "你好") -> Event:
    return Event(platform="sim", chat_id="g1", chat_kind=ChatKind.GROUP, sender_id="u1",
                 sender_name="小明", message_id=message_id, time=datetime(2026, 11, 23, tzinfo=UTC), text=text)


def test_store_uses_wal_foreign_keys_and_busy_timeout(tmp_path):
    with Store(tmp_path / "q.db") as store:
        conn = store.db.conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_migrations_apply_once_and_record_their_version(tmp_path):
    path = tmp_path / "q.db"
    with Store(path) as store:
        assert "core:1" in store.applied_migrations and "core:2" in store.applied_migrations
        assert store.schema_versions()["core"] == 3  # core:3 adds messages.to_me
        tables = set(store.db.table_names())
        for table in ("chats", "members", "messages", "decisions", "outbound", "users", "audit_log"):
            assert table in tables
    with Store(path) as again:
        assert again.applied_migrations == []


def test_database_from_a_newer_qunbot_is_refused(tmp_path):
    path = tmp_path / "q.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'core'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this qunbot"):
        Store(path)


def test_recording_the_same_message_twice_keeps_one_row(tmp_path):
    with Store(tmp_path / "q.db") as store:
        store.chats.ensure_chats([("sim", "g1", "group", "测试群")])
        store.messages.record_batch([(event(), "received", False)], [("sim:m1", [Decision("record", "recorded")], "received")])
        store.messages.record_batch([(event(text="changed"), "received", False)], [])
        assert store.messages.count("in") == 1
        assert store.messages.get("sim:m1")["text"] == "你好"
        assert [d["stage"] for d in store.messages.decisions("sim:m1")] == ["record"]


def test_member_requires_existing_chat(tmp_path):
    with Store(tmp_path / "q.db") as store, pytest.raises(sqlite3.IntegrityError):
        store.chats.upsert_member("sim", "nope", "u1", "x")


def test_online_backup_copies_a_live_database(tmp_path):
    with Store(tmp_path / "q.db") as store:
        store.chats.upsert_chat("sim", "g1", name="宝妈群", tags=["宝妈"])
        store.backup(tmp_path / "copy.db")
    with Store(tmp_path / "copy.db") as copy:
        assert copy.chats.find_chat("宝妈群")["tags"] == ["宝妈"]


# -- run_short: hot-path writes on the loop's thread when the store is idle ------------------


async def test_short_work_runs_on_the_loops_thread_when_the_store_is_idle(tmp_path):
    import threading

    with Store(tmp_path / "q.db") as store:
        where = await store.run_short(lambda: threading.get_ident())
        assert where == threading.get_ident()
        elsewhere = await store.run(lambda: threading.get_ident())
        assert elsewhere != threading.get_ident()


async def test_short_work_waits_for_work_already_on_the_writer_thread_and_keeps_the_order(tmp_path):
    import asyncio
    import time

    with Store(tmp_path / "q.db") as store:
        order: list[str] = []

        def slow() -> None:
            time.sleep(0.2)
            order.append("queued first")

        queued = asyncio.ensure_future(store.run(slow))
        await asyncio.sleep(0.01)
        await store.run_short(lambda: order.append("short, after it"))
        await queued
        assert order == ["queued first", "short, after it"]


async def test_another_process_holding_the_write_lock_does_not_stall_the_loop(tmp_path):
    """With another connection in a write transaction, the short write goes to the writer
    thread (which waits for the lock): the event loop keeps running meanwhile, and the row
    lands once the lock is released."""
    import asyncio

    path = tmp_path / "q.db"
    with Store(path) as store:
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.ensure_future(ticker())
        writing = asyncio.ensure_future(store.run_short(store.messages.record_batch, [(event("m9"), "received", False)], []))
        await asyncio.sleep(0.3)
        assert not writing.done() and ticks >= 10  # the loop was never stuck behind the lock
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(writing, timeout=10)
        ticking.cancel()
        assert store.messages.get("sim:m9")["text"] == "你好"
        # the zero busy timeout of the attempt on the loop's thread was put back
        assert store.db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


async def test_short_work_that_fails_for_another_reason_raises_and_frees_the_store(tmp_path):
    with Store(tmp_path / "q.db") as store:
        def broken() -> None:
            with store.messages.tx() as conn:
                conn.execute("INSERT INTO no_such_table VALUES (1)")

        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await store.run_short(broken)
        assert await store.run_short(lambda: store.scalar_ping()) == 1
        assert not store.db.conn.in_transaction


def test_a_version_1_database_gets_the_chat_index_that_carries_the_sender(tmp_path):
    """core:2 replaces the (chat, sender) index, costly to insert into, by one in time order
    that carries the sender; a member's recent messages are still found through an index."""
    import sqlite_utils

    from bot.store.base import apply_migrations
    from bot.store.schema_core import CORE_V1, CoreSchema

    class CoreV1(CoreSchema):
        MIGRATIONS = (CORE_V1,)

    path = tmp_path / "v1.db"
    old = sqlite_utils.Database(sqlite3.connect(str(path), isolation_level=None))
    apply_migrations(old, [CoreV1])
    old.conn.close()
    with Store(path) as store:
        assert "core:2" in store.applied_migrations
        indexes = {r[0] for r in store.db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "messages_chat_time_sender" in indexes
        assert not {"messages_sender", "messages_chat_time"} & indexes
        events = []
        for i in range(30):
            e = event(f"m{i}", text=f"第{i}条")
            e.sender_id = "u1" if i % 3 == 0 else "u2"
            e.time = e.time.replace(minute=i)
            events.append((e, "received", False))
        store.messages.record_batch(events, [])
        recent = store.moderation.member_messages("sim", "g1", "u1", limit=4)
        assert [r["text"] for r in recent] == ["第27条", "第24条", "第21条", "第18条"]
        plan = " ".join(r[-1] for r in store.db.conn.execute(
            "EXPLAIN QUERY PLAN SELECT uid FROM messages WHERE platform = 'sim' AND chat_id = 'g1'"
            " AND sender_id = 'u1' AND direction = 'in' ORDER BY time DESC LIMIT 4"))
        assert "messages_chat_time_sender" in plan


async def test_short_work_waits_only_for_earlier_work_not_for_a_stream_of_later_work(tmp_path):
    import asyncio
    import time

    with Store(tmp_path / "q.db") as store:
        stop = False

        async def stream() -> int:
            count = 0
            while not stop:
                await store.run(time.sleep, 0.02)
                count += 1
            return count

        streams = [asyncio.ensure_future(stream()) for _ in range(2)]
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await asyncio.wait_for(store.run_short(lambda: None), timeout=5)
        waited = time.perf_counter() - started
        stop = True
        await asyncio.gather(*streams)
        assert waited < 0.5  # the jobs queued before it, a few times 20 ms, not the whole stream


async def test_a_cancelled_job_still_counts_until_the_writer_thread_is_done_with_it(tmp_path):
    import asyncio
    import threading
    import time

    with Store(tmp_path / "q.db") as store:
        order: list[str] = []

        def slow() -> None:
            order.append("job start")
            time.sleep(0.2)
            order.append("job end")

        job = asyncio.ensure_future(store.run(slow))
        await asyncio.sleep(0.05)
        job.cancel()
        await store.run_short(lambda: order.append("short"))
        assert order == ["job start", "job end", "short"]
        assert await store.runner(10)(threading.get_ident) == threading.get_ident()
        # big work goes to the writer thread even when the store is idle
        assert await store.runner(1_000_000)(threading.get_ident) != threading.get_ident()
