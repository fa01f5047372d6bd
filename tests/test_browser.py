"""Browser tests: a real Chromium (Debian's) drives the console over real HTTP."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from bot.web.app import create_app
from bot.web.keys import STORE
from tests.conftest import BROWSER_ARGS, TEST_PASSWORD, add_user, make_settings

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path):
    app = create_app(make_settings(tmp_path))
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    add_user(app[STORE], "admin", "admin")
    yield srv
    await srv.close()


@pytest.fixture
async def page(chromium_path):
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS, headless=True)
        context = await browser.new_context(locale="zh-CN")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        yield page
        await browser.close()


async def log_in(page, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("#username", "admin")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def test_login_open_simulator_send_message_and_see_it_recorded(server, page):
    base = str(server.make_url("")).rstrip("/")
    await log_in(page, base)
    await page.click("text=群聊模拟器")
    await page.click("text=宝妈群")
    await page.select_option("#member-select", label="甜甜妈")
    await page.fill("#message-input", "/help")
    await page.click("#send-button")
    # the member's message and the bot's answer both appear in the chat log
    await page.wait_for_selector("#chat-log .msg.in >> text=/help")
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
