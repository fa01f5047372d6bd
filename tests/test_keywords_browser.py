"""Browser test: a manager creates a keyword rule in Chromium, sees live validation, tries it in the simulator."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login, browser_say

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(console_server):
    return await console_server(("ops", "manager"))




async def test_manager_creates_rule_with_live_validation_and_bot_answers(server, page):
    base = await browser_login(page, server, "ops")
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
    await browser_say(page, "宝妈群", "甜甜妈", "还有拼团吗")
    await page.wait_for_selector("#chat-log .msg.out >> text=拼团链接在群公告，甜甜妈 快来～")
