"""Console pages for members under moderation: the muted list (解除禁言), strike revoke, the
blacklist (黑名单, also as a JSON API for the member page) and the join-request queue.

Scoped accounts see and act on their groups only (muted list, joins, strikes); the
blacklist is brand-wide and needs an unscoped moderator.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth import audit, check_scope, current_user, flash, in_scope, require_role, scope_of
from bot.web.keys import ADAPTERS, BOT, SETTINGS, STORE
from moderation.guard import BadRef, add_entry, join_answer, remove_entry, staff_refs
from moderation.views_lexicon import routes

JOIN_STATUS = {"pending": "待审核", "approved": "已同意", "refused": "已拒绝"}


def _actor(request: web.Request) -> str:
    user = current_user(request)
    return user["name"] if user else "?"


def _self_ids(request: web.Request) -> dict[str, str]:
    ids = {}
    for name, adapter in request.app[ADAPTERS].items():
        self_id = getattr(adapter, "self_id", "")
        if self_id:
            ids[name] = str(self_id)
    return ids


def remaining(seconds: float) -> str:
    """A mute's time left in days / hours / minutes, never seconds."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} 天 {hours} 小时" if hours else f"{days} 天"
    if hours:
        return f"{hours} 小时"
    return f"{max(1, rest // 60)} 分钟"


# -- muted list -------------------------------------------------------------------------------

