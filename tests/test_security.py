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
