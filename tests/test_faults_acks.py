"""Acknowledgements at the edges: nothing is acknowledged before it is durable, everything
acknowledged is handled (full disk, SIGKILL, SIGTERM), and a stop is quick with sockets open."""

from __future__ import annotations

import sqlite3

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import wait_until
from tests.test_adapters_wecom import AGENT, CORP, PATH, FakeWecom, envelope, wecom_settings

pytestmark = pytest.mark.faults


def wecom_text(msg_id: str, text: str) -> str:
    """A WeCom app text message as the platform sends it (before encryption)."""
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
            f"<CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{AGENT}</AgentID></xml>")


# -- #3: a platform's retry is acknowledged only once the original is durable --------------

@pytest.mark.parametrize("outage", ["disk full", "locked"])
async def test_retries_get_503_until_the_database_recovers_then_one_row(aiohttp_client, aiohttp_server,
                                                                        tmp_path, outage):
    fake = FakeWecom()
    fake.server = await aiohttp_server(fake.app())
    client = await aiohttp_client(create_app(wecom_settings(tmp_path, fake)))
    bot, store = client.app[BOT], client.app[STORE]
    bot.durable_timeout = 0.3
    conn = store.db.conn
    other = None
    if outage == "disk full":
        with store.lock:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    else:
        with store.lock:
            conn.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(store.path, timeout=1, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # a backup script holding the database
    plain = wecom_text("7000000000000001", "满" * 3000)

    async def deliver() -> int:
        params, body = envelope(plain)  # WeCom signs each retry with a fresh nonce
        return (await client.post(PATH, params=params, data=body)).status

    try:
        # the first delivery and WeCom's three retries: none may be acknowledged
        statuses = [await deliver() for _ in range(4)]
        assert statuses == [503] * 4
        assert _rows(store.path, "7000000000000001") == 0
    finally:
        if other is not None:
            other.execute("ROLLBACK")
            other.close()
        else:
            with store.lock:
                conn.execute("PRAGMA max_page_count = 1073741823")
    # the next retry after the recovery is acknowledged, and the message is there exactly once
    assert await wait_until(lambda: _ok(deliver), timeout=10)
    assert _rows(store.path, "7000000000000001") == 1
    assert (await deliver()) == 200  # later retries: plain duplicates


def _rows(path, message_id: str) -> int:
    """Rows for a message id, read from the file by a connection of our own (WAL readers never wait)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM messages WHERE message_id = ?", (message_id,)).fetchone()[0]
    finally:
        db.close()


async def _ok(deliver) -> bool:
    return (await deliver()) == 200
