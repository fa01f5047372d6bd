"""Console pages a manager reads: the audit log in words, groups added and renamed, the review badge."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from bot.web.keys import STORE
from tests.conftest import login, make_settings


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def test_audit_log_says_who_did_what_to_which_object_in_words(client):
    csrf = await login(client)
    await client.post("/groups/tags", data={"platform": "sim", "chat_id": "g_mom", "tags": "宝妈, 上班族",
                                             "csrf_token": csrf})
    await client.post("/users", data={"op": "create", "name": "xiaowang", "role": "manager",
                                       "password": "long-enough-1", "csrf_token": csrf})
    page = await (await client.get("/audit")).text()
    assert "修改群标签" in page and "创建账号" in page
    assert "users.create" not in page and "groups.tags" not in page
    assert "\\u" not in page  # no JSON escapes
    # before → after of the changed field, and the object linked
    assert "<del>宝妈</del> → <ins>宝妈、上班族</ins>" in page
    assert 'href="/groups">sim:g_mom</a>' in page
    assert "角色：</span>运营" in page


async def test_audit_log_filters_by_user_object_type_and_date(client):
    csrf = await login(client)
    store = client.app[STORE]
    store.accounts.audit("cli", "keywords.delete", "rule-1", {"keyword": "发货"})
    await client.post("/groups/tags", data={"platform": "sim", "chat_id": "g_mom", "tags": "宝妈",
                                             "csrf_token": csrf})
    by_cli = await (await client.get("/audit", params={"actor": "cli"})).text()
    assert "删除关键词规则" in by_cli and "修改群标签" not in by_cli
    groups_only = await (await client.get("/audit", params={"action": "groups"})).text()
    assert "修改群标签" in groups_only and "删除关键词规则" not in groups_only
    future = await (await client.get("/audit", params={"since": "2999-01-01"})).text()
    assert "暂无记录" in future
    bad = await (await client.get("/audit", params={"since": "yesterday"})).text()
    assert "日期格式应为 YYYY-MM-DD" in bad


async def test_audit_log_pages_fifty_at_a_time(client):
    await login(client)
    store = client.app[STORE]
    for i in range(120):
        store.accounts.audit("cli", "keywords.delete", f"rule-{i}", {})
    first = await (await client.get("/audit", params={"actor": "cli"})).text()
    assert first.count("删除关键词规则") == 50 and "下一页" in first and "rule-119" in first
    third = await (await client.get("/audit", params={"actor": "cli", "page": "3"})).text()
    assert third.count("删除关键词规则") == 20 and "下一页" not in third and "rule-0<" in third


async def test_manager_adds_and_renames_a_group_in_the_console(client):
    csrf = await login(client, "ops", "manager")
    resp = await client.post("/groups/new", data={"platform": "sim", "chat_id": "g_new", "name": "新品体验群",
                                                   "tags": "VIP", "csrf_token": csrf})
    assert resp.status == 200 and "已添加群「新品体验群」" in await resp.text()
    chat = client.app[STORE].chats.get_chat("sim", "g_new")
    assert chat["name"] == "新品体验群" and chat["tags"] == ["VIP"]
    await client.post("/groups/rename", data={"platform": "sim", "chat_id": "g_new", "name": "新品试用群",
                                               "csrf_token": csrf})
    assert client.app[STORE].chats.get_chat("sim", "g_new")["name"] == "新品试用群"
    page = await (await client.get("/groups")).text()
    assert "模拟器" in page and "新品试用群" in page
    dup = await client.post("/groups/new", data={"platform": "sim", "chat_id": "g_new", "name": "x",
                                                  "csrf_token": csrf})
    assert "已存在" in await dup.text()
    bad = await client.post("/groups/new", data={"platform": "nope", "chat_id": "g2", "name": "x",
                                                  "csrf_token": csrf})
    assert "请选择已启用的平台" in await bad.text()


async def test_pending_reviews_show_as_a_badge_and_a_dashboard_card(client):
    from tests.test_moderation_console import held_message

    await login(client, "mod", "moderator")
    before = await (await client.get("/")).text()
    assert 'class="badge"' not in before
    store = client.app[STORE]
    await held_message(client, "快来买竞品牌吧")
    await held_message(client, "竞品牌更便宜", n=2)
    count = store.moderation.count_flags()
    assert count == 2
    page = await (await client.get("/")).text()
    assert f'title="待审核 {count} 条">{count}</span>' in page
    assert "待审核消息" in page and "正在处理的消息" in page and "待处理消息" not in page
