"""Browser test: a manager composes a broadcast, previews it, creates it; an admin approves it and
watches the progress. With QUNBOT_SCREENSHOTS=<dir> each step is saved as a PNG there."""

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


async def test_compose_preview_approve_progress(console_server, page):
    server = await console_server(("ops", "manager"), ("boss", "admin"), broadcast={"approval": True})
    base = await browser_login(page, server, "ops")
    await page.click("nav >> text=群发")
    text = "【双12福利】{group} 专属：今晚 8 点全场 5 折\n{variant}先到先得～\n{variant}手慢无～"
    await page.fill("textarea[name=text]", text)
    await page.fill("input[name=tags]", "宝妈, 学生")
    await page.fill("input[name=exclude]", "")
    await shot(page, "1-compose")
    await page.click("button >> text=预览")
    await page.wait_for_selector("text=确认创建")
    preview = await page.inner_text("main")
    assert "【双12福利】宝妈群 专属" in preview and "【双12福利】学生群 专属" in preview and "预计" in preview
    await shot(page, "2-preview")
    await page.click("button >> text=确认创建")
    await page.wait_for_selector("text=待审批")
    await page.click("button >> text=退出登录")
    await browser_login(page, server, "boss")
    await page.goto(f"{base}/broadcasts/1")
    await shot(page, "3-approve")
    await page.click("button >> text=审批通过")
    for _ in range(50):
        await page.goto(f"{base}/broadcasts/1")
        if (await page.inner_text("main")).count("已发送") >= 3:
            break
        await page.wait_for_timeout(200)
    text = await page.inner_text("main")
    assert "已审批" in text or "boss" in text
    assert text.count("已发送") >= 3  # progress line + two targets
    await shot(page, "4-progress")
