"""Browser test: a moderator reviews a held message in real Chromium and confirms it."""

from __future__ import annotations

import pytest

from bot.web.keys import BOT, STORE
from tests.conftest import browser_login, browser_say, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(console_server):
    return await console_server(("admin", "admin"), ("mod", "moderator"))


async def test_moderator_confirms_held_message_in_review_queue(server, page):
    # a member advertises a competitor in the simulator: the demo lexicon holds it for review
    await browser_login(page, server, "admin")
    await browser_say(page, "宝妈群", "甜甜妈", "大家去拼·夕·夕买吧")
    store = server.app[STORE]
    await wait_until(store.moderation.list_flags)
    await page.click("text=退出登录")

    await browser_login(page, server, "mod")
    await page.click("text=审核队列")
    mark = await page.inner_text(".flagged-text mark")
    assert mark == "拼·夕·夕"
    await page.click("text=详情")
    await page.wait_for_selector("text=群聊上下文")
    # the page says what the ladder will do, and asks before doing it
    assert await page.inner_text("#ladder-next") == "撤回并警告"
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("button:has-text('确认处理')")
    await page.wait_for_selector(".flash.ok >> text=已确认违规")
    flag = store.moderation.list_flags(status="confirmed")[0]
    assert flag["decided_by"] == "mod"
    bot = server.app[BOT]
    assert store.moderation.active_strikes("sim", "g_mom", "u_tiantian", bot.clock.now()) == 1
    assert store.accounts.audit_entries(action="moderation.review.confirm")


async def test_an_approved_question_is_answered_in_the_group(server, page):
    # a question that names a competitor is held; once approved, the member gets the FAQ answer
    await browser_login(page, server, "mod")
    await browser_say(page, "宝妈群", "甜甜妈", "拼·夕·夕什么时候发货？")
    store = server.app[STORE]
    await wait_until(store.moderation.list_flags)
    assert not await page.query_selector("#chat-log >> text=48 小时内发货")  # held: no answer yet

    await page.click("text=审核队列")
    await page.click("text=详情")
    await page.click("text=放行（没有问题）")
    await page.wait_for_selector(".flash.ok >> text=已补发回答")
    await page.click("text=群聊模拟器")
    await page.click("text=宝妈群")
    await page.wait_for_selector("#chat-log >> text=48 小时内发货")
