"""The console shell over real HTTP: login, roles, CSRF, security headers, simulator, audit."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from bot.web.keys import STORE
from tests.conftest import TEST_PASSWORD, login, make_settings, wait_until


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def test_healthz_reports_ok_without_login(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["adapters"][0]["name"] == "sim"


async def test_anonymous_user_is_sent_to_login(client):
    resp = await client.get("/keywords" if False else "/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_wrong_password_is_refused_with_a_chinese_message(client):
    client.app[STORE].accounts.add_user(
        "admin", __import__("bot.web.passwords", fromlist=["x"]).hash_password(TEST_PASSWORD), "admin"
    )
    resp = await client.post("/login", data={"username": "admin", "password": "wrong", "next": "/"})
    assert resp.status == 401
    assert "用户名或密码错误" in await resp.text()


async def test_repeated_failures_lock_the_account(client):
    from bot.web.passwords import hash_password

    client.app[STORE].accounts.add_user("ops", hash_password(TEST_PASSWORD), "manager")
    for _ in range(5):
        await client.post("/login", data={"username": "ops", "password": "bad"})
    resp = await client.post("/login", data={"username": "ops", "password": TEST_PASSWORD})
    assert resp.status in (401, 429)
    assert "次数过多" in await resp.text()


async def test_login_shows_overview_with_security_headers(client):
    await login(client)
    resp = await client.get("/")
    text = await resp.text()
    assert resp.status == 200 and "今日消息" in text
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_post_without_csrf_token_is_forbidden(client):
    await login(client)
    resp = await client.post("/groups/tags", data={"platform": "sim", "chat_id": "g_mom", "tags": "x"})
    assert resp.status == 403
    assert client.app[STORE].chats.get_chat("sim", "g_mom")["tags"] == ["宝妈"]


async def test_forged_session_cookie_is_ignored(client):
    client.session.cookie_jar.update_cookies({"qunbot_session": "eyJ1IjoiYWRtaW4ifQ.deadbeef"})
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302


@pytest.mark.parametrize(("role", "path", "status"), [
    ("moderator", "/users", 403), ("moderator", "/groups", 403), ("manager", "/audit", 403),
    ("manager", "/groups", 200), ("moderator", "/sim", 200), ("admin", "/audit", 200),
])
async def test_roles_are_enforced_on_routes(client, role, path, status):
    await login(client, name=f"u_{role}", role=role)
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == status


async def test_tag_change_takes_effect_and_is_audited(client):
    csrf = await login(client)
    resp = await client.post("/groups/tags", data={"platform": "sim", "chat_id": "g_mom",
                                                   "tags": "宝妈，VIP", "csrf_token": csrf})
    assert resp.status == 200
    store = client.app[STORE]
    assert store.chats.get_chat("sim", "g_mom")["tags"] == ["VIP", "宝妈"]
    entry = store.accounts.audit_entries(action="groups.tags")[0]
    assert entry["actor"] == "admin" and entry["target"] == "sim:g_mom"


async def test_admin_creates_user_who_can_log_in(client):
    csrf = await login(client)
    await client.post("/users", data={"op": "create", "name": "mod1", "role": "moderator",
                                      "password": "mod-password-1", "csrf_token": csrf})
    assert client.app[STORE].accounts.get_user("mod1")["role"] == "moderator"
    client.session.cookie_jar.clear()
    resp = await client.post("/login", data={"username": "mod1", "password": "mod-password-1"},
                             allow_redirects=False)
    assert resp.status == 302


async def simulate(client, csrf: str, **body):
    return await client.post("/sim/api/send", json=body, headers={"X-CSRF-Token": csrf})


async def test_simulated_message_is_recorded_and_answered(client):
    csrf = await login(client)
    resp = await simulate(client, csrf, chat_id="g_mom", member_id="u_mama_wang", text="/help")
    assert resp.status == 202
    uid = (await resp.json())["message_id"]

    async def answered():
        r = await client.get("/sim/api/chats/g_mom/messages")
        msgs = (await r.json())["messages"]
        return any(m["direction"] == "out" and "可用命令" in m["text"] for m in msgs) and any(
            m["uid"] == uid for m in msgs
        )

    await wait_until(answered)


async def test_simulator_rejects_unknown_chat_member_and_bad_input(client):
    csrf = await login(client)
    assert (await simulate(client, csrf, chat_id="nope", member_id="u1", text="hi")).status == 404
    assert (await simulate(client, csrf, chat_id="g_mom", member_id="ghost", text="hi")).status == 404
    assert (await simulate(client, csrf, chat_id="g_mom", member_id="u_mama_wang", text="  ")).status == 400
    big = "字" * 100_001
    assert (await simulate(client, csrf, chat_id="g_mom", member_id="u_mama_wang", text=big)).status == 413
    resp = await client.post(
        "/sim/api/send", data="{not json", headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    )
    assert resp.status == 400
    resp = await client.post("/sim/api/send", json={"chat_id": "g_mom"})
    assert resp.status == 403, "an API call without the CSRF header is refused"


async def test_simulated_join_adds_the_member(client):
    csrf = await login(client)
    resp = await client.post("/sim/api/join", json={"chat_id": "g_mom", "name": "新妈妈"},
                             headers={"X-CSRF-Token": csrf})
    member_id = (await resp.json())["member_id"]
    store = client.app[STORE]
    await wait_until(lambda: store.chats.get_member("sim", "g_mom", member_id) is not None)


async def test_member_names_are_escaped_in_pages(client):
    store = client.app[STORE]
    store.chats.upsert_chat("sim", "g_x", name="<script>alert(1)</script>")
    await login(client)
    text = await (await client.get("/groups")).text()
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
