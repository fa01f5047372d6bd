"""Keyword rules a campaign owns are read-only in the keyword pages; the list pages by 50."""

from __future__ import annotations

import html
import re

import pytest

from bot.web.app import create_app
from bot.web.keys import STORE
from keywords.manage import save_rule
from tests.conftest import login, make_settings
from tests.test_schedules_console import CAMPAIGN_FORM


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def campaign_rule(client) -> tuple[str, int, dict]:
    token = await login(client, "ops", "manager")
    resp = await client.post("/schedules/campaigns/new", data={**CAMPAIGN_FORM, "csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 302, await resp.text()
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    rows, _ = client.app[STORE].keywords.search_rules(source="campaign")
    assert rows, "the campaign made no keyword rules"
    return token, job_id, rows[0]


async def test_campaign_rule_is_listed_read_only_with_a_link_to_its_campaign(client):
    _, job_id, rule = await campaign_rule(client)
    page = await (await client.get("/keywords")).text()
    assert f'href="/schedules/{job_id}">在活动 #{job_id} 中修改' in page
    assert f'action="/keywords/{rule["id"]}/delete"' not in page
    assert f'action="/keywords/{rule["id"]}/toggle"' not in page
    edit = await (await client.get(f"/keywords/{rule['id']}/edit")).text()
    assert f'此规则由<a href="/schedules/{job_id}">活动 #{job_id}</a>自动生成，只读' in edit
    assert "<fieldset disabled" in edit and '<button type="submit">保存</button>' not in edit


@pytest.mark.parametrize("verb", ["edit", "delete", "toggle"])
async def test_changing_a_campaign_rule_by_post_is_refused_in_chinese(client, verb):
    token, job_id, rule = await campaign_rule(client)
    resp = await client.post(f"/keywords/{rule['id']}/{verb}",
                             data={"csrf_token": token, "keyword": "改掉", "match": "contains", "reply": "x"})
    body = await resp.text()
    assert f"由活动 #{job_id} 自动生成，不能在这里" in body and "请在活动页面修改" in body
    after = client.app[STORE].keywords.get_rule(rule["id"])
    assert after is not None and after["keyword"] == rule["keyword"] and after["enabled"] == rule["enabled"]


async def test_keyword_list_pages_by_50_with_previous_and_next(client):
    await login(client, "ops", "manager")
    store = client.app[STORE]
    for i in range(120):
        save_rule(store, {"keyword": f"分页词{i:03d}", "match": "contains", "reply": "好"}, source="console")
    first = await (await client.get("/keywords")).text()
    assert first.count('/edit">编辑</a>') == 50
    assert "第 1 / 3 页" in first and "上一页" not in first and "下一页" in first
    nxt = re.search(r'<a href="([^"]*page=2)" class="btn secondary">下一页', first)
    assert nxt
    second = await (await client.get(html.unescape(nxt.group(1)))).text()
    assert "第 2 / 3 页" in second and "上一页" in second and "下一页" in second
    last = await (await client.get("/keywords?page=3")).text()
    assert last.count('/edit">编辑</a>') == 20 and "下一页" not in last
