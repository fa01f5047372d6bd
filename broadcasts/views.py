"""Console pages: compose → preview → create, approve, progress per target, retry, cancel; the
bulk-send accounts (budget used, circuit breaker) with a resume button."""

from __future__ import annotations

import random
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.store.wecom_contact import CUSTOMER_GROUP
from bot.web.auth import current_user, flash, require_role
from bot.web.keys import BOT, CLOCK, SETTINGS, STORE
from broadcasts import customer_groups, service
from broadcasts.compose import Composed, ComposeError, Draft, compose
from broadcasts.service import STATUS_LABELS, TARGET_LABELS, BroadcastError
from schedules.planner import known_chats

routes = web.RouteTableDef()

# (label shown in the navigation, path, minimum role)
NAV: list[tuple[str, str, str]] = [("群发", "/broadcasts", "manager")]
KIND_LABELS = {"text": "文字", "image": "图片", "link": "链接卡片"}
COMMON = {"status_labels": STATUS_LABELS, "target_labels": TARGET_LABELS, "kind_labels": KIND_LABELS}


def _user(request: web.Request) -> str:
    user = current_user(request)
    return user["name"] if user else "anonymous"


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.replace("，", ",").replace("\n", ",").split(",") if p.strip()]


def _draft(form: Any, by: str) -> Draft:
    kind = str(form.get("kind", "text"))
    return Draft(text=str(form.get("text", "")), tags=_split(str(form.get("tags", ""))),
                 groups=_split(str(form.get("groups", ""))), exclude=_split(str(form.get("exclude", ""))),
                 at=str(form.get("at", "")).replace("T", " "), kind=kind,
                 image=str(form.get("image", "")).strip(), url=str(form.get("url", "")).strip(),
                 title=str(form.get("title", "")).strip(), by=by,
                 member_tags=_split(str(form.get("member_tags", ""))))


async def _compose(request: web.Request, draft: Draft) -> Composed:
    bot = request.app[BOT]
    store = request.app[STORE]
    settings = request.app[SETTINGS]
    chats = known_chats(await store.run(store.chats.list_chats), settings)
    now = request.app[CLOCK].now()
    # the member directory, read off the event loop before composing
    known = await store.run(store.members.known_tags) if draft.member_tags else None
    people = await store.run(store.members.members_by_tag, draft.member_tags)
    composed = compose(draft, chats, bot.platforms(), settings.tz, now, random.Random(), bot.sending.estimate,
                       members=lambda tags: people, known_member_tags=known)
    return await store.run(customer_groups.admit, store, settings, composed, composed.send_at or now)


async def _index_page(request: web.Request, values: dict[str, str] | None = None,
                      errors: list[str] | None = None) -> dict[str, Any]:
    store = request.app[STORE]
    bot = request.app[BOT]
    rows = await store.run(service.listing, store)
    chats = known_chats(await store.run(store.chats.list_chats), request.app[SETTINGS])
    tags = sorted({t for c in chats for t in c.get("tags") or ()})
    member_tags = sorted(await store.run(store.members.known_tags))
    return {**COMMON, "rows": rows, "values": values or {"kind": "text"}, "errors": errors or [], "tags": tags,
            "member_tags": member_tags,
            "groups": sorted({c.get("name") or c["chat_id"] for c in chats
                              if (c.get("kind") or "group") in ("group", CUSTOMER_GROUP)}),
            "accounts": bot.sending.pacer.status(), "approval": request.app[SETTINGS].broadcast.approval,
            "sending": request.app[SETTINGS].sending}


@routes.get("/broadcasts")
@require_role("manager")
async def index(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("broadcasts/index.html", request, await _index_page(request))


@routes.post("/broadcasts/preview")
@require_role("manager")
async def preview(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    try:
        composed = await _compose(request, _draft(form, _user(request)))
    except ComposeError as exc:
        return aiohttp_jinja2.render_template("broadcasts/index.html", request,
                                              await _index_page(request, values, exc.errors), status=400)
    rows = composed.preview()
    finish = max((r["eta"] for r in rows if r["eta"]), default=None)
    return aiohttp_jinja2.render_template("broadcasts/preview.html", request, {
        **COMMON, "values": values, "rows": rows, "finish": finish, "send_at": composed.send_at,
        "approval": request.app[SETTINGS].broadcast.approval})


@routes.post("/broadcasts")
@require_role("manager")
async def create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    store = request.app[STORE]
    try:
        composed = await _compose(request, _draft(form, _user(request)))
    except ComposeError as exc:
        values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
        return aiohttp_jinja2.render_template("broadcasts/index.html", request,
                                              await _index_page(request, values, exc.errors), status=400)
    result = await store.run(service.create, store, composed, request.app[SETTINGS].broadcast.approval)
    request.app[BOT].broadcasts.wake()
    flash(request, f"已创建群发 #{result['id']}（{STATUS_LABELS[result['status']]}）", "ok")
    raise web.HTTPFound(f"/broadcasts/{result['id']}")


@routes.get(r"/broadcasts/{id:\d+}")
@require_role("manager")
async def detail(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        data = await store.run(service.show, store, int(request.match_info["id"]))
    except BroadcastError:
        raise web.HTTPNotFound(text="群发不存在") from None
    return aiohttp_jinja2.render_template("broadcasts/detail.html", request, {**COMMON, "b": data})


async def _act(request: web.Request, fn: Any, done: str) -> web.StreamResponse:
    store = request.app[STORE]
    bid = int(request.match_info["id"])
    try:
        result = await store.run(fn, store, bid, _user(request))
    except BroadcastError as exc:
        flash(request, str(exc), "error")
        raise web.HTTPFound(f"/broadcasts/{bid}") from None
    request.app[BOT].broadcasts.wake()
    flash(request, done.format(n=result if isinstance(result, int) else ""), "ok")
    raise web.HTTPFound(f"/broadcasts/{bid}")


@routes.post(r"/broadcasts/{id:\d+}/approve")
@require_role("admin")
async def approve(request: web.Request) -> web.StreamResponse:
    return await _act(request, service.approve, "已审批，开始按节奏发送")


@routes.post(r"/broadcasts/{id:\d+}/cancel")
@require_role("manager")
async def cancel(request: web.Request) -> web.StreamResponse:
    return await _act(request, service.cancel, "已取消，未发出的目标不再发送")


@routes.post(r"/broadcasts/{id:\d+}/retry")
@require_role("manager")
async def retry(request: web.Request) -> web.StreamResponse:
    return await _act(request, service.retry, "已重新排队 {n} 个失败或结果未知的目标")


@routes.post("/sending/resume")
@require_role("admin")
async def resume(request: web.Request) -> web.StreamResponse:
    platform = str((await request.post()).get("platform", ""))
    if platform not in request.app[BOT].adapters:
        raise web.HTTPBadRequest(text="未知的平台账号")
    was = await request.app[BOT].sending.resume(platform, _user(request))
    flash(request, f"已恢复 {platform} 账号的群发" if was else f"{platform} 账号的群发没有暂停", "ok")
    raise web.HTTPFound("/broadcasts")
