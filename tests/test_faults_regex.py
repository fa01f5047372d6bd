"""A keyword regex that slipped past the save-time check cannot stall a real bot (issue 16 #9).

The rule is written straight into the database (as a rule saved before the check existed would
be); the running bot gets the message that makes it backtrack exponentially and must still
answer with the other rule, quickly, and count the timeout in /metrics.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import aiohttp
import pytest

from bot.store import Store
from keywords.rules import clean_rule
from tests.test_cli import free_port
from tests.test_crash import ROOT, session_with_login, start_bot, wait_healthy

pytestmark = pytest.mark.faults

SLOW = r"拼单(a|aa)+$"
ATTACK = "拼单" + "a" * 60 + "b"  # unbounded: ~fib(60) backtracking steps, hours
# a stalled bot answers nothing: fail instead of waiting for aiohttp's 5-minute default
PATIENCE = aiohttp.ClientTimeout(total=15)


async def _replies(session: aiohttp.ClientSession, base: str, after: int) -> list[dict]:
    async with session.get(f"{base}/sim/api/chats/g_mom/messages", params={"after": str(after)},
                           timeout=PATIENCE) as r:
        assert r.status == 200
        return [m for m in (await r.json())["messages"] if m["direction"] == "out"]


async def test_a_member_message_cannot_stall_the_bot_on_a_slow_stored_regex(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        "[bot]\ndemo = true\ndata_dir = 'data'\n[logging]\nlevel = 'WARNING'\n"
        "[[keywords]]\nid = 'pin'\nkeyword = '拼单'\nreply = '拼单请看群公告'\n", encoding="utf-8",
    )
    subprocess.run([sys.executable, "-m", "bot", "user", "add", "admin", "--role", "admin",
                    "--password", "regex-test-pw", "--config", str(config)], check=True, cwd=ROOT,
                   capture_output=True)
    with Store(tmp_path / "data" / "qunbot.db") as store:
        spec = {**clean_rule({"keyword": "x", "reply": "慢规则"}), "id": "slow", "keyword": SLOW,
                "match": "regex", "priority": 10}
        store.keywords.save_rules([spec], source="console")
    port = free_port()
    proc = start_bot(config, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base)
        session, token = await session_with_login(base, "regex-test-pw")
        async with session:
            before = await _replies(session, base, 0)
            last = max((m["id"] for m in before), default=0)
            started = time.monotonic()
            for text in (ATTACK, ATTACK):
                body = {"chat_id": "g_mom", "member_id": "u_mama_wang", "text": text}
                async with session.post(f"{base}/sim/api/send", json=body, headers={"X-CSRF-Token": token},
                                        timeout=PATIENCE) as r:
                    assert r.status == 202
            answered: list[dict] = []
            while len(answered) < 2 and time.monotonic() - started < 30:
                await asyncio.sleep(0.1)
                answered = await _replies(session, base, last)
            elapsed = time.monotonic() - started
            async with session.get(f"{base}/metrics", timeout=PATIENCE) as r:
                metrics = await r.text()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        finally:
            proc.kill()
        output = proc.stdout.read()
    assert [m["text"] for m in answered] == ["拼单请看群公告", "拼单请看群公告"]
    # each regex run is bounded at 50 ms; the generous bound only rules out a stalled loop
    assert elapsed < 10, elapsed
    assert "qunbot_keyword_regex_timeouts_total 2" in metrics
    assert output.count("ran out of its time budget") == 1, output
