"""A typo in a target group or tag is refused at save with the closest names, not saved to never fire."""

from __future__ import annotations

import pytest

from bot.targets import suggest, unknown_targets
from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings
from tests.test_keywords_console import RULE

CHATS = [
    {"platform": "sim", "chat_id": "g_mom", "kind": "group", "name": "宝妈群", "tags": ["宝妈"]},
    {"platform": "sim", "chat_id": "g_vip", "kind": "group", "name": "VIP群", "tags": ["VIP"]},
]


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


def test_unknown_names_get_the_closest_existing_ones():
    assert unknown_targets(["宝妈群", "g_vip", "sim:g_mom"], ["宝妈"], CHATS) == {}
    problems = unknown_targets(["宝妈君"], ["宝 妈", "vip"], CHATS)
    assert "群“宝妈君”不存在，您是不是想写：宝妈群" in problems["groups"]
    assert "标签“宝 妈”不存在，您是不是想写：宝妈" in problems["tags"]
    assert "您是不是想写：VIP" in problems["tags"]
    assert "先在“群组与标签”页添加" in unknown_targets(["完全无关"], [], CHATS)["groups"]
    assert suggest("学生", []) == []


async def test_keyword_rule_for_a_mistyped_group_or_tag_is_refused(client):
    csrf = await login(client, "ops", "manager")
    store = client.app[STORE]
    before = len(store.keywords.list_rules())
    resp = await client.post("/keywords/new", data={**RULE, "groups": "宝妈君", "csrf_token": csrf})
    assert resp.status == 422
    assert "您是不是想写：宝妈群" in await resp.text()
    resp = await client.post("/keywords/new", data={**RULE, "tags": "宝 妈", "csrf_token": csrf})
    assert resp.status == 422 and "您是不是想写：宝妈" in await resp.text()
    assert len(store.keywords.list_rules()) == before
    live = await client.post("/keywords/validate", data={**RULE, "groups": "宝妈君"},
                             headers={"X-CSRF-Token": csrf})
    assert "宝妈群" in (await live.json())["errors"]["groups"]
    ok = await client.post("/keywords/new", data={**RULE, "groups": "宝妈群", "csrf_token": csrf},
                           allow_redirects=False)
    assert ok.status == 302


async def test_post_for_an_unknown_group_is_refused_unless_it_will_be_added_later(client):
    csrf = await login(client, "ops", "manager")
    form = {"name": "晚安", "texts": "晚安", "mode": "at", "at": "22:00", "groups": "宝妈君", "csrf_token": csrf}
    resp = await client.post("/schedules/posts/new", data=form)
    assert resp.status == 400
    text = await resp.text()
    assert "您是不是想写：宝妈群" in text and "群稍后添加" in text
    assert await client.app[BOT].schedules.jobs() == []
    resp = await client.post("/schedules/posts/new", data={**form, "targets_later": "on"}, allow_redirects=False)
    assert resp.status == 302
