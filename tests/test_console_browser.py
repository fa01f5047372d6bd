"""The console flows of issue 23 in real Chromium: the review badge, choosing what to do on a phone-sized
screen, the audit view, and a mistyped target refused on the form."""

from __future__ import annotations

import pytest

from bot.web.keys import BOT, STORE
from tests.conftest import browser_login
from tests.test_moderation_console import held_message

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def server(console_server):
    return await console_server(("admin", "admin"), ("mod", "moderator"), ("ops", "manager"))


class _Client:
    """held_message() wants something with .app: the running server's app."""

    def __init__(self, app) -> None:
        self.app = app


async def test_moderator_reviews_on_a_phone_choosing_a_three_day_mute(server, page):
    await held_message(_Client(server.app), "快来买竞品牌吧")
    await page.set_viewport_size(PHONE)
    base = await browser_login(page, server, "mod")
    # nothing overflows sideways on a 390 px screen, and the menu folds away behind a button
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not await page.is_visible("nav.side .nav-links")
    badge = await page.inner_text("button.nav-toggle .badge")
    assert badge == "1"
    await page.click("button.nav-toggle")
    await page.click("nav.side .nav-links >> text=审核队列")
    await page.wait_for_url(f"{base}/moderation/review")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.click("text=详情")
    await page.wait_for_selector("#ladder-next")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.check("input[name=choice][value=mute]")
    await page.fill("input[name=mute_days]", "3")
    messages = []

    async def accept(dialog):
        messages.append(dialog.message)
        await dialog.accept()

    page.once("dialog", accept)
    await page.click("button:has-text('确认处理')")
    await page.wait_for_selector(".flash.ok >> text=禁言 3 天")
    assert "确定按所选方式处理" in messages[0]
    history = server.app[BOT].moderation_stage.strikes.history("sim", "g_mom", "u_spam")
    assert history[0]["step"] == "mute:259200s"


async def test_dismissing_the_confirmation_does_nothing(server, page):
    await held_message(_Client(server.app), "快来买竞品牌吧")
    await browser_login(page, server, "mod")
    await page.click("nav >> text=审核队列")
    await page.click("text=详情")
    page.once("dialog", lambda dialog: dialog.dismiss())
    await page.click("button:has-text('确认处理')")
    await page.wait_for_timeout(300)
    assert server.app[STORE].moderation.list_flags()[0]["status"] == "pending"


async def test_review_badge_and_dashboard_card_follow_the_queue(server, page):
    base = await browser_login(page, server, "mod")
    assert await page.locator("nav .badge").count() == 0
    await held_message(_Client(server.app), "快来买竞品牌吧")
    await held_message(_Client(server.app), "竞品牌更便宜", n=2)
    await page.goto(f"{base}/")
    assert await page.inner_text("nav .nav-links .badge") == "2"
    card = page.locator("a.review-card")
    assert await card.locator(".n").inner_text() == "2"
    await card.click()
    await page.wait_for_url(f"{base}/moderation/review")


async def test_admin_reads_the_audit_log_in_words_and_filters_it(server, page):
    base = await browser_login(page, server, "admin")
    await page.goto(f"{base}/groups")
    row = page.locator("tr", has=page.locator("input[value=g_mom]"))
    await row.locator("input[name=tags]").fill("宝妈, 上班族")
    await row.locator("button:has-text('保存')").click()
    await page.wait_for_selector(".flash.ok")
    server.app[STORE].accounts.audit("cli", "keywords.delete", "rule-9", {"keyword": "发货"})
    await page.goto(f"{base}/audit")
    text = await page.inner_text("table.audit")
    assert "修改群标签" in text and "删除关键词规则" in text and "groups.tags" not in text
    assert await page.inner_text("td.detail ins") == "宝妈、上班族"
    await page.select_option("select[name=actor]", "cli")
    await page.click("button:has-text('筛选')")
    await page.wait_for_url("**actor=cli**")
    text = await page.inner_text("table.audit")
    assert "删除关键词规则" in text and "修改群标签" not in text
    # the table fits the page: no sideways scrolling at a laptop width
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1366


async def test_a_mistyped_group_is_refused_on_the_keyword_form_with_the_closest_name(server, page):
    base = await browser_login(page, server, "ops")
    await page.goto(f"{base}/keywords/new")
    await page.fill("#keyword", "发货")
    await page.fill("#replies", "48 小时内发货")
    await page.fill("input[name=groups]", "宝妈君")
    # the live check says it while the manager types, and saving is refused the same way
    await page.wait_for_selector("text=您是不是想写：宝妈群")
    await page.click("form button[type=submit]:has-text('保存')")
    await page.wait_for_selector("text=您是不是想写：宝妈群")
    rules = server.app[STORE].keywords.list_rules()
    assert not any(r["spec"].get("groups") == ["宝妈君"] for r in rules)
