"""Acknowledgements at the edges: nothing is acknowledged before it is durable, everything
acknowledged is handled (full disk, SIGKILL, SIGTERM), and a stop is quick with sockets open."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import wait_until
from tests.test_adapters_wecom import AGENT, CORP, PATH, FakeWecom, envelope, wecom_settings
from tests.test_cli import free_port
from tests.test_crash import session_with_login, wait_healthy

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
    conn = store.conn
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


async def test_a_member_join_while_the_database_is_locked_gets_503_then_is_taken_once(
        aiohttp_client, aiohttp_server, tmp_path):
    fake = FakeWecom()
    fake.server = await aiohttp_server(fake.app())
    client = await aiohttp_client(create_app(wecom_settings(tmp_path, fake)))
    bot, store = client.app[BOT], client.app[STORE]
    bot.durable_timeout = 0.3
    plain = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[wangwu]]></FromUserName>"
             f"<CreateTime>1408091190</CreateTime><MsgType><![CDATA[event]]></MsgType>"
             f"<Event><![CDATA[subscribe]]></Event><AgentID>{AGENT}</AgentID></xml>")

    async def deliver() -> int:
        params, body = envelope(plain)
        return (await client.post(PATH, params=params, data=body)).status

    other = sqlite3.connect(store.path, timeout=1, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert [await deliver() for _ in range(2)] == [503, 503]  # not a 500
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await wait_until(lambda: _ok(deliver), timeout=15)
    assert _rows(store.path, "ev:wangwu:1408091190") == 1


def _rows(path, message_id: str) -> int:
    """Rows for a message id, read from the file by a connection of our own (WAL readers never wait)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM messages WHERE message_id = ?", (message_id,)).fetchone()[0]
    finally:
        db.close()


async def _ok(deliver) -> bool:
    return (await deliver()) == 200


# -- real processes -------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "acks-fault-pw-1"


