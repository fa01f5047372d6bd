"""New posts and campaigns go live only when 启用 is ticked; otherwise they are drafts."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT
from tests.conftest import login, make_settings
from tests.test_schedules_console import CAMPAIGN_FORM

POST_FORM = {"name": "每日早安", "texts": "早上好", "mode": "at", "at": "09:00", "tags": "宝妈, 学生"}


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def create(client, path: str, form: dict) -> int:
    resp = await client.post(path, data=form, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    return int(resp.headers["Location"].rsplit("/", 1)[1])


@pytest.mark.parametrize("path", ["/schedules/posts/new", "/schedules/campaigns/new"])
async def test_new_forms_show_the_enable_switch_unticked(client, path):
    await login(client, "ops", "manager")
    page = await (await client.get(path)).text()
    assert "保存后立即启用" in page
    assert 'name="enable" value="1" >' in page  # not checked


async def test_post_saved_without_enable_is_a_draft_that_sends_nothing(client):
    token = await login(client, "ops", "manager")
    job_id = await create(client, "/schedules/posts/new", {**POST_FORM, "csrf_token": token})
    scheduler = client.app[BOT].schedules
    assert (await scheduler.job(job_id)).status == "draft"
    page = await (await client.get(f"/schedules/{job_id}")).text()
    assert "已保存为草稿，尚未启用" in page and "草稿不会发送" in page
    assert "每日早安" not in await (await client.get("/schedules/preview?days=2")).text()
    await client.post(f"/schedules/{job_id}/action", data={"action": "activate", "csrf_token": token})
    assert (await scheduler.job(job_id)).status == "active"
    assert "每日早安" in await (await client.get("/schedules/preview?days=2")).text()


async def test_ticking_enable_keeps_posts_and_campaigns_live_on_save(client):
    token = await login(client, "ops", "manager")
    scheduler = client.app[BOT].schedules
    post_id = await create(client, "/schedules/posts/new", {**POST_FORM, "enable": "1", "csrf_token": token})
    assert (await scheduler.job(post_id)).status == "active"
    campaign_id = await create(client, "/schedules/campaigns/new",
                               {**CAMPAIGN_FORM, "enable": "1", "csrf_token": token})
    assert (await scheduler.job(campaign_id)).status == "active"
    assert "已保存并启用" in await (await client.get(f"/schedules/{campaign_id}")).text()
    # editing keeps the status; the switch is only on new forms
    edit = await (await client.get(f"/schedules/{post_id}/edit")).text()
    assert "保存后立即启用" not in edit


async def test_a_refused_form_keeps_the_enable_tick(client):
    token = await login(client, "ops", "manager")
    resp = await client.post("/schedules/campaigns/new",
                              data={**CAMPAIGN_FORM, "price": "九块九", "enable": "1", "csrf_token": token})
    assert resp.status == 400
    assert 'name="enable" value="1" checked>' in await resp.text()


async def test_preview_of_an_every_minute_post_pages_by_100_and_groups_chats(client):
    token = await login(client, "ops", "manager")
    await create(client, "/schedules/posts/new", {"name": "刷屏测试", "texts": "每分钟一条", "mode": "every",
                                                  "every": "1m", "groups": "宝妈群, 学生群", "enable": "1",
                                                  "csrf_token": token})
    first = await (await client.get("/schedules/preview?days=1")).text()
    rows = first.count("<td style=\"white-space:pre-wrap\">每分钟一条</td>")
    assert rows == 100  # one row per minute, both groups on the same row
    assert "宝妈群、学生群" in first or "学生群、宝妈群" in first
    assert "第 1 / 15 页" in first and "上一页" not in first
    assert 'href="/schedules/preview?days=1&page=2" class="btn secondary">下一页' in first
    last = await (await client.get("/schedules/preview?days=1&page=15")).text()
    assert last.count("每分钟一条</td>") == 40 and "下一页" not in last and "上一页" in last
    assert "共 1440 次发送" in last
