"""Browser test: a manager finds a member, tags them; an admin erases their data after typing
the ref. With QUNBOT_SCREENSHOTS=DIR the pages are saved there (docs/img/members)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import browser_login

pytestmark = pytest.mark.browser


async def shot(page, name: str) -> None:
    folder = os.environ.get("QUNBOT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
async def server(console_server):
    return await console_server(("ops", "manager"), ("boss", "admin"), ("mod", "moderator"))


async def test_manager_searches_and_tags_a_member(server, page):
    base = await browser_login(page, server, "ops")
    await page.click("nav >> text=成员")
    await page.fill("input[name=q]", "妈")
    await page.click("button >> text=筛选")
    listing = await page.inner_text("main")
    assert "王妈妈" in listing and "甜甜妈" in listing and "李总" not in listing
    await shot(page, "members-list")
    await page.click("a >> text=王妈妈")
    await page.wait_for_url(f"{base}/members/sim:u_mama_wang")
    await page.fill("input[name=tag]", "VIP")
    await page.click("button >> text=加标签")
    await page.wait_for_selector(".tag >> text=VIP")
    await page.fill("textarea[name=text]", "常问物流，语气急")
    await page.click("button >> text=添加备注")
    await page.wait_for_selector("text=常问物流，语气急")
    text = await page.inner_text("main")
    assert "宝妈群" in text and "大家早上好" in text
    # managers see no erase button
    assert "删除个人信息" not in text
    await shot(page, "member-page-manager")


async def test_admin_erases_a_member_after_typing_the_ref(server, page):
    base = await browser_login(page, server, "boss")
    await page.goto(f"{base}/members/sim:u_mama_wang")
    await page.fill("input[name=confirm]", "sim:u_mama_wang")
    await shot(page, "member-page-admin")
    await page.click("button >> text=删除个人信息")
    await page.wait_for_selector("text=已删除 sim:u_mama_wang 的内容与个人信息")
    text = await page.inner_text("main")
    assert "大家早上好" not in text and "王妈妈" not in text
    assert "个人信息已于" in text