class BotProcess:
    """`python -m bot run` on a free port, its output in a file (a full pipe would stall it)."""

    def __init__(self, tmp_path: Path, extra_config: str = "") -> None:
        self.dir = tmp_path
        self.config = tmp_path / "config.toml"
        if not self.config.exists():
            self.config.write_text(
                "[bot]\ndemo = true\ndata_dir = 'data'\n[logging]\nlevel = 'WARNING'\n" + extra_config,
                encoding="utf-8",
            )
            subprocess.run([sys.executable, "-m", "bot", "user", "add", "admin", "--role", "admin",
                            "--password", PASSWORD, "--config", str(self.config)],
                           check=True, cwd=ROOT, capture_output=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = tmp_path / "data" / "qunbot.db"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        self.log = open(self.dir / f"bot-{self.port}.log", "w+", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(self.config), "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        await wait_healthy(self.base, self.proc, self.output, tries=1200)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.dir / f"bot-{self.port}.log").read_text(encoding="utf-8")

    async def wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None, "the bot was not started"
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.proc.poll()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.log.close()


def statuses(db: Path, uids: list[str]) -> dict[str, str]:
    """uid -> status of the acknowledged messages, read by a connection of our own."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        found: dict[str, str] = {}
        for i in range(0, len(uids), 500):
            chunk = uids[i:i + 500]
            rows = conn.execute(f"SELECT uid, status FROM messages WHERE uid IN ({','.join('?' * len(chunk))})",
                                chunk).fetchall()
            found.update(rows)
        return found
    finally:
        conn.close()


def not_handled(db: Path, acked: list[str]) -> tuple[list[str], list[str]]:
    """(acknowledged but missing, acknowledged but still only "received")."""
    found = statuses(db, acked)
    return [u for u in acked if u not in found], [u for u in acked if found.get(u) == "received"]


async def burst(base: str, total: int, acked: list[str], *, senders: int = 8) -> None:
    """Up to `total` simulator messages from `senders` concurrent clients; the message ids
    answered 202 go into `acked`. A sender stops at its first connection error."""
    session, token = await session_with_login(base, PASSWORD)
    sent = itertools.count()

    async def sender(worker: int) -> None:
        while (i := next(sent)) < total:
            # the moderator: a flood from an ordinary member gets them muted, and the simulator
            # refuses a muted member's messages
            body = {"chat_id": "g_mom", "member_id": "u_lin", "text": f"冲击测试 {worker}-{i}"}
            try:
                async with session.post(f"{base}/sim/api/send", json=body, headers={"X-CSRF-Token": token}) as r:
                    if r.status == 202:
                        acked.append((await r.json())["message_id"])
            except (TimeoutError, aiohttp.ClientError, ValueError):
                return

    try:
        await asyncio.gather(*(sender(w) for w in range(senders)))
    finally:
        await session.close()


async def until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.01)


# -- #6: SIGKILL during a burst, restart: every acknowledged message is handled --------------

async def test_sigkill_during_a_burst_then_restart_handles_every_acknowledged_message(tmp_path):
    bot = BotProcess(tmp_path)
    acked: list[str] = []
    try:
        await bot.start()
        sending = asyncio.create_task(burst(bot.base, 3000, acked))
        await until(lambda: len(acked) >= 1500 or sending.done(), timeout=120)
        os.kill(bot.proc.pid, signal.SIGKILL)
        await sending
        bot.kill()
        assert len(acked) >= 1500
        missing, stuck_at_kill = not_handled(bot.db, acked)
        assert missing == []
        # the restart handles what the crash left acknowledged but unhandled
        again = BotProcess(tmp_path)
        try:
            await again.start()
            await until(lambda: not not_handled(again.db, acked)[1], timeout=30)
            missing, stuck = not_handled(again.db, acked)
        finally:
            again.kill()
    finally:
        bot.kill()
    assert missing == []
    assert stuck == [], f"{len(stuck)} of {len(acked)} acknowledged messages never handled " \
                        f"({len(stuck_at_kill)} unhandled at the kill)"


# -- #12: SIGTERM with a OneBot implementation connected: a quick, clean stop --------------

ONEBOT = "[adapters.onebot]\nenabled = true\nversion = 11\naccess_token = 'acks-onebot-token'\nself_id = '10001'\n"


async def test_sigterm_with_a_connected_onebot_socket_stops_within_5_s(tmp_path):
    bot = BotProcess(tmp_path, ONEBOT)
    try:
        await bot.start()
        async with aiohttp.ClientSession() as s:
            headers = {"Authorization": "Bearer acks-onebot-token", "X-Self-ID": "10001",
                       "X-Client-Role": "Universal"}
            async with s.ws_connect(f"{bot.base}/onebot/ws", headers=headers) as ws:
                await ws.send_json({"post_type": "meta_event", "meta_event_type": "lifecycle",
                                    "sub_type": "connect", "self_id": 10001, "time": int(time.time())})
                reading = asyncio.create_task(ws.receive())  # a client answers the close frame
                started = time.monotonic()
                bot.proc.send_signal(signal.SIGTERM)
                code = await bot.wait_exit(timeout=30)
                took = time.monotonic() - started
                msg = await asyncio.wait_for(reading, 5)
    finally:
        bot.kill()
    assert took < 5, f"stopping took {took:.1f} s with a socket connected"
    assert code == 0, bot.output()[-3000:]
    # the implementation was told the server is going away (1001), so it reconnects later
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001


# -- SIGTERM in the middle of a burst: every acknowledged message is recorded and handled ----

async def test_sigterm_during_a_2000_message_burst_handles_every_acknowledged_message(tmp_path):
    bot = BotProcess(tmp_path)
    acked: list[str] = []
    try:
        await bot.start()
        sending = asyncio.create_task(burst(bot.base, 2000, acked))
        await until(lambda: len(acked) >= 1000 or sending.done(), timeout=120)
        bot.proc.send_signal(signal.SIGTERM)
        await sending
        code = await bot.wait_exit(timeout=30)
    finally:
        bot.kill()
    assert code == 0, bot.output()[-3000:]
    assert len(acked) >= 1000
    missing, stuck = not_handled(bot.db, acked)
    assert missing == [], f"{len(missing)} acknowledged messages were not recorded"
    assert stuck == [], f"{len(stuck)} of {len(acked)} acknowledged messages recorded but never handled"
