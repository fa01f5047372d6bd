"""Console pages of the moderation capability: the review queue (plus lexicon and allowlist pages).

Every decision (approve, confirm, bulk) is written to the audit log with who and when.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from bot.web.auth import audit, check_scope, current_user, flash, in_scope, require_role, scope_of
from bot.web.keys import BOT, CLOCK, STORE
from moderation.actions import action_text
from moderation.review import ReviewQueue
from moderation.rules import RULE_LABELS

# one route table for all moderation pages; the lexicon/allowlist handlers live in views_lexicon
from moderation.views_lexicon import categories, routes

# registers the muted list, blacklist and join-request pages on the same route table
from moderation import views_guard  # noqa: F401  isort: skip

# (label shown in the navigation, path, minimum role)
NAV: list[tuple[str, str, str]] = [
    ("审核队列", "/moderation/review", "moderator"),
    ("敏感词库", "/moderation/lexicon", "moderator"),
    ("白名单", "/moderation/allowlist", "moderator"),
    ("禁言名单", "/moderation/muted", "moderator"),
    ("黑名单", "/moderation/blacklist", "moderator"),
    ("入群申请", "/moderation/joins", "moderator"),
    ("账号管理范围", "/moderation/scopes", "admin"),
]
AGES = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}
STATUS_LABELS = {"pending": "待审核", "approved": "已放行", "confirmed": "已确认违规", "applied": "已自动处理"}


def highlight(text: str, hits: list[dict[str, Any]]) -> Markup:
    """The message as the member wrote it, with every matched span in <mark>."""
    spans = sorted({(h["start"], h["end"]) for h in hits if h.get("end", 0) > h.get("start", 0)})
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            start = pos
        if start >= end:
            continue
        out.append(escape(text[pos:start]))
        out.append(Markup("<mark>{}</mark>").format(text[start:end]))
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def _queue(request: web.Request) -> ReviewQueue:
    stage = request.app[BOT].moderation_stage
    return ReviewQueue(stage)


def _actor(request: web.Request) -> str:
    user = current_user(request)
    return user["name"] if user else "?"


MAX_MUTE_DAYS = 30  # the longest mute QQ and WeCom group tools allow


def rule_text(rule: str) -> str:
    """Which check matched, in words: a lexicon word, its pinyin, or one of the text rules."""
    return {"word": "敏感词", "pinyin": "敏感词（拼音）"}.get(rule, RULE_LABELS.get(rule, rule))


@routes.get("/moderation/review")
@require_role("moderator", scoped=True)
@aiohttp_jinja2.template("moderation/review_list.html")
async def review_list(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    scope = scope_of(request)
    q = request.query
    status = q.get("status", "pending")
    since = before = None
    now = request.app[CLOCK].now()
    age = q.get("age", "")
    if age in AGES:
        since = now - timedelta(seconds=AGES[age])
    elif age == "older":
        before = now - timedelta(days=1)
    flags = await store.run(lambda: store.moderation.list_flags(
        status=status if status != "all" else None, chat_id=q.get("group") or None,
        category=q.get("category") or None, since=since, before=before, limit=200 if scope is None else 2000))
    if scope is not None:
        flags = [f for f in flags if in_scope(request, f["platform"], f["chat_id"])][:200]
    for f in flags:
        f["marked"] = highlight(f["text"], f["hits"])
    facets: dict[str, Any] = await store.run(store.moderation.flag_facets)
    pending = await store.run(store.moderation.count_flags, "pending")
    if scope is not None:  # only the groups in scope, counted from what the account may see
        visible = {f["chat_id"] for f in flags}
        facets["chats"] = [c for c in facets["chats"]
                           if c["chat_id"] in visible or scope.covers(c["chat_id"], c["chat_name"])]
        pending = sum(f["status"] == "pending" for f in flags)
    return {"flags": flags, "q": q, "status": status, "facets": facets, "pending": pending,
            "status_labels": STATUS_LABELS, "action_text": action_text}


@routes.get("/moderation/review/{id:\\d+}")
@require_role("moderator", scoped=True)
@aiohttp_jinja2.template("moderation/review_detail.html")
async def review_detail(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    flag = await store.run(store.moderation.get_flag, int(request.match_info["id"]))
    if flag is None:
        raise web.HTTPNotFound(text="该条目不存在")
    check_scope(request, flag["platform"], flag["chat_id"])
    stage = request.app[BOT].moderation_stage
    key = (flag["platform"], flag["chat_id"], flag["member_id"])

    def gather() -> dict[str, Any]:
        return {
            "recent": store.messages.member_messages(*key, limit=10),
            "strikes": stage.strikes.history(*key),
            "flags": [f for f in store.moderation.member_flags(*key) if f["id"] != flag["id"]],
            "context": store.messages.chat_context(flag["platform"], flag["chat_id"], flag["time"]),
        }

    data = await store.run(gather)
    data["ladder_next"], data["active_strikes"] = await _queue(request).ladder_preview(flag)
    data["max_mute_days"] = MAX_MUTE_DAYS
    written = [flag["text"][h["start"]:h["end"]] for h in flag["hits"] if h.get("end", 0) > h.get("start", 0)]
    return {"flag": flag, "marked": highlight(flag["text"], flag["hits"]), "written": written,
            "categories": categories(request), "status_labels": STATUS_LABELS, "action_text": action_text,
            "rule_text": rule_text, **data}


async def _decide(request: web.Request, flag_id: int, decision: str, note: str = "", *, choice: str = "ladder",
                  mute_seconds: float | None = None) -> tuple[bool, str]:
    queue = _queue(request)
    if scope_of(request) is not None:
        store = request.app[STORE]
        flag = await store.run(store.moderation.get_flag, flag_id)
        if flag is not None:
            check_scope(request, flag["platform"], flag["chat_id"])
    if decision == "approve":
        result = await queue.approve(flag_id, _actor(request), note, request.app[BOT])
    else:
        result = await queue.confirm(flag_id, _actor(request), request.app[BOT], note, choice=choice,
                                     mute_seconds=mute_seconds)
    if result.ok:
        await audit(request, f"moderation.review.{decision}", str(flag_id),
                    {"note": note, "step": result.step, "actions": result.actions, "performed": result.performed})
    return result.ok, result.message


@routes.post("/moderation/review/{id:\\d+}/{decision:approve|confirm}")
@require_role("moderator", scoped=True)
async def review_decide(request: web.Request) -> web.Response:
    form = await request.post()
    flag_id = int(request.match_info["id"])
    choice = str(form.get("choice", "ladder"))
    mute_seconds = None
    if choice == "mute":
        try:
            days = float(str(form.get("mute_days", "")))
        except ValueError:
            days = 0
        if not 0 < days <= MAX_MUTE_DAYS:
            flash(request, f"禁言天数应在 1 到 {MAX_MUTE_DAYS} 天之间", "error")
            raise web.HTTPFound(f"/moderation/review/{flag_id}")
        mute_seconds = days * 86400
    ok, message = await _decide(request, flag_id, request.match_info["decision"], str(form.get("note", "")).strip(),
                                choice=choice, mute_seconds=mute_seconds)
    flash(request, message, "ok" if ok else "error")
    raise web.HTTPFound("/moderation/review")


@routes.post("/moderation/review/bulk")
@require_role("moderator", scoped=True)
async def review_bulk(request: web.Request) -> web.Response:
    form = await request.post()
    decision = str(form.get("decision", ""))
    ids = [int(str(v)) for v in form.getall("id", []) if str(v).isdigit()]
    if decision not in ("approve", "confirm") or not ids:
        flash(request, "请勾选条目并选择“放行”或“确认违规”", "error")
        raise web.HTTPFound("/moderation/review")
    done = 0
    for flag_id in ids:
        ok, _ = await _decide(request, flag_id, decision)
        done += ok
    label = "放行" if decision == "approve" else "确认违规"
    flash(request, f"已{label} {done} 条" + (f"，{len(ids) - done} 条已被他人处理" if done < len(ids) else ""), "ok")
    raise web.HTTPFound("/moderation/review")
