"""Browser tests of the simulator: the speaker never changes behind the moderator's back."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login, browser_say

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(console_server):
    return await console_server(("admin", "admin"))


async def test_speaker_stays_selected_and_greyed_after_removal(server, page):
    await browser_login(page, server, "admin")
    await browser_say(page, "宝妈群", "甜甜妈", "代开发票找我")  # a word whose action is removal
    await page.wait_for_selector("#chat-log .msg.sys >> text=已被移出群聊")
    # the member list has caught up with the removal (甜甜妈 is no longer listed as present)
    await page.wait_for_function(
        "![...document.querySelectorAll('#member-select option')].some(o => o.textContent === '甜甜妈')")
    # still 甜甜妈, shown as removed: the next message cannot go out as somebody else
    assert await page.eval_on_selector("#member-select", "s => s.value") == "u_tiantian"
    label = await page.eval_on_selector("#member-select", "s => s.selectedOptions[0].textContent")
    assert label == "甜甜妈（已被移出群）"
    assert await page.is_disabled("#send-button")
    assert "甜甜妈 已被移出群，不能发言" in await page.inner_text("#member-state")
    # picking a member who is still in the group lets the moderator speak again
    await page.select_option("#member-select", "u_mama_wang")
    assert await page.is_enabled("#send-button")


async def test_muted_member_cannot_post_and_is_told_until_when(server, page):
    await browser_login(page, server, "admin")
    await browser_say(page, "宝妈群", "王妈妈", "你个傻逼")  # first strike: a warning
    await browser_say(page, "宝妈群", "王妈妈", "傻逼又来了")  # second strike: muted for a day
    await page.wait_for_selector("#chat-log .msg.sys >> text=已被禁言 1 天")
    await page.wait_for_function("document.querySelector('#member-state').textContent.includes('已被禁言')")
    state = await page.inner_text("#member-state")
    assert "王妈妈 已被禁言，还剩" in state and "（至 " in state and "不能发言" in state
    assert await page.eval_on_selector("#member-select", "s => s.value") == "u_mama_wang"
    assert await page.is_disabled("#send-button") and await page.is_disabled("#message-input")


async def test_why_link_opens_the_decision_trace(server, page):
    await browser_login(page, server, "admin")
    await browser_say(page, "宝妈群", "甜甜妈", "/help")
    await page.click("#chat-log .msg.in:has-text('/help') a.why")
    await page.wait_for_selector("#why-trace >> text=命令")
