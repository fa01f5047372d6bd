"""Browser tests: a real Chromium (Debian's) drives the console over real HTTP."""

from __future__ import annotations

import pytest

from bot.web.keys import STORE
from tests.conftest import browser_login, browser_say

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(console_server):
    return await console_server(("admin", "admin"))




async def test_login_open_simulator_send_message_and_see_it_recorded(server, page):
    base = await browser_login(page, server, "admin")
    await page.wait_for_url(f"{base}/")
    # the member's message and the bot's answer both appear in the chat log
    await browser_say(page, "宝妈群", "甜甜妈", "/help")
    await page.wait_for_selector("#chat-log .msg.out >> text=可用命令")
    store = server.app[STORE]
    rows = [m for m in store.messages.chat_messages("sim", "g_mom") if m["text"] == "/help"]
    assert rows and rows[0]["sender_name"] == "甜甜妈"
    assert [d["stage"] for d in store.messages.decisions(rows[0]["uid"])][:2] == ["dedupe", "record"]


async def test_wrong_password_shows_error_in_chinese(server, page):
    base = str(server.make_url("")).rstrip("/")
    await page.goto(f"{base}/login")
    await page.fill("#username", "admin")
    await page.fill("#password", "nope")
    await page.click("button[type=submit]")
    assert "用户名或密码错误" in await page.inner_text("[role=alert]")
