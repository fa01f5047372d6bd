"""Browser test: a manager creates a keyword rule in Chromium, sees live validation, tries it in the simulator."""

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
    add_user(app[STORE], "ops", "manager")
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


async def test_manager_creates_rule_with_live_validation_and_bot_answers(server, page):
    base = str(server.make_url("")).rstrip("/")
    await page.goto(f"{base}/login")
    await page.fill("#username", "ops")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")
    await page.click("nav >> text=关键词回复")
    await page.click("text=新建规则")

    # a time window that does not exist is flagged while typing, before saving
    await page.fill("#keyword", "拼团")
    await page.fill("input[name=active]", "25:00-26:00")
    await page.wait_for_selector("[data-error-for=active] >> text=不存在")
    await page.fill("input[name=active]", "")
    await page.fill("#replies", "拼团链接在群公告，{nickname} 快来～")
    await page.wait_for_selector("#live-status >> text=检查通过")
    await page.click("button:has-text('保存')")
    await page.wait_for_url(f"{base}/keywords")
    assert "已保存规则" in await page.inner_text(".flash")
    assert "拼团" in await page.inner_text("table")

    # the try box names the rule that would answer
    await page.click("text=试一试")
    await page.fill("input[name=text]", "还有拼团吗")
    await page.click("button:has-text('试一试')")
    result = await page.inner_text("#try-result")
    assert "拼团链接在群公告" in result

    # and the simulated group gets the answer from the bot
    await page.click("nav >> text=群聊模拟器")
    await page.click("text=宝妈群")
    await page.select_option("#member-select", label="甜甜妈")
    await page.fill("#message-input", "还有拼团吗")
    await page.click("#send-button")
    await page.wait_for_selector("#chat-log .msg.out >> text=拼团链接在群公告，甜甜妈 快来～")
