"""The simulator page: chat as any demo member in simulated groups, see the bot answer."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.adapters import safe_json
from bot.adapters.base import RecordingUnavailable
from bot.adapters.sim import PLATFORM, SimAdapter
from bot.adapters.sim_state import member_states
from bot.kernel.events import ChatKind, EventType
from bot.web.auth import audit, require_role
from bot.web.keys import ADAPTERS, BOT, CLOCK, SETTINGS, STORE

routes = web.RouteTableDef()

ERR_NO_SIM = "模拟器适配器未启用（config.toml 中 [adapters.sim] enabled = false）"
ERR_NO_CHAT = "模拟群不存在"
ERR_NO_MEMBER = "该成员不在群内"
ERR_EMPTY = "消息不能为空"
ERR_NO_MESSAGE = "没有找到这条消息"
ERR_DB = "数据库暂时无法写入（磁盘已满或被锁定），消息未丢失，请稍后重试"
MAX_SIM_TEXT = 100_000


def _sim(request: web.Request) -> SimAdapter:
    adapter = request.app[ADAPTERS].get(PLATFORM)
    if not isinstance(adapter, SimAdapter):
        raise web.HTTPNotFound(text=ERR_NO_SIM)
    return adapter


@routes.get("/sim")
@require_role("moderator")
@aiohttp_jinja2.template("simulator.html")
async def sim_page(request: web.Request) -> dict:
    _sim(request)
    store = request.app[STORE]
    chats = await store.run(store.chats.list_chats, PLATFORM, "group")
    privates = await _private_chats(request)
    private = request.query.get("private", "")
    if private:
        # a one-to-one chat (the bot's 【审核提醒】 to staff, private replies): read-only
        return {"chats": chats, "privates": privates, "private": private, "current": "", "members": [],
                "private_name": next((p["name"] for p in privates if p["id"] == private), private)}
    current = request.query.get("chat") or (chats[0]["chat_id"] if chats else "")
    members = await _members(request, current) if current else []
    return {"chats": chats, "privates": privates, "private": "", "current": current, "members": members}


async def _members(request: web.Request, chat_id: str) -> list[dict]:
    """Everyone who was in the chat, with whether they may post: a removed member stays listed
    (greyed out) so the speaker the moderator picked never silently changes."""
    store = request.app[STORE]
    rows = await store.run(store.chats.list_members, PLATFORM, chat_id, present_only=False)
    notices = await store.run(store.messages.system_notices, PLATFORM, chat_id)
    states = member_states(rows, notices, request.app[CLOCK].now(), request.app[SETTINGS].tz)
    # present members first (ordinary ones before moderators), then those who are gone
    return sorted(states, key=lambda m: m["state"] in ("removed", "left"))


async def _private_chats(request: web.Request) -> list[dict]:
    store = request.app[STORE]
    rows = await store.run(store.messages.private_chats, PLATFORM)
    names: dict[str, str] = {}
    for chat in await store.run(store.chats.list_chats, PLATFORM, "group"):
        for m in await store.run(store.chats.list_members, PLATFORM, chat["chat_id"], present_only=False):
            names.setdefault(m["member_id"], m["name"])
    return [{"id": r["chat_id"], "name": names.get(r["chat_id"]) or r["chat_id"], "count": r["n"]} for r in rows]


def _why_uid(row: dict) -> str | None:
    """The inbound message whose decision trace explains this row (itself, or what caused a reply/notice)."""
    if row["direction"] == "in":
        return row["uid"]
    raw = row.get("raw") or {}
    action = raw.get("action") or {}
    if action.get("message_uid"):
        return str(action["message_uid"])
    prefix, _, uid = str(raw.get("source", "")).partition(":")
    return uid if prefix in ("reply", "moderation", "action") and uid else None


def _message_json(r: dict) -> dict:
    return {"id": r["rowid_"], "uid": r["uid"], "direction": r["direction"], "sender": r["sender_name"],
            "sender_id": r["sender_id"], "text": r["text"], "time": r["time"], "status": r["status"],
            "type": r["type"], "why": _why_uid(r)}


def _after(request: web.Request) -> int:
    try:
        return int(request.query.get("after", "0"))
    except ValueError:
        raise web.HTTPBadRequest(text="after 必须是整数") from None


@routes.get("/sim/api/chats/{chat_id}/messages")
@require_role("moderator")
async def sim_messages(request: web.Request) -> web.Response:
    store = request.app[STORE]
    chat_id = request.match_info["chat_id"]
    if await store.run(store.chats.get_chat, PLATFORM, chat_id) is None:
        raise web.HTTPNotFound(text=ERR_NO_CHAT)
    rows = await store.run(store.messages.chat_messages, PLATFORM, chat_id, after_rowid=_after(request), limit=200)
    members = await _members(request, chat_id)
    return web.json_response({
        "messages": [_message_json(r) for r in rows if r["chat_kind"] != "private"],
        "members": [{**m, "name": m["name"] + ("（群管理）" if m["moderator"] else "")} for m in members],
    })


@routes.get("/sim/api/private/{member_id}/messages")
@require_role("moderator")
async def sim_private_messages(request: web.Request) -> web.Response:
    store = request.app[STORE]
    rows = await store.run(store.messages.chat_messages, PLATFORM, request.match_info["member_id"],
                           after_rowid=_after(request), limit=200)
    return web.json_response({"messages": [_message_json(r) for r in rows if r["chat_kind"] == "private"],
                              "members": []})


@routes.get("/sim/why/{uid}")
@require_role("moderator")
async def sim_why(request: web.Request) -> web.StreamResponse:
    """A message's decision trace, stage by stage (the console face of `qunbot why ID`)."""
    store = request.app[STORE]
    uid = request.match_info["uid"]
    message = await store.run(store.messages.get, uid)
    if message is None:
        raise web.HTTPNotFound(text=ERR_NO_MESSAGE)
    decisions = await store.run(store.messages.decisions, uid)
    data = {
        "message_id": uid, "chat_id": message["chat_id"], "sender": message["sender_name"],
        "time": message["time"], "text": message["text"], "status": message["status"],
        "decisions": [{k: d[k] for k in ("stage", "outcome", "reason", "detail", "elapsed_ms", "time")}
                      for d in decisions],
    }
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response(data)
    key = "private" if message["chat_kind"] == "private" else "chat"
    context = {"m": data, "stages": STAGE_LABELS, "outcomes": OUTCOME_LABELS,
               "back": f"/sim?{urlencode({key: message['chat_id']})}"}
    return aiohttp_jinja2.render_template("simulator_why.html", request, context)


