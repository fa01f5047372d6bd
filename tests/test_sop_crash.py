"""Crash test: the bot is SIGKILLed while 群SOP day-0 steps go out to 1,500 new members,
restarted, and every member receives the step exactly once (ledger and simulator)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.store import Store
from bot.store.base import iso
from schedules.sop_service import sync_config
from tests.test_schedules_crash import restart_until, wait_for
from tests.test_schedules_crash import write_config as crash_config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = 1500
TEXT = "欢迎加入宝妈群，这是新人礼包"


def write_config(tmp_path: Path) -> Path:
    return crash_config(tmp_path, extra=f"""
[[sop]]
id = "newbie"
anchor = "member_joined"
tags = ["宝妈"]
steps = [{{after = "0d", text = "{TEXT}", private = true}}, {{after = "3d 10:00", text = "第三天"}}]
""")


def seed(config: Path, db: Path) -> None:
    """The sequence known for an hour, and 1,500 members who joined a minute ago."""
    now = datetime.now(UTC)
    store = Store(db)
    try:
        sync_config(store, load_settings(config), now - timedelta(hours=1))
        store.chats.upsert_chat("sim", "mom", name="宝妈群", tags=["宝妈"])
        with store.chats.tx() as conn:
            conn.executemany(
                "INSERT INTO members(platform, chat_id, member_id, name, joined_at, last_seen_at)"
                " VALUES ('sim', 'mom', ?, ?, ?, ?)",
                [(f"m{i:04d}", f"成员{i}", iso(now - timedelta(minutes=1)), iso(now)) for i in range(MEMBERS)],
            )
    finally:
        store.close()


def ledger(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT status, count(*) FROM outbound WHERE source LIKE 'sop:%' GROUP BY status").fetchall()
    finally:
        conn.close()
    return dict(rows)


def start_bot(config: Path, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


def test_sigkill_mid_sop_fan_out_then_restart_sends_each_member_the_step_exactly_once(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "data" / "qunbot.db"
    db.parent.mkdir()
    seed(config, db)
    log = open(tmp_path / "bot.log", "wb")  # noqa: SIM115
    first = start_bot(config, log)
    try:
        wait_for(lambda: ledger(db).get("sent", 0) >= 100, 60, first)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    at_kill = ledger(db)
    assert at_kill.get("sent", 0) < MEMBERS, "killed too late to test anything"

    restart_until(config, log, lambda: ledger(db).get("sent", 0) == MEMBERS)

    assert ledger(db) == {"sent": MEMBERS}
    conn = sqlite3.connect(db)
    try:
        per_member = dict(conn.execute(
            "SELECT chat_id, count(*) FROM messages WHERE direction = 'out' AND text = ? GROUP BY chat_id",
            (TEXT,)).fetchall())
        steps = conn.execute("SELECT step, status, count(*) FROM sop_steps GROUP BY step, status").fetchall()
    finally:
        conn.close()
    assert len(per_member) == MEMBERS
    assert set(per_member.values()) == {1}
    assert steps == [(0, "submitted", MEMBERS)]
