"""The SQLite store: pragmas, forward-only migrations, idempotent recording."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from bot.kernel.events import ChatKind, Decision, Event
from bot.store import Store, StoreError


def event(message_id: str = "m1", text: str = "你好") -> Event:
    return Event(platform="sim", chat_id="g1", chat_kind=ChatKind.GROUP, sender_id="u1",
                 sender_name="小明", message_id=message_id, time=datetime(2026, 11, 23, tzinfo=UTC), text=text)


def test_store_uses_wal_foreign_keys_and_busy_timeout(tmp_path):
    with Store(tmp_path / "q.db") as store:
        conn = store.conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_migrations_apply_once_and_record_their_version(tmp_path):
    path = tmp_path / "q.db"
    with Store(path) as store:
        assert "core:1" in store.applied_migrations and "core:2" in store.applied_migrations
        assert store.schema_versions()["core"] == 3  # core:3 adds messages.to_me
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
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
        store.messages.record_batch(
            [(event(), "received", False)], [("sim:m1", [Decision("record", "recorded")], "received")]
        )
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


# -- the write funnel: one writer thread, read-only connections for reads -------------------


async def test_writes_run_on_the_writer_thread_and_reads_on_a_reader_thread(tmp_path):
    import threading

    with Store(tmp_path / "q.db") as store:
        here = threading.get_ident()
        writer = await store.run(threading.current_thread)
        reader = await store.read(threading.current_thread)
        assert writer.name.startswith("store-writer") and reader.name.startswith("store-reader")
        assert here not in (writer.ident, reader.ident)
        # a method marked @reads goes to a reader thread through run() too
        assert await store.run(store.reports.outbox_gauges) == {"by_status": {}, "oldest_pending_due": None}

        def sneaky_write() -> None:
            store.chats.upsert_chat("sim", "g1", name="群")

        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await store.read(sneaky_write)
        assert store.chats.get_chat("sim", "g1") is None


async def test_a_long_report_on_a_read_connection_does_not_delay_a_recorder_commit(tmp_path):
    """A report holding a read transaction (here: until the test lets it go) and a group
    commit at the same time: the commit completes while the report is still reading, and the
    report keeps its snapshot."""
    import asyncio
    import threading

    from bot.recorder import Recorder

    with Store(tmp_path / "q.db") as store:
        recorder = Recorder(store)
        recorder.add_message(event("m0"))
        await recorder.flush()
        gate, reading = threading.Event(), threading.Event()

        def long_report() -> tuple[int, int]:
            with store.reports.reader() as conn:
                before = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
                reading.set()
                gate.wait(10)
                after = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            return before, after

        report = asyncio.ensure_future(store.read(long_report))
        while not reading.is_set():
            await asyncio.sleep(0.005)
        for i in range(1, 50):
            recorder.add_message(event(f"m{i}"))
        await asyncio.wait_for(recorder.flush(), timeout=10)
        assert not report.done()  # committed while the report was still reading
        assert store.messages.count("in") == 50
        gate.set()
        assert await report == (1, 1)  # the report read one consistent snapshot


async def test_another_process_holding_the_write_lock_does_not_stall_the_loop(tmp_path):
    """With another connection in a write transaction, the writer thread waits for the lock:
    the event loop keeps running meanwhile, and the row lands once the lock is released."""
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
        writing = asyncio.ensure_future(store.run(store.messages.record_batch, [(event("m9"), "received", False)], []))
        await asyncio.sleep(0.3)
        assert not writing.done() and ticks >= 10  # the loop was never stuck behind the lock
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(writing, timeout=10)
        ticking.cancel()
        assert store.messages.get("sim:m9")["text"] == "你好"


async def test_work_that_fails_raises_and_frees_the_writer(tmp_path):
    with Store(tmp_path / "q.db") as store:
        def broken() -> None:
            with store.messages.tx() as conn:
                conn.execute("INSERT INTO no_such_table VALUES (1)")

        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await store.run(broken)
        assert await store.run(store.scalar_ping) == 1
        assert not store.conn.in_transaction


def test_a_version_1_database_gets_the_chat_index_that_carries_the_sender(tmp_path):
    """core:2 replaces the (chat, sender) index, costly to insert into, by one in time order
    that carries the sender; a member's recent messages are still found through an index."""
    from bot.store.base import apply_migrations
    from bot.store.schema_core import CORE_V1, CoreSchema

    class CoreV1(CoreSchema):
        MIGRATIONS = (CORE_V1,)

    path = tmp_path / "v1.db"
    old = sqlite3.connect(str(path), isolation_level=None)
    apply_migrations(old, [CoreV1])
    old.close()
    with Store(path) as store:
        assert "core:2" in store.applied_migrations
        indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "messages_chat_time_sender" in indexes
        assert not {"messages_sender", "messages_chat_time"} & indexes
        events = []
        for i in range(30):
            e = event(f"m{i}", text=f"第{i}条")
            e.sender_id = "u1" if i % 3 == 0 else "u2"
            e.time = e.time.replace(minute=i)
            events.append((e, "received", False))
        store.messages.record_batch(events, [])
        recent = store.messages.member_messages("sim", "g1", "u1", limit=4)
        assert [r["text"] for r in recent] == ["第27条", "第24条", "第21条", "第18条"]
        plan = " ".join(r[-1] for r in store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT uid FROM messages WHERE platform = 'sim' AND chat_id = 'g1'"
            " AND sender_id = 'u1' AND direction = 'in' ORDER BY time DESC LIMIT 4"))
        assert "messages_chat_time_sender" in plan


