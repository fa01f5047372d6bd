"""Browser test: a manager creates a flash-sale campaign, previews its timeline and activates it."""

from __future__ import annotations

import pytest

from bot.web.keys import BOT
from tests.conftest import browser_login

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(console_server):
    return await console_server(("ops", "manager"))




async def test_create_preview_and_activate_a_campaign(server, page):
    base = await browser_login(page, server, "ops")
    await page.wait_for_url(f"{base}/")
    await page.click("nav >> text=活动与定时消息")
    await page.click("text=新建秒杀活动")
    await page.fill("#f_name", "元旦纸尿裤秒杀")
    await page.fill("#f_item", "纸尿裤")
    await page.fill("#f_price", "59")
    await page.fill("#f_original_price", "129")
    await page.fill("#f_link", "https://example.com/s/diaper")
    await page.fill("#f_start", "2030-01-01T10:00")
    await page.fill("#f_end", "2030-01-01T11:00")
    await page.fill("#f_tags", "宝妈")
    await page.fill("#f_announce", "1h")
    await page.click("button[type=submit] >> text=保存")  # 启用 left unticked: saved as a draft
    # the preview: the whole timeline with rendered text and the target group, before activation
    await page.wait_for_selector("text=草稿不会发送")
    timeline = await page.inner_text("main")
    assert "【秒杀预告】纸尿裤 将于 1月1日 10:00 开抢，距开抢还有 1小时" in timeline
    assert "4.6折" in timeline and "宝妈群" in timeline
    await page.click("button >> text=启用")
    await page.wait_for_selector(".flash.ok >> text=已启用")
    scheduler = server.app[BOT].schedules
    jobs = await scheduler.jobs()
    assert [(j.name, j.status) for j in jobs] == [("元旦纸尿裤秒杀", "active")]
    assert scheduler.next_run(jobs[0].id) is not None
