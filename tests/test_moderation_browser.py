"""Browser test: a moderator reviews a held message in real Chromium and confirms it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import BROWSER_ARGS, TEST_PASSWORD, add_user, make_settings

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path):
    app = create_app(make_settings(tmp_path))
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    add_user(app[STORE], "admin", "admin")
    add_user(app[STORE], "mod", "moderator")
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


async def log_in(page, base: str, name: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("#username", name)
    await page.fill("#password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def test_moderator_confirms_held_message_in_review_queue(server, page):
    base = str(server.make_url("")).rstrip("/")
    # a member advertises a competitor in the simulator: the demo lexicon holds it for review
    await log_in(page, base, "admin")
    await page.click("text=群聊模拟器")
    await page.click("text=宝妈群")
    await page.select_option("#member-select", label="甜甜妈")
    await page.fill("#message-input", "大家去拼·夕·夕买吧")
    await page.click("#send-button")
    await page.wait_for_selector("#chat-log .msg.in >> text=拼·夕·夕")
    store = server.app[STORE]
    for _ in range(100):
        if store.moderation.list_flags():
            break
        await page.wait_for_timeout(50)
    await page.click("text=退出登录")

    await log_in(page, base, "mod")
    await page.click("text=审核队列")
    mark = await page.inner_text(".flagged-text mark")
    assert mark == "拼·夕·夕"
    await page.click("text=详情")
    await page.wait_for_selector("text=群聊上下文")
    await page.click("text=确认违规并处理")
    await page.wait_for_selector(".flash.ok >> text=已确认违规")
    flag = store.moderation.list_flags(status="confirmed")[0]
    assert flag["decided_by"] == "mod"
    bot = server.app[BOT]
    assert store.moderation.active_strikes("sim", "g_mom", "u_tiantian", bot.clock.now()) == 1
    assert store.accounts.audit_entries(action="moderation.review.confirm")