async def test_the_event_loop_never_touches_a_connection_while_the_bot_handles_messages(aiohttp_client, tmp_path,
                                                                                      monkeypatch):
    """Every statement of a running bot (recording, outbox rows and marks, FAQ logs, flags,
    console pages) executes on the writer thread or a reader thread: a stalled disk can slow
    recording but never freeze the loop that answers webhooks."""
    import threading

    import bot.store.base as base
    from bot.web.app import create_app
    from bot.web.keys import BOT, STORE
    from tests.conftest import login, make_settings, wait_until

    used: dict[str, set[int]] = {"write": set(), "read": set()}
    handling = False  # start-up (the Bot loading its engines) happens before serving
    opened = getattr(base, "open_reader", None)

    def traced_reader(path):
        conn = opened(path)
        conn.set_trace_callback(lambda _sql: handling and used["read"].add(threading.get_ident()))
        return conn

    monkeypatch.setattr(base, "open_reader", traced_reader, raising=False)
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    store, bot = client.app[STORE], client.app[BOT]
    csrf = await login(client)  # the test's own set-up writes synchronously: before the trace
    await store.run(store.conn.set_trace_callback, lambda _sql: used["write"].add(threading.get_ident()))
    handling = True
    texts = [
        "你好",
        "怎么退款",
        "优惠券在哪里领",
        "加我微信 wx123456 带你赚钱 http://spam.example",
        "今天发货吗",
        "谢谢",
    ]
    for i in range(12):
        # each member sends the spam text once: a second strike mutes, and a muted member cannot post
        member = ("u_mama_wang", "u_tiantian")[(i + i // len(texts)) % 2]
        resp = await client.post(
            "/sim/api/send",
            json={"chat_id": "g_mom", "member_id": member, "text": texts[i % len(texts)]},
            headers={"X-CSRF-Token": csrf},
        )
        assert resp.status == 202, (i, await resp.text())
    await wait_until(lambda: bot.outbox.sent_count > 0)
    for page in ("/", "/keywords", "/faq", "/schedules", "/audit", "/sim"):
        assert (await client.get(page)).status == 200
    await bot.recorder.flush()
    await store.run(store.conn.set_trace_callback, None)
    loop_thread = threading.get_ident()
    assert loop_thread not in used["write"] | used["read"]
    assert used["write"] and used["read"]
    names = {t.ident: t.name for t in threading.enumerate()}
    assert {names.get(i, "") for i in used["write"]} == {"store-writer_0"}
