"""Console pages of the bot itself: login, overview, groups and tags, users, audit log, health."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode, urlparse

import aiohttp_jinja2
from aiohttp import web

from bot.store.accounts import ROLES
from bot.store.base import iso
from bot.web.audit_text import action_families, audit_row
from bot.web.auth import (
    ERR_LOCKED,
    ROLE_LABELS,
    ROLE_RANK,
    audit,
    authenticate,
    client_address,
    current_session_id,
    current_user,
    end_session,
    flash,
    require_role,
    start_session,
)
from bot.web.keys import BOT, LOGIN_GUARD, SETTINGS, STORE
from bot.web.passwords import hash_password, username_problem

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    bot = request.app.get(BOT)
    if bot is None:
        return web.json_response({"status": "starting"}, status=503)
    store = request.app[STORE]
    try:
        await store.run(store.scalar_ping)
        db = "ok"
    except Exception as exc:
        db = f"error: {exc}"
    body = {
        "status": "ok" if db == "ok" and bot.recorder.last_error is None else "degraded",
        "database": db,
        "recorder_error": bot.recorder.last_error,
        "queue_depth": bot.queue_depth(),
        "outbox_depth": bot.outbox.depth(),
        "handled": bot.handled,
        "adapters": [a.status() for a in bot.adapters.values()],
    }
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


@routes.get("/login")
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict:
    return {"next": _safe_next(request.query.get("next", "/")), "error": ""}


@routes.post("/login")
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    guard = request.app[LOGIN_GUARD]
    remote = client_address(request)
    if not guard.allowed(remote):
        return _login_error(request, ERR_LOCKED, next_url, status=429)
    user, error = await authenticate(request, username, password)
    if user is None:
        guard.failed(remote)
        return _login_error(request, error, next_url, status=401)
    response = web.HTTPFound(next_url)
    await start_session(request, response, user["name"])
    store = request.app[STORE]
    await store.run(store.accounts.audit, user["name"], "login", user["name"], {"remote": remote})
    raise response


def _login_error(request: web.Request, error: str, next_url: str, status: int) -> web.Response:
    return aiohttp_jinja2.render_template(
        "login.html", request, {"next": next_url, "error": error}, status=status,
    )


def _safe_next(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme or parsed.netloc or not url.startswith("/") or url.startswith("//"):
        return "/"
    return url


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPFound("/login")
    await end_session(request, response)
    raise response


# the overview page GET "/" lives in bot/web/dashboard.py


@routes.get("/groups")
@require_role("manager")
@aiohttp_jinja2.template("groups.html")
async def groups(request: web.Request) -> dict:
    store = request.app[STORE]
    return {"chats": await store.run(store.chats.list_chats), "platforms": list(request.app[BOT].adapters)}


@routes.post("/groups/tags")
@require_role("manager")
async def set_group_tags(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    platform, chat_id = str(form.get("platform", "")), str(form.get("chat_id", ""))
    tags = _split_tags(form.get("tags"))
    store = request.app[STORE]
    chat = await store.run(store.chats.get_chat, platform, chat_id)
    if chat is None:
        raise web.HTTPNotFound(text="群聊不存在")
    await store.run(store.chats.set_tags, platform, chat_id, tags)
    await store.run(request.app[BOT].refresh_chats)
    await audit(request, "groups.tags", f"{platform}:{chat_id}", {"before": chat["tags"], "after": tags})
    flash(request, f"已更新「{chat['name'] or chat_id}」的标签")
    raise web.HTTPFound("/groups")


MAX_GROUP_NAME = 60


def _split_tags(value: object) -> list[str]:
    return [t.strip() for t in str(value or "").replace("，", ",").split(",") if t.strip()]


@routes.post("/groups/new")
@require_role("manager")
async def add_group(request: web.Request) -> web.StreamResponse:
    """Declare a group before the bot has heard from it, so rules and posts can target it by name."""
    form = await request.post()
    platform = str(form.get("platform", "")).strip()
    chat_id = str(form.get("chat_id", "")).strip()
    name = str(form.get("name", "")).strip()
    tags = _split_tags(form.get("tags"))
    store = request.app[STORE]
    problem = ""
    if platform not in request.app[BOT].adapters:
        problem = "请选择已启用的平台"
    elif not chat_id or len(chat_id) > 128 or any(ch.isspace() for ch in chat_id):
        problem = "请填写群 ID（平台上的群号，不含空格）"
    elif not name or len(name) > MAX_GROUP_NAME:
        problem = f"请填写群名称（最多 {MAX_GROUP_NAME} 个字）"
    elif await store.run(store.chats.get_chat, platform, chat_id) is not None:
        problem = f"群 {chat_id} 已存在，可直接修改它的名称和标签"
    if problem:
        flash(request, problem, "error")
        raise web.HTTPFound("/groups")
    await store.run(lambda: store.chats.upsert_chat(platform, chat_id, name=name, tags=sorted(set(tags))))
    await store.run(request.app[BOT].refresh_chats)
    await audit(request, "groups.create", f"{platform}:{chat_id}", {"name": name, "tags": tags})
    flash(request, f"已添加群「{name}」")
    raise web.HTTPFound("/groups")


@routes.post("/groups/rename")
@require_role("manager")
async def rename_group(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    platform, chat_id = str(form.get("platform", "")), str(form.get("chat_id", ""))
    name = str(form.get("name", "")).strip()
    store = request.app[STORE]
    chat = await store.run(store.chats.get_chat, platform, chat_id)
    if chat is None:
        raise web.HTTPNotFound(text="群聊不存在")
    if not name or len(name) > MAX_GROUP_NAME:
        flash(request, f"群名称不能为空，最多 {MAX_GROUP_NAME} 个字", "error")
        raise web.HTTPFound("/groups")
    await store.run(lambda: store.chats.upsert_chat(platform, chat_id, kind=chat["kind"], name=name))
    await store.run(request.app[BOT].refresh_chats)
    await audit(request, "groups.rename", f"{platform}:{chat_id}", {"before": {"name": chat["name"]},
                                                                      "after": {"name": name}})
    flash(request, f"已改名为「{name}」")
    raise web.HTTPFound("/groups")


AUDIT_PAGE_SIZE = 50


@routes.get("/audit")
@require_role("admin")
@aiohttp_jinja2.template("audit.html")
async def audit_log(request: web.Request) -> dict:
    """Who did what, when, to which object: filter by user, object type and date; 50 a page."""
    store = request.app[STORE]
    tz = request.app[SETTINGS].tz
    q = request.query
    actor = q.get("actor") or None
    action = q.get("action") or None
    error = ""
    bounds: dict[str, str | None] = {"since": None, "until": None}
    for key, shift in (("since", 0), ("until", 1)):
        if q.get(key):
            try:
                day = date.fromisoformat(q[key])
            except ValueError:
                error = "日期格式应为 YYYY-MM-DD"
                continue
            bounds[key] = iso(datetime.combine(day + timedelta(days=shift), time(), tzinfo=tz))
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    rows = await store.run(store.accounts.audit_entries, AUDIT_PAGE_SIZE + 1, actor, action,
                           since=bounds["since"], until=bounds["until"], offset=(page - 1) * AUDIT_PAGE_SIZE)
    facets = await store.run(store.accounts.audit_facets)
    query = {k: v for k, v in q.items() if k != "page" and v}
    return {"entries": [audit_row(r) for r in rows[:AUDIT_PAGE_SIZE]], "actor": actor or "",
            "action": action or "", "since": q.get("since", ""), "until": q.get("until", ""), "error": error,
            "actors": facets["actors"], "families": action_families(facets["actions"]),
            "page": page, "has_next": len(rows) > AUDIT_PAGE_SIZE, "query": urlencode(query)}


@routes.get("/users")
@require_role("admin")
@aiohttp_jinja2.template("users.html")
async def users(request: web.Request) -> dict:
    store = request.app[STORE]
    return {"users": await store.run(store.accounts.list_users), "roles": ROLES}


@routes.post("/users")
@require_role("admin")
async def users_change(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    op = str(form.get("op", ""))
    name = str(form.get("name", "")).strip()
    store = request.app[STORE]
    me = current_user(request)
    assert me is not None, "require_role let only a signed-in admin through"
    if op == "create":
        role, password = str(form.get("role", "")), str(form.get("password", ""))
        problem = username_problem(name)
        if problem:
            flash(request, problem, "error")
        elif role not in ROLE_RANK or len(password) < 8:
            flash(request, "请填写用户名、角色，密码至少 8 位", "error")
        elif not await store.run(store.accounts.add_user, name, hash_password(password), role):
            flash(request, f"用户 {name} 已存在", "error")
        else:
            await audit(request, "users.create", name, {"role": role})
            flash(request, f"已创建用户 {name}")
    elif op == "role":
        role = str(form.get("role", ""))
        if name == me["name"]:
            flash(request, "不能修改自己的角色", "error")
        elif role in ROLE_RANK and await store.run(store.accounts.set_role, name, role):
            await audit(request, "users.role", name, {"role": role})
            flash(request, f"已将 {name} 的角色改为{ROLE_LABELS.get(role, role)}")
    elif op in ("disable", "enable"):
        if name == me["name"]:
            flash(request, "不能停用自己", "error")
        elif await store.run(store.accounts.set_disabled, name, op == "disable"):
            await audit(request, f"users.{op}", name)
            flash(request, f"已{'停用' if op == 'disable' else '启用'} {name}")
    elif op == "password":
        password = str(form.get("password", ""))
        if len(password) < 8:
            flash(request, "密码至少 8 位", "error")
        elif await store.run(store.accounts.set_password, name, hash_password(password),
                             current_session_id(request) if name == me["name"] else None):
            # the user's other sessions (a stolen cookie among them) end with the old password
            await audit(request, "users.password", name)
            flash(request, f"已重置 {name} 的密码")
    else:
        raise web.HTTPBadRequest(text="未知操作")
    raise web.HTTPFound("/users")
