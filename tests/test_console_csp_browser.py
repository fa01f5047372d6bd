"""Browser test: under a CSP without 'unsafe-inline' the console's own behaviour (delete
confirmations, live validation, the simulator) still works and Chromium reports no violation."""

from __future__ import annotations

import pytest

from bot.web.keys import STORE
from keywords.manage import save_rule
from tests.conftest import browser_login

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(console_server):
    return await console_server(("ops", "manager"))


async def test_pages_run_without_csp_violations_and_deletes_still_ask(server, page):
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    store = server.app[STORE]
    save_rule(store, {"keyword": "');alert(1);('", "reply": "x"}, source="console", actor="t")
    base = await browser_login(page, server, "ops")
    for path in ("/", "/keywords/new", "/sim", "/schedules", "/schedules/campaigns/new", "/faq"):
        await page.goto(f"{base}{path}")
        await page.wait_for_load_state("load")

    await page.goto(f"{base}/keywords")
    dialogs: list[str] = []

    async def answer(dialog, accept: bool) -> None:
        dialogs.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.once("dialog", lambda d: answer(d, False))
    await page.click("button.danger:has-text('删除')")
    await page.wait_for_timeout(300)
    assert dialogs == ["确定删除规则「');alert(1);('」？"]
    assert len(store.keywords.list_rules()) == 1
    page.once("dialog", lambda d: answer(d, True))
    await page.click("button.danger:has-text('删除')")
    await page.wait_for_load_state("load")
    await page.wait_for_timeout(300)
    assert store.keywords.list_rules() == []
    assert violations == []
