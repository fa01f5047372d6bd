"""The `qunbot` command line, run as a newcomer would run it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[bot]\ndemo = true\ndata_dir = 'data'\n[console]\nport = 0\n" + extra, encoding="utf-8",
    )
    return path


def test_try_prints_the_trace_as_json(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["try", "你好", "--group", "宝妈群", "--json", "--config", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chat"]["name"] == "宝妈群"
    assert [d["stage"] for d in data["decisions"]] == [
        "dedupe",
        "record",
        "moderation",
        "commands",
        "keywords",
        "intents",
    ]
    assert data["replies"] == []


def test_try_shows_the_reply_and_records_nothing(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["try", "/help", "--group", "学生群", "--as", "小明", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "可用命令" in out and "[commands] answered" in out
    assert main(["why", "try", "--config", str(config)]) == 1


def test_try_names_the_available_groups_when_the_group_is_unknown(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["try", "你好", "--group", "不存在的群", "--config", str(config)]) == 2
    assert "宝妈群" in capsys.readouterr().err


def test_why_prints_each_stage_decision_of_a_recorded_message(tmp_path, capsys):
    config = write_config(tmp_path)
    # demo history is recorded without decisions; record one through the pipeline
    import asyncio

    from bot.adapters.sim import SimAdapter
    from bot.config import load_settings
    from bot.kernel.events import ChatKind, Event
    from bot.runtime import Bot
    from bot.store import Store

    settings = load_settings(config)

    async def go():
        store = Store(settings.database_path)
        bot = Bot(settings, store, adapters={"sim": SimAdapter()})
        await bot.start()
        from datetime import UTC, datetime

        await bot.handle(Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id="u_lin",
                               sender_name="林姐", message_id="w1", time=datetime.now(UTC), text="在吗"))
        await bot.stop()
        store.close()

    main(["check-config", "--config", str(config)])  # seeds the demo database
    asyncio.run(go())
    capsys.readouterr()
    assert main(["why", "w1", "--json", "--config", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["message_id"] == "sim:w1" and data["text"] == "在吗"
    assert [d["stage"] for d in data["decisions"]][:3] == ["dedupe", "record", "moderation"]


def test_user_add_and_list(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["user", "add", "mod1", "--role", "moderator", "--random", "--config", str(config)]) == 0
    assert "密码 password:" in capsys.readouterr().out
    assert main(["user", "list", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["role"] == "moderator"
    assert main(["user", "add", "mod1", "--role", "moderator", "--random", "--config", str(config)]) == 1


def test_demo_false_starts_empty_and_demo_reset_reseeds(tmp_path, capsys):
    empty = tmp_path / "empty.toml"
    empty.write_text("[bot]\ndemo = false\ndata_dir = 'd2'\n", encoding="utf-8")
    assert main(["try", "hi", "--config", str(empty)]) == 2
    config = write_config(tmp_path)
    assert main(["demo", "reset", "--yes", "--config", str(config)]) == 0
    assert main(["try", "hi", "--group", "VIP群", "--config", str(config)]) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_prints_console_url_and_admin_password_then_stops_cleanly_on_sigterm(tmp_path):
    config = write_config(tmp_path)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
    )
    lines: list[str] = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "console:" in line:
                break
        output = "".join(lines)
        assert "admin" in output and "密码 password:" in output
        assert f"http://127.0.0.1:{port}/" in output
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert json.loads(resp.read())["status"] == "ok"
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not answer /healthz")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 0
    # a second start does not print a new password
    proc2 = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config), "--port", "-1"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert "密码 password:" not in proc2.stdout
