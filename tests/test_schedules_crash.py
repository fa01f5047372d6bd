"""Crash test: the bot is SIGKILLed in the middle of a 2,000-group fan-out, restarted, and every
simulated group receives the post exactly once (checked in the ledger and in the simulator)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.store import Store
from tests.conftest import predicate_source

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
GROUPS = 2000
TEXT = "【限时福利】今晚 8 点全场 5 折，先到先得"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PACING_OFF = """
# pacing off: this test is about the ledger across a kill, not about jitter
jitter = "0"
quiet_hours = ""
daily_budget = 100000
identical_per_minute = 100000
"""


def write_config(tmp_path: Path, *, per_adapter_per_minute: int = 12000, sending: str = PACING_OFF,
                 extra: str = "") -> Path:
    """The crash tests' bot: demo off, sim adapter, a fresh port; `extra` TOML appended."""
    config = tmp_path / "config.toml"
    config.write_text(f"""
[bot]
data_dir = "{tmp_path / 'data'}"
demo = false
[console]
port = {free_port()}
secret = "crash-test-secret-0123456789"
[adapters.sim]
enabled = true
[outbox]
per_target_per_minute = 20
per_adapter_per_minute = {per_adapter_per_minute}
[sending]{sending}
[logging]
level = "WARNING"
{extra}""", encoding="utf-8")
    return config


def seed(db: Path) -> None:
    """2,000 groups and a post whose occurrence fell a minute ago: it fires as the bot starts."""
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.now(UTC)
    due = (now - timedelta(minutes=1)).astimezone(tz)
    store = Store(db)
    try:
        with store.chats.tx():
            for i in range(GROUPS):
                store.chats.upsert_chat("sim", f"fan{i:04d}", name=f"粉丝群{i}", tags=["粉丝"])
        store.schedules.create_job("post", "限时福利", {"name": "限时福利", "text": TEXT,
                                   "at": [due.strftime("%H:%M")], "tags": ["粉丝"]},
                                   "active", last_considered=now - timedelta(minutes=3))
    finally:
        store.close()


def ledger(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT status, count(*) FROM outbound WHERE source LIKE 'post:%' GROUP BY status").fetchall()
    finally:
        conn.close()
    return dict(rows)


def start_bot(config: Path, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


def restart_until(config: Path, log, done, timeout: float = 90) -> None:
    """Start the bot again, wait until `done()`, stop it with SIGINT (killed if it hangs)."""
    second = start_bot(config, log)
    try:
        wait_for(done, timeout, second)
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()
        log.close()


def wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"bot exited with {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout:g} s: {predicate_source(predicate)}")


def test_sigkill_mid_fan_out_then_restart_delivers_each_group_exactly_once(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "data" / "qunbot.db"
    seed(db)
    log = open(tmp_path / "bot.log", "wb")  # noqa: SIM115
    first = start_bot(config, log)
    try:
        wait_for(lambda: ledger(db).get("sent", 0) >= 200, 60, first)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    at_kill = ledger(db)
    assert sum(at_kill.values()) == GROUPS, "the whole fan-out is in the ledger before sending starts"
    assert at_kill.get("sent", 0) < GROUPS, "killed too late to test anything"

    restart_until(config, log, lambda: ledger(db).get("sent", 0) == GROUPS)

    assert ledger(db) == {"sent": GROUPS}
    conn = sqlite3.connect(db)
    try:
        per_chat = dict(conn.execute(
            "SELECT chat_id, count(*) FROM messages WHERE direction = 'out' AND text = ? GROUP BY chat_id",
            (TEXT,)).fetchall())
        runs = conn.execute("SELECT status FROM schedule_runs").fetchall()
    finally:
        conn.close()
    assert len(per_chat) == GROUPS
    assert set(per_chat.values()) == {1}
    assert runs == [("submitted",)]
