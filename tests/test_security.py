"""Console security over every route: login required, roles enforced, CSRF, escaped output."""

from __future__ import annotations

import re

import pytest

from bot.web.app import create_app
from bot.web.auth import ROLE_RANK
from bot.web.keys import STORE
from tests.conftest import login, make_settings, wait_until

# Routes that are public on purpose: each has its own protection (platform signature, none needed).
PUBLIC = {"/login", "/healthz", "/metrics", "/static"}
ADAPTER_PREFIXES = ("/wecom/", "/mp/", "/onebot/")
XSS = '<script>alert("qb")</script>'


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


def console_routes(app) -> list[tuple[str, str, object]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if route.method == "HEAD" or path.startswith(ADAPTER_PREFIXES):
            continue
        if any(path == p or path.startswith(p + "/") for p in PUBLIC) or path == "/logout":
            continue
        out.append((route.method, path, route.handler))
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_console_route_declares_a_role(client):
    missing = [f"{m} {p}" for m, p, h in console_routes(client.app) if not hasattr(h, "required_role")]
    assert missing == [], f"routes without @require_role: {missing}"


async def test_anonymous_requests_never_reach_a_console_handler(client):
    for method, path, _ in console_routes(client.app):
        resp = await client.request(method, concrete(path), allow_redirects=False)
        assert resp.status in (302, 401, 403), f"{method} {path} answered {resp.status} without login"
        if resp.status == 302:
            assert resp.headers["Location"].startswith("/login")


async def test_lower_roles_get_403_on_every_higher_role_route(client):
    routes = [(m, p, h.required_role) for m, p, h in console_routes(client.app) if "{" not in p]
    for role in ("moderator", "manager"):
        client.session.cookie_jar.clear()
        csrf = await login(client, name=f"sec_{role}", role=role)
        for method, path, needed in routes:
            if ROLE_RANK[needed] <= ROLE_RANK[role]:
                continue
            data = {"csrf_token": csrf} if method == "POST" else None
            resp = await client.request(method, path, data=data, allow_redirects=False)
            assert resp.status == 403, f"{role} got {resp.status} on {method} {path} (needs {needed})"


async def test_posts_without_csrf_token_are_refused_on_every_route(client):
    await login(client)
    for method, path, _ in console_routes(client.app):
        if method != "POST":
            continue
        resp = await client.post(concrete(path), data={"x": "1"}, allow_redirects=False)
        assert resp.status == 403, f"POST {path} without CSRF answered {resp.status}"


async def test_session_expires(aiohttp_client, tmp_path):
    from bot.kernel.clock import FakeClock

    clock = FakeClock()
    client = await aiohttp_client(create_app(make_settings(tmp_path, console={"session_hours": 1.0}), clock=clock))
    await login(client)
    assert (await client.get("/", allow_redirects=False)).status == 200
    clock.advance(3601)
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_login_is_rate_limited_per_address(client):
    for i in range(10):
        await client.post("/login", data={"username": f"nobody{i}", "password": "x"})
    resp = await client.post("/login", data={"username": "nobody", "password": "x"})
    assert resp.status == 429


async def test_xss_payloads_are_escaped_on_every_page(client):
    store = client.app[STORE]
    csrf = await login(client)
    store.chats.upsert_chat("sim", "g_xss", name=XSS, tags=[XSS])
    store.chats.upsert_member("sim", "g_xss", "u_xss", XSS, joined=True)
    store.chats.upsert_member("sim", "g_mom", "u_xss", XSS, joined=True)
    resp = await client.post("/sim/api/send", json={"chat_id": "g_mom", "member_id": "u_xss", "text": XSS},
                             headers={"X-CSRF-Token": csrf})
    uid = (await resp.json())["message_id"]
    await wait_until(lambda: store.messages.get(uid) is not None)
    store.accounts.audit(XSS, XSS, XSS, {"x": XSS})
    pages = sorted({concrete(p) for m, p, _ in console_routes(client.app) if m == "GET"})
    pages += ["/sim?chat=g_xss", "/sim?chat=g_mom"]
    checked = 0
    for path in pages:
        resp = await client.get(path)
        if resp.status != 200 or "html" not in resp.content_type:
            continue
        body = await resp.text()
        assert XSS not in body, f"unescaped payload on {path}"
        checked += 1
    assert checked >= 5


async def test_simulator_refuses_deeply_nested_json_with_400(client):
    csrf = await login(client)
    body = '{"a":' * 5000 + "1" + "}" * 5000
    resp = await client.post("/sim/api/send", data=body, headers={
        "X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert resp.status == 400
    assert "JSON" in await resp.text()


# -- scoped accounts: every route, every scope ------------------------------------------------

SCOPES = [
    ("moderator", {"groups": ["scope-in"], "tags": []}),
    ("moderator", {"groups": [], "tags": ["VIP"]}),
    ("manager", {"groups": ["范围内群"], "tags": []}),
    ("manager", {"groups": [], "tags": ["VIP"]}),
]


async def _seed_two_groups(app) -> dict[str, dict[str, int]]:
    """One group in scope (named 范围内群, tag VIP) and one outside, each with a flag, a strike,
    a mute and a join request; returns their ids per group."""
    from datetime import UTC, datetime, timedelta

    from bot.web.keys import BOT

    store = app[STORE]
    bot = app[BOT]
    now = datetime.now(UTC)
    ids: dict[str, dict[str, int]] = {}
    for chat, name, tag in (("scope-in", "范围内群", "VIP"), ("scope-out", "范围外群", "学生")):
        store.chats.upsert_chat("sim", chat, name=name, tags=[tag])
        flag = {"message_uid": f"sim:{chat}-m", "platform": "sim", "chat_id": chat, "chat_name": name,
                "member_id": f"{chat}-u", "member_name": f"{name}成员", "text": f"{name}的消息", "time": now,
                "rule": "word", "category": "广告", "word": "x", "action": "review", "status": "pending"}
        store.moderation.add_flags([(flag, None)])
        strike = store.moderation.add_strike("sim", chat, f"{chat}-u", time=now, expires_at=now + timedelta(days=9),
                                             step="warn", reason="r")
        store.guard.record_mute("sim", chat, f"{chat}-u", f"{name}成员", now, now + timedelta(days=1), "r")
        req = store.guard.add_join_request({"platform": "sim", "chat_id": chat, "member_id": f"{chat}-j", "flag": chat,
                                            "comment": f"{name}申请", "time": now, "status": "pending"})
        assert req is not None
        ids[chat] = {
            "flag": next(f["id"] for f in store.moderation.list_flags() if f["chat_id"] == chat), "strike": strike,
            "mute": next(m["id"] for m in store.guard.active_mutes(now) if m["chat_id"] == chat), "join": req,
        }
    bot.refresh_chats()
    return ids


@pytest.mark.parametrize(("role", "scope"), SCOPES)
async def test_scoped_accounts_reach_only_scoped_routes_and_only_their_groups(client, role, scope):
    ids = await _seed_two_groups(client.app)
    name = f"scoped_{role}"
    client.app[STORE].guard.set_scope(name, scope["groups"], scope["tags"])
    csrf = await login(client, name=name, role=role)
    routes = console_routes(client.app)
    # every brand-wide route refuses a scoped account
    for method, path, handler in routes:
        if getattr(handler, "scoped", False) or ROLE_RANK[handler.required_role] > ROLE_RANK[role]:
            continue
        data = {"csrf_token": csrf} if method == "POST" else None
        resp = await client.request(method, concrete(path), data=data, allow_redirects=False)
        expected = (302,) if (method, path) == ("GET", "/") else (403,)
        assert resp.status in expected, f"scoped {role} got {resp.status} on {method} {path}"
    # the scoped routes: lists show the group in scope only; objects outside are refused
    for page in ("/moderation/review", "/moderation/muted", "/moderation/joins"):
        text = await (await client.get(page)).text()
        assert "范围内群" in text and "范围外群" not in text, page
    out, inside = ids["scope-out"], ids["scope-in"]
    attempts = [
        ("GET", "/moderation/review/{}", "flag"), ("POST", "/moderation/review/{}/approve", "flag"),
        ("POST", "/moderation/review/{}/confirm", "flag"), ("POST", "/moderation/muted/{}/unmute", "mute"),
        ("POST", "/moderation/strikes/{}/revoke", "strike"), ("POST", "/moderation/joins/{}/approve", "join"),
        ("POST", "/moderation/joins/{}/refuse", "join"),
    ]
    # a new scoped route with an object in its path must be added to `attempts`
    scoped_paths = {p for m, p, h in routes if getattr(h, "scoped", False) and "{" in p}
    assert scoped_paths == {"/moderation/review/{id}", "/moderation/review/{id}/{decision}",
                            "/moderation/muted/{id}/unmute", "/moderation/strikes/{id}/revoke",
                            "/moderation/joins/{id}/{decision}"}, scoped_paths
    for method, pattern, kind in attempts:
        data = {"csrf_token": csrf} if method == "POST" else None
        resp = await client.request(method, pattern.format(out[kind]), data=data, allow_redirects=False)
        assert resp.status == 403, f"scoped {role} got {resp.status} on {method} {pattern} outside the scope"
    resp = await client.post("/moderation/review/bulk", data={"csrf_token": csrf, "decision": "approve",
                                                               "id": str(out["flag"])}, allow_redirects=False)
    assert resp.status == 403
    resp = await client.get(f"/moderation/review/{inside['flag']}")
    assert resp.status == 200 and "范围内群的消息" in await resp.text()
    resp = await client.post(f"/moderation/strikes/{inside['strike']}/revoke", data={"csrf_token": csrf},
                             allow_redirects=False)
    assert resp.status == 302
    nav = await (await client.get("/moderation/review")).text()
    assert "/moderation/blacklist" not in nav and "/groups" not in nav


async def test_admin_sets_a_scope_in_the_console_and_it_applies_at_once(client):
    store = client.app[STORE]
    csrf = await login(client)
    from tests.conftest import add_user

    add_user(store, "shop_mod", "moderator")
    resp = await client.post("/moderation/scopes", data={"csrf_token": csrf, "user": "shop_mod",
                                                         "groups": "售后1群，售后2群", "tags": ""})
    assert "管理范围已更新" in await resp.text()
    assert store.guard.scope("shop_mod") == (["售后1群", "售后2群"], [])
    refused = await client.post("/moderation/scopes", data={"csrf_token": csrf, "user": "admin", "groups": "x"})
    assert "只能限定审核员或运营账号" in await refused.text()
    client.session.cookie_jar.clear()
    await login(client, name="shop_mod", role="moderator")
    assert (await client.get("/moderation/lexicon", allow_redirects=False)).status == 403
