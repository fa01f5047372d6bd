"""Error pages a person reads in a browser: Chinese, with a way back; scripts keep the plain text."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from tests.conftest import login, make_settings

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def test_unknown_page_is_a_chinese_page_with_a_way_back(client):
    await login(client)
    resp = await client.get("/no/such/page", headers=HTML)
    text = await resp.text()
    assert resp.status == 404
    assert "页面不存在" in text and "Not Found" not in text
    assert 'href="/"' in text and "返回上一页" in text
    assert resp.headers["Content-Type"].startswith("text/html")


async def test_forbidden_page_says_why_and_keeps_the_navigation(client):
    await login(client, name="mod", role="moderator")
    resp = await client.get("/users", headers=HTML)
    text = await resp.text()
    assert resp.status == 403
    assert "没有权限" in text and "返回上一页" in text
    assert "概览" in text  # the navigation is still there


async def test_a_handlers_own_chinese_message_is_kept(client):
    await login(client)
    resp = await client.get("/sim/no_such_chat", headers=HTML)
    text = await resp.text()
    assert resp.status == 404 and "Not Found" not in text


async def test_anonymous_404_still_offers_login(client):
    resp = await client.get("/no/such/page", headers=HTML)
    assert resp.status == 404
    text = await resp.text()
    assert "页面不存在" in text and "/login" in text


async def test_scripts_keep_plain_text_errors(client):
    await login(client)
    resp = await client.get("/no/such/page", headers={"Accept": "application/json"})
    assert resp.status == 404 and "<html" not in await resp.text()


async def test_new_accounts_default_to_the_least_role_and_names_are_validated(client):
    from bot.web.keys import STORE

    csrf = await login(client)
    page = await (await client.get("/users")).text()
    assert '<option value="moderator" selected' in page
    for bad in ("有 空格", "<b>x</b>", "a" * 33):
        resp = await client.post("/users", data={"op": "create", "name": bad, "role": "moderator",
                                                  "password": "long-enough-1", "csrf_token": csrf})
        assert resp.status == 200 and "用户名" in await resp.text()
        assert client.app[STORE].accounts.get_user(bad) is None
    resp = await client.post("/users", data={"op": "create", "name": "小王.ops", "role": "moderator",
                                              "password": "long-enough-1", "csrf_token": csrf})
    assert client.app[STORE].accounts.get_user("小王.ops")["role"] == "moderator"