# the pipeline's stages as a manager reads them
STAGE_LABELS = {
    "dedupe": "去重", "record": "记录", "moderation": "内容审核", "commands": "命令", "keywords": "关键词回复",
    "faq": "常见问题", "intake": "接收", "welcome": "入群欢迎", "recover": "重启后恢复",
}
OUTCOME_LABELS = {
    "pass": "通过", "passed": "通过", "recorded": "已记录", "blocked": "已处理", "held": "转人工审核",
    "flagged": "仅标记", "answered": "已回答", "replied": "已回复", "duplicate": "重复消息，跳过",
    "cooldown": "冷却中", "suggested": "给出建议", "feedback": "成员反馈", "dry-run": "试运行",
    "resumed": "已恢复", "welcome": "已欢迎",
}


async def _read(request: web.Request) -> dict:
    if request.content_type == "application/json":
        try:
            return safe_json.loads_object(await request.read())
        except safe_json.MalformedJson:
            raise web.HTTPBadRequest(text="请求体不是有效的 JSON 对象") from None
    return dict(await request.post())


@routes.post("/sim/api/send")
@require_role("moderator")
async def sim_send(request: web.Request) -> web.Response:
    sim = _sim(request)
    data = await _read(request)
    store = request.app[STORE]
    chat_id, member_id = str(data.get("chat_id", "")), str(data.get("member_id", ""))
    text = str(data.get("text", "")).strip()
    if not text:
        raise web.HTTPBadRequest(text=ERR_EMPTY)
    if len(text) > MAX_SIM_TEXT:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_SIM_TEXT, actual_size=len(text))
    chat = await store.run(store.chats.get_chat, PLATFORM, chat_id)
    if chat is None:
        raise web.HTTPNotFound(text=ERR_NO_CHAT)
    member = await store.run(store.chats.get_member, PLATFORM, chat_id, member_id)
    if member is None:
        raise web.HTTPNotFound(text=ERR_NO_MEMBER)
    # the platform refuses a removed or muted member's message, as a real group would
    notices = await store.run(store.messages.system_notices, PLATFORM, chat_id, 50, member_id=member_id)
    [state] = member_states([member], notices, request.app[CLOCK].now(), request.app[SETTINGS].tz)
    if not state["can_post"]:
        raise web.HTTPForbidden(text=f"{state['name']} {state['reason']}，不能发言")
    bot = request.app[BOT]
    bot_name = bot.settings.bot.name
    to_me = f"@{bot_name}" in text or bool(data.get("mention_bot"))
    event = sim.make_event(
        chat_id, ChatKind.GROUP, member_id, member["name"], text, time=request.app[CLOCK].now(),
        to_me=to_me, mentions=["bot"] if to_me else [], chat_name=chat["name"],
        attachments=[a for a in str(data.get("attachments", "")).split(",") if a],
    )
    try:
        await bot.submit(event)
    except RecordingUnavailable:
        raise web.HTTPServiceUnavailable(text=ERR_DB) from None
    return web.json_response({"message_id": event.uid}, status=202)


@routes.post("/sim/api/join")
@require_role("moderator")
async def sim_join(request: web.Request) -> web.Response:
    sim = _sim(request)
    data = await _read(request)
    store = request.app[STORE]
    chat_id, name = str(data.get("chat_id", "")), str(data.get("name", "")).strip()[:32]
    if not name:
        raise web.HTTPBadRequest(text="请填写新成员昵称")
    chat = await store.run(store.chats.get_chat, PLATFORM, chat_id)
    if chat is None:
        raise web.HTTPNotFound(text=ERR_NO_CHAT)
    member_id = "m_" + uuid.uuid4().hex[:8]
    event = sim.make_event(
        chat_id, ChatKind.GROUP, member_id, name, "", time=request.app[CLOCK].now(),
        type=EventType.MEMBER_JOIN, chat_name=chat["name"],
    )
    bot = request.app[BOT]
    await bot.submit(event)
    await audit(request, "sim.join", f"{chat_id}:{member_id}", {"name": name})
    return web.json_response({"member_id": member_id, "message_id": event.uid}, status=202)


@routes.post("/sim/api/leave")
@require_role("moderator")
async def sim_leave(request: web.Request) -> web.Response:
    sim = _sim(request)
    data = await _read(request)
    store = request.app[STORE]
    chat_id, member_id = str(data.get("chat_id", "")), str(data.get("member_id", ""))
    member = await store.run(store.chats.get_member, PLATFORM, chat_id, member_id)
    if member is None or member["left_at"]:
        raise web.HTTPNotFound(text=ERR_NO_MEMBER)
    event = sim.make_event(
        chat_id, ChatKind.GROUP, member_id, member["name"], "", time=request.app[CLOCK].now(),
        type=EventType.MEMBER_LEAVE,
    )
    await request.app[BOT].submit(event)
    return web.json_response({"message_id": event.uid}, status=202)
