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
        assert "core:1" in store.applied_migrations
        assert store.schema_versions()["core"] == 1
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
