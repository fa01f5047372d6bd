"""A broadcast created from a shell while the bot runs is sent by it; SIGKILLed mid-fan-out and
restarted, every group receives it exactly once (ledger and simulator), and cancel from the shell
stops the rest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store import Store
from tests.test_schedules_crash import start_bot, wait_for
from tests.test_schedules_crash import write_config as crash_config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
GROUPS = 400


def write_config(tmp_path: Path) -> Path:
    # fast but paced, so that the kill lands mid-fan-out
    return crash_config(tmp_path, per_adapter_per_minute=100000, sending="""
jitter = "0.005s-0.01s"
quiet_hours = ""
""", extra="""
[broadcast]
poll_seconds = 0.2
""")


def seed(db: Path) -> None:
    store = Store(db)
    try:
        with store.chats.tx():
            for i in range(GROUPS):
                store.chats.upsert_chat("sim", f"fan{i:04d}", name=f"粉丝群{i}", tags=["粉丝"])
    finally:
        store.close()


def cli(config: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bot", "broadcast", *args, "--config", str(config)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def ledger(db: Path, source: str) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT status, count(*) FROM outbound WHERE source = ? GROUP BY status",
                            (source,)).fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_cli_broadcast_is_sent_by_the_running_bot_exactly_once_across_sigkill(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "data" / "qunbot.db"
    seed(db)
    log = open(tmp_path / "bot.log", "wb")  # noqa: SIM115
    first = start_bot(config, log)
    try:
        created = cli(config, "create", "--text", "【测试】{group} 限时福利", "--tag", "粉丝", "--json")
        assert created["status"] == "scheduled" and created["targets"] == GROUPS
        assert {"chat": "fan0007", "text": "【测试】粉丝群7 限时福利"}.items() <= next(
            r for r in created["preview"] if r["chat"] == "fan0007").items()
        source = f"broadcast:{created['id']}"
        wait_for(lambda: ledger(db, source).get("sent", 0) >= 50, 60, first)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    at_kill = ledger(db, source)
    assert at_kill.get("sent", 0) < GROUPS, "killed too late to test anything"

    second = start_bot(config, log)
    try:
        wait_for(lambda: ledger(db, source).get("sent", 0) + ledger(db, source).get("uncertain", 0) == GROUPS,
                 120, second)
        shown = cli(config, "show", str(created["id"]), "--json")
        assert shown["status"] in ("sending", "done")
        assert {t["status"] for t in shown["targets"]} <= {"sent", "uncertain"}
        # a second broadcast, cancelled from the shell before its time: nothing of it goes out
        later = cli(config, "create", "--text", "明天见", "--group", "粉丝群1", "--at", "2099-01-01 10:00", "--json")
        cancelled = cli(config, "cancel", str(later["id"]), "--json")
        assert cancelled["status"] == "cancelled"
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()
        log.close()

    final = ledger(db, source)
    # a send cut by the kill is uncertain (never repeated); every other group got it
    assert final.get("uncertain", 0) <= 1 and final.get("sent", 0) + final.get("uncertain", 0) == GROUPS
    conn = sqlite3.connect(db)
    try:
        per_chat = dict(conn.execute(
            "SELECT chat_id, count(*) FROM messages WHERE direction = 'out' AND text LIKE '【测试】%'"
            " GROUP BY chat_id").fetchall())
    finally:
        conn.close()
    assert max(per_chat.values()) == 1, "a group received the broadcast twice"
    assert len(per_chat) >= GROUPS - final.get("uncertain", 0)