@routes.get("/moderation/muted")
@require_role("moderator", scoped=True)
@aiohttp_jinja2.template("moderation/muted.html")
async def muted_list(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    now = request.app[BOT].clock.now()
    rows = await store.run(store.guard.active_mutes, now)
    rows = [r for r in rows if in_scope(request, r["platform"], r["chat_id"])]
    for r in rows:
        left = (datetime_of(r["until"]) - now).total_seconds()
        r["left"] = remaining(left)
    return {"mutes": rows}


def datetime_of(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


@routes.post("/moderation/muted/{id:\\d+}/unmute")
@require_role("moderator", scoped=True)
async def unmute(request: web.Request) -> web.Response:
    store = request.app[STORE]
    mute = await store.run(store.guard.get_mute, int(request.match_info["id"]))
    if mute is None:
        raise web.HTTPNotFound(text="该禁言记录不存在")
    check_scope(request, mute["platform"], mute["chat_id"])
    bot = request.app[BOT]
    action = {"action": "unmute", "chat_id": mute["chat_id"], "member_id": mute["member_id"],
              "member_name": mute["member_name"], "actor": _actor(request)}
    if "mute" not in bot.capabilities(mute["platform"]):
        flash(request, "该平台不支持解除禁言，请在客户端操作", "error")
        raise web.HTTPFound("/moderation/muted")
    ok = await bot.perform(mute["platform"], action, source=f"unmute:{mute['id']}", occurrence="unmute")
    if not ok:
        # lifted here too: the row waits in the outbox (offline) or the platform refused; the audit says which
        await store.run(store.guard.lift_mute, mute["platform"], mute["chat_id"], mute["member_id"],
                        bot.clock.now(), _actor(request))
    await audit(request, "moderation.unmute", f"{mute['platform']}:{mute['chat_id']}:{mute['member_id']}",
                {"mute": mute["id"], "confirmed": ok})
    name = mute["member_name"] or mute["member_id"]
    flash(request, f"已解除 {name} 的禁言" if ok else f"已提交解除 {name} 的禁言，平台尚未确认（结果见审计日志）",
          "ok" if ok else "error")
    raise web.HTTPFound("/moderation/muted")


# -- strikes ----------------------------------------------------------------------------------

@routes.post("/moderation/strikes/{id:\\d+}/revoke")
@require_role("moderator", scoped=True)
async def revoke_strike(request: web.Request) -> web.Response:
    store = request.app[STORE]
    strike_id = int(request.match_info["id"])
    row = await store.run(store.guard.get_strike, strike_id)
    if row is None:
        raise web.HTTPNotFound(text="该违规记录不存在")
    check_scope(request, row["platform"], row["chat_id"])
    revoked = await store.run(store.guard.revoke_strike, strike_id)
    back = request.headers.get("Referer", "") or "/moderation/review"
    if revoked is None:
        flash(request, "该违规记录已撤销", "error")
    else:
        stage = request.app[BOT].moderation_stage
        stage.strikes.forget(row["platform"], row["chat_id"], row["member_id"])
        await audit(request, "moderation.strike.revoke", f"{row['platform']}:{row['chat_id']}:{row['member_id']}",
                    {"strike": strike_id, "step": row["step"]})
        flash(request, "已撤销该次违规，之后的处罚阶梯按剩余的有效违规计算")
    raise web.HTTPFound(back if back.startswith(("/", str(request.url.origin()))) else "/moderation/review")


# -- blacklist --------------------------------------------------------------------------------

@routes.get("/moderation/blacklist")
@require_role("moderator")
@aiohttp_jinja2.template("moderation/blacklist.html")
async def blacklist_page(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    return {"rows": await store.run(store.guard.blacklist)}


async def _add(request: web.Request, ref: str, reason: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of adding `ref`; the same for the form, the review page and the API."""
    store = request.app[STORE]
    settings = request.app[SETTINGS]
    staff = await store.run(staff_refs, store, settings.groups)
    try:
        added = await store.run(add_entry, store, ref, reason, _actor(request), staff=staff,
                                self_ids=_self_ids(request))
    except BadRef as exc:
        return 400, {"ok": False, "error": str(exc)}
    if not added:
        return 200, {"ok": True, "added": False, "message": f"{ref} 已在黑名单中"}
    gate = request.app[BOT].moderation_stage.gate
    await store.run(gate.blacklist.load)
    done = await gate.blacklist.enforce(ref.strip(), _actor(request))
    parts = [f"已将 {ref} 加入黑名单"]
    if done["kicked"]:
        parts.append(f"正在移出 {len(done['kicked'])} 个群")
    if done["skipped"]:
        parts.append(f"{len(done['skipped'])} 个群无法移出（{done['skipped'][0]['reason']}）")
    if done["refused_requests"]:
        parts.append(f"已拒绝 {len(done['refused_requests'])} 个入群申请")
    return 200, {"ok": True, "added": True, "message": "，".join(parts), **done}


def _no_scope(request: web.Request) -> None:
    """The blacklist is brand-wide: a scoped account may not change it."""
    if scope_of(request) is not None:
        raise web.HTTPForbidden(text="黑名单对全品牌生效，受限账号不能修改")


@routes.post("/moderation/blacklist")
@require_role("moderator")
async def blacklist_add(request: web.Request) -> web.Response:
    _no_scope(request)
    form = await request.post()
    status, body = await _add(request, str(form.get("ref", "")), str(form.get("reason", "")))
    flash(request, body.get("message") or body.get("error", ""), "ok" if status == 200 else "error")
    back = str(form.get("back", ""))
    raise web.HTTPFound(back if back.startswith("/moderation/") else "/moderation/blacklist")


@routes.post("/moderation/blacklist/remove")
@require_role("moderator")
async def blacklist_remove(request: web.Request) -> web.Response:
    _no_scope(request)
    form = await request.post()
    ref = str(form.get("ref", ""))
    store = request.app[STORE]
    try:
        removed = await store.run(remove_entry, store, ref, _actor(request))
    except BadRef as exc:
        flash(request, str(exc), "error")
        raise web.HTTPFound("/moderation/blacklist") from None
    if removed:
        await store.run(request.app[BOT].moderation_stage.gate.blacklist.load)
    flash(request, f"已将 {ref} 移出黑名单" if removed else f"{ref} 不在黑名单中", "ok" if removed else "error")
    raise web.HTTPFound("/moderation/blacklist")


@routes.post("/moderation/api/blacklist")
@require_role("moderator")
async def blacklist_api(request: web.Request) -> web.Response:
    """JSON {"ref": "onebot:10001", "reason": "…"} → {"ok", "added", "message", "kicked", "skipped", …}."""
    _no_scope(request)
    try:
        data = await request.json()
    except ValueError:
        return web.json_response({"ok": False, "error": "请求体应为 JSON"}, status=400)
    if not isinstance(data, dict) or not isinstance(data.get("ref"), str) \
            or not isinstance(data.get("reason", ""), str):
        return web.json_response({"ok": False, "error": "需要字段 ref（字符串）和 reason"}, status=400)
    status, body = await _add(request, data["ref"], data.get("reason", ""))
    return web.json_response(body, status=status)


@routes.post("/moderation/review/{id:\\d+}/blacklist")
@require_role("moderator")
async def blacklist_from_review(request: web.Request) -> web.Response:
    _no_scope(request)
    store = request.app[STORE]
    flag = await store.run(store.moderation.get_flag, int(request.match_info["id"]))
    if flag is None:
        raise web.HTTPNotFound(text="该条目不存在")
    form = await request.post()
    reason = str(form.get("reason", "")).strip() or f"审核：{flag['category']}"
    status, body = await _add(request, f"{flag['platform']}:{flag['member_id']}", reason)
    flash(request, body.get("message") or body.get("error", ""), "ok" if status == 200 else "error")
    raise web.HTTPFound(f"/moderation/review/{flag['id']}")


# -- join requests ----------------------------------------------------------------------------

@routes.get("/moderation/joins")
@require_role("moderator", scoped=True)
@aiohttp_jinja2.template("moderation/joins.html")
async def joins_page(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    status = request.query.get("status", "pending")
    rows = await store.run(store.guard.join_requests, status if status in JOIN_STATUS else None)
    rows = [r for r in rows if in_scope(request, r["platform"], r["chat_id"])]
    bot = request.app[BOT]
    for r in rows:
        r["chat_name"] = bot.chat_info(r["platform"], r["chat_id"])[0] or r["chat_id"]
    return {"rows": rows, "status": status, "labels": JOIN_STATUS}


@routes.post("/moderation/joins/{id:\\d+}/{decision:approve|refuse}")
@require_role("moderator", scoped=True)
async def joins_decide(request: web.Request) -> web.Response:
    store = request.app[STORE]
    req = await store.run(store.guard.get_join_request, int(request.match_info["id"]))
    if req is None:
        raise web.HTTPNotFound(text="该入群申请不存在")
    check_scope(request, req["platform"], req["chat_id"])
    form = await request.post()
    approve = request.match_info["decision"] == "approve"
    reason = "" if approve else (str(form.get("reason", "")).strip() or "管理员拒绝")
    bot = request.app[BOT]
    if not await store.run(store.guard.decide_join_request, req["id"], "approved" if approve else "refused",
                           _actor(request), bot.clock.now(), reason):
        flash(request, "该申请已被处理", "error")
        raise web.HTTPFound("/moderation/joins")
    ok = False
    if "join_answer" in bot.capabilities(req["platform"]):
        ok = await bot.perform(req["platform"], join_answer(req, approve, reason), source=f"join:{req['id']}",
                               occurrence="answer")
    await audit(request, "moderation.join." + ("approve" if approve else "refuse"),
                f"{req['platform']}:{req['chat_id']}:{req['member_id']}", {"request": req["id"], "confirmed": ok})
    verb = "同意" if approve else "拒绝"
    text = f"已{verb}入群申请" if ok else f"已记录为{verb}，平台尚未确认（结果见审计日志）"
    flash(request, text, "ok" if ok else "error")
    raise web.HTTPFound("/moderation/joins")


# -- account scopes (admin) ---------------------------------------------------------------------

@routes.get("/moderation/scopes")
@require_role("admin")
@aiohttp_jinja2.template("moderation/scopes.html")
async def scopes_page(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]

    def gather() -> list[dict[str, Any]]:
        users = [u for u in store.accounts.list_users() if u["role"] != "admin"]
        for u in users:
            groups, tags = store.guard.scope(u["name"]) or ([], [])
            u["groups"], u["tags"] = "，".join(groups), "，".join(tags)
        return users

    return {"users": await store.run(gather)}


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]


@routes.post("/moderation/scopes")
@require_role("admin")
async def scopes_save(request: web.Request) -> web.Response:
    form = await request.post()
    store = request.app[STORE]
    name = str(form.get("user", ""))
    user = await store.run(store.accounts.get_user, name)
    if user is None or user["role"] == "admin":
        flash(request, "只能限定审核员或运营账号的范围", "error")
        raise web.HTTPFound("/moderation/scopes")
    groups, tags = _split(str(form.get("groups", ""))), _split(str(form.get("tags", "")))
    await store.run(store.guard.set_scope, name, groups, tags)
    await audit(request, "accounts.scope", name, {"groups": groups, "tags": tags})
    flash(request, f"账号 {name} 的管理范围已更新" if groups or tags else f"账号 {name} 不再限定范围")
    raise web.HTTPFound("/moderation/scopes")


__all__ = ["remaining"]
