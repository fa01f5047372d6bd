"""Database faults: a full disk gives a clear error, loses nothing and recovers by itself."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings, wait_until

pytestmark = pytest.mark.faults


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def send(client, csrf, text):
    return await client.post("/sim/api/send", json={"chat_id": "g_mom", "member_id": "u_lin", "text": text},
                             headers={"X-CSRF-Token": csrf})


async def test_full_database_answers_503_then_recovers_without_losing_messages(client):
    store = client.app[STORE]
    bot = client.app[BOT]
    bot.durable_timeout = 0.5
    csrf = await login(client)
    conn = store.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    with store.lock:
        # SQLite's own "database or disk is full" error, as on a full disk
        conn.execute(f"PRAGMA max_page_count = {pages}")
    big = "满" * 3000
    statuses = [(await send(client, csrf, f"{big}{i}")).status for i in range(3)]
    assert statuses[0] == 503
    assert "磁盘已满" in await (await send(client, csrf, "再试一次")).text()
    health = await client.get("/healthz")
    assert health.status == 503
    assert "full" in (await health.json())["recorder_error"]

    with store.lock:
        conn.execute("PRAGMA max_page_count = 1073741823")
    await wait_until(lambda: store.messages.count("in") >= 5 + 4, timeout=10)
    texts = {m["text"] for m in store.messages.chat_messages("sim", "g_mom", limit=500)}
    # each message refused with 503 was still handled once: its trace was recorded on recovery
    for m in store.messages.chat_messages("sim", "g_mom", limit=500):
        if m["direction"] == "in" and m["text"].startswith(big):
            assert [d["stage"] for d in store.messages.decisions(m["uid"])].count("moderation") == 1
    assert {f"{big}{i}" for i in range(3)} <= texts and "再试一次" in texts
    assert (await client.get("/healthz")).status == 200


async def test_database_locked_by_another_process_answers_503_and_recovers(client, tmp_path):
    import sqlite3

    store = client.app[STORE]
    bot = client.app[BOT]
    bot.durable_timeout = 0.5
    csrf = await login(client)
    with store.lock:
        store.conn.execute("PRAGMA busy_timeout = 100")
    other = sqlite3.connect(store.path, timeout=1, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # e.g. a careless backup script or sqlite3 shell
    try:
        resp = await send(client, csrf, "锁住的时候发的消息")
        assert resp.status == 503
        health = await client.get("/healthz")
        assert "locked" in (await health.json())["recorder_error"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    await wait_until(lambda: any(m["text"] == "锁住的时候发的消息"
                                 for m in store.messages.chat_messages("sim", "g_mom", limit=500)), timeout=10)
    assert (await client.get("/healthz")).status == 200
