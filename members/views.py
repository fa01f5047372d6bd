"""Console pages: 成员 (the directory with search and filters) and a member's page (groups,
recent messages and their decisions, strikes, tags, notes; tag, note, export, delete)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.store.members import mute_end
from bot.web.auth import current_user, flash, require_role
from bot.web.keys import BOT, STORE
from members import service
from members.config import WHEN_LABELS
from members.service import MemberError, duration_text

routes = web.RouteTableDef()

# (label shown in the navigation, path, minimum role)
NAV: list[tuple[str, str, str]] = [("成员", "/members", "moderator")]

PAGE_SIZE = 50
STEP_LABELS = {"warn": "警告", "mute": "禁言", "kick": "移出", "recall": "撤回", "review": "待审核"}


def _actor(request: web.Request) -> str:
    user = current_user(request)
    return user["name"] if user else "anonymous"


def _rule_tags(request: web.Request) -> list[str]:
    bot = request.app.get(BOT)
    return [r.tag for r in bot.member_tags.rules] if bot is not None else []


def member_url(ref: str) -> str:
    return "/members/" + quote(ref, safe=":")


def _int(value: str, default: int = 0, low: int = 0, high: int = 10_000) -> int:
    try:
        return max(low, min(high, int(value)))
    except ValueError:
        return default


@routes.get("/members")
@require_role("moderator")
@aiohttp_jinja2.template("members/list.html")
async def member_list(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    q = request.query
    filters = {
        "q": q.get("q", "").strip()[:100], "group": q.get("group", "").strip(), "tag": q.get("tag", "").strip(),
        "muted": q.get("muted") == "1", "blacklisted": q.get("blacklisted") == "1",
        "silent": _int(q.get("silent", "0"), high=3650),
    }
    page = _int(q.get("page", "1"), 1, 1, 100_000)
    error = ""
    rows: list[dict[str, Any]] = []
    total = 0
    try:
        rows, total = await store.read(functools.partial(
            service.list_members, store, group=filters["group"], tag=filters["tag"], text=filters["q"],
            muted=filters["muted"], blacklisted=filters["blacklisted"], silent_days=filters["silent"],
            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, rule_tags=_rule_tags(request)))
    except MemberError as exc:
        error = str(exc)
    chats = await store.run(store.chats.list_chats)
    tags = sorted(set(await store.run(store.members.tag_counts)) | set(_rule_tags(request)))
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    keep = {k: ("1" if v is True else v) for k, v in filters.items() if v}

    def page_url(n: int) -> str:
        return "/members?" + urlencode({**keep, "page": n})

    return {"rows": rows, "total": total, "filters": filters, "page": page, "pages": pages, "error": error,
            "chats": chats, "tags": tags, "page_url": page_url, "member_url": member_url}


async def _member(request: web.Request) -> tuple[str, dict[str, Any]]:
    store = request.app[STORE]
    ref = request.match_info["ref"]
    try:
        data = await store.read(service.show, store, ref)
    except MemberError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    return data["ref"], data


@routes.get("/members/{ref}")
@require_role("moderator")
@aiohttp_jinja2.template("members/member.html")
async def member_page(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    ref, data = await _member(request)
    messages = await store.run(store.members.recent_messages, data["platform"], data["user_id"], 20)
    chat_names = {g["chat_id"]: g["chat_name"] or g["chat_id"] for g in data["group_details"]}
    for s in data["strike_history"]:
        step = s["step"].partition(":")[0]
        s["label"] = STEP_LABELS.get(step, step)
        end = mute_end(s)
        if end is not None:
            s["label"] += " " + duration_text((end - datetime.fromisoformat(s["time"])).total_seconds())
    user = current_user(request)
    return {"m": data, "ref": ref, "messages": messages, "chat_names": chat_names, "url": member_url(ref),
            "is_admin": bool(user and user["role"] == "admin"),
            "can_tag": bool(user and user["role"] in ("admin", "manager")), "when_labels": WHEN_LABELS}


async def _act(request: web.Request, fn: Any, *args: Any) -> Any:
    store = request.app[STORE]
    try:
        return await store.run(fn, store, *args)
    except MemberError as exc:
        flash(request, str(exc), "error")
        return None


async def _refresh_bot(request: web.Request) -> None:
    """The console's own changes reach the bot now, not at its next poll."""
    bot = request.app.get(BOT)
    if bot is not None:
        await bot.member_tags.refresh()


@routes.post("/members/{ref}/tags")
@require_role("manager")
async def member_tag(request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    form = await request.post()
    tag = str(form.get("tag", ""))
    if form.get("remove"):
        await _act(request, service.remove_tag, ref, tag, _actor(request))
    else:
        await _act(request, service.add_tag, ref, tag, _actor(request))
    await _refresh_bot(request)
    raise web.HTTPFound(member_url(ref))


@routes.post("/members/{ref}/notes")
@require_role("moderator")
async def member_note(request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    form = await request.post()
    if await _act(request, service.add_note, ref, str(form.get("text", "")), _actor(request)) is not None:
        flash(request, "已添加备注")
    raise web.HTTPFound(member_url(ref))


@routes.get("/members/{ref}/export")
@require_role("admin")
async def member_export(request: web.Request) -> web.Response:
    store = request.app[STORE]
    ref = request.match_info["ref"]
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise web.HTTPBadRequest(text="不支持的导出格式（可用 json 或 csv）")
    try:
        text = await store.read(service.export, store, ref, fmt)
    except MemberError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    await store.run(store.accounts.audit, _actor(request), "member.export", ref, {"format": fmt})
    safe = ref.replace(":", "_").replace("/", "_")
    body = ("\ufeff" + text) if fmt == "csv" else text
    return web.Response(
        body=body.encode("utf-8"), content_type="text/csv" if fmt == "csv" else "application/json", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="member-{quote(safe)}.{fmt}"'},
    )


@routes.post("/members/{ref}/delete")
@require_role("admin")
async def member_delete(request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    form = await request.post()
    if str(form.get("confirm", "")).strip() != ref:
        flash(request, f"确认内容不对：请输入成员编号 {ref} 以确认删除", "error")
        raise web.HTTPFound(member_url(ref))
    counts = await _act(request, service.delete, ref, _actor(request))
    if counts is not None:
        await _refresh_bot(request)
        flash(request, f"已删除 {ref} 的内容与个人信息（{counts['messages']} 条消息的文字；统计数与审计记录保留）")
    raise web.HTTPFound(member_url(ref))


@routes.get("/members/{ref}/trace/{uid}")
@require_role("moderator")
@aiohttp_jinja2.template("members/trace.html")
async def member_trace(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    ref, _ = await _member(request)
    uid = request.match_info["uid"]
    message = await store.run(store.messages.get, uid)
    if message is None or f"{message['platform']}:{message['sender_id']}" != ref:
        raise web.HTTPNotFound(text="消息不存在")
    decisions = await store.run(store.messages.decisions, uid)
    return {"ref": ref, "message": message, "decisions": decisions, "url": member_url(ref)}
