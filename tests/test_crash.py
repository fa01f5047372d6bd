"""Crash safety in a real subprocess: SIGKILL loses no acknowledged message."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.store import Store
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def start_bot(config: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.time() + 60
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "console:" in line:
            return proc
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("bot did not start")


async def wait_healthy(base: str, proc: subprocess.Popen | None = None,
                       output: Callable[[], str] = lambda: "", tries: int = 200) -> None:
    """Until the bot at `base` answers /healthz with 200; fails early when `proc` exits."""
    async with aiohttp.ClientSession() as s:
        for _ in range(tries):
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"bot exited: {output()[-3000:]}")
            try:
                async with s.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"bot at {base} did not become healthy")


async def session_with_login(base: str, password: str) -> tuple[aiohttp.ClientSession, str]:
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with s.post(f"{base}/login", data={"username": "admin", "password": password}) as r:
        assert r.status == 200, await r.text()
        page = await r.text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:2000]
    token = match.group(1)
    return s, token


async def test_sigkill_during_heavy_traffic_loses_no_acknowledged_message(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[bot]\ndemo = true\ndata_dir = 'data'\n[logging]\nlevel = 'WARNING'\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bot", "user", "add", "admin", "--role", "admin",
                    "--password", "crash-test-pw", "--config", str(config)], check=True, cwd=ROOT,
                   capture_output=True)
    port = free_port()
    proc = start_bot(config, port)
    base = f"http://127.0.0.1:{port}"
    acked: list[str] = []
    try:
        await wait_healthy(base)
        session, token = await session_with_login(base, "crash-test-pw")

        async def sender(worker: int) -> None:
            i = 0
            while True:
                # the group's moderator: a flood from an ordinary member gets them muted, and the
                # simulator refuses a muted member's messages
                body = {"chat_id": "g_mom", "member_id": "u_lin", "text": f"压力测试 {worker}-{i}"}
                try:
                    async with session.post(f"{base}/sim/api/send", json=body,
                                            headers={"X-CSRF-Token": token}) as r:
                        if r.status == 202:
                            acked.append((await r.json())["message_id"])
                except (TimeoutError, aiohttp.ClientError):
                    return
                i += 1

        tasks = [asyncio.create_task(sender(w)) for w in range(8)]
        while len(acked) < 300:
            await asyncio.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait(tasks, timeout=10)
        await session.close()
    finally:
        proc.kill()
        proc.wait()
    with Store(tmp_path / "data" / "qunbot.db") as store:
        missing = [uid for uid in acked if not store.messages.exists(uid)]
    assert len(acked) >= 300
    assert missing == [], f"{len(missing)} acknowledged messages were lost"
