"""The simulator page: chat as any demo member in simulated groups, see the bot answer."""

from __future__ import annotations

import uuid

import aiohttp_jinja2
from aiohttp import web

from bot.adapters import safe_json
from bot.adapters.base import RecordingUnavailable
from bot.adapters.sim import PLATFORM, SimAdapter
from bot.kernel.events import ChatKind, EventType
from bot.web.auth import audit, require_role
from bot.web.keys import ADAPTERS, BOT, CLOCK, STORE

routes = web.RouteTableDef()

ERR_NO_SIM = "模拟器适配器未启用（config.toml 中 [adapters.sim] enabled = false）"
ERR_NO_CHAT = "模拟群不存在"
ERR_NO_MEMBER = "该成员不在群内"
ERR_EMPTY = "消息不能为空"
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
    current = request.query.get("chat") or (chats[0]["chat_id"] if chats else "")
    members = await store.run(store.chats.list_members, PLATFORM, current) if current else []
    return {"chats": chats, "current": current, "members": members}


@routes.get("/sim/api/chats/{chat_id}/messages")
@require_role("moderator")
async def sim_messages(request: web.Request) -> web.Response:
    store = request.app[STORE]
    chat_id = request.match_info["chat_id"]
    if await store.run(store.chats.get_chat, PLATFORM, chat_id) is None:
        raise web.HTTPNotFound(text=ERR_NO_CHAT)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise web.HTTPBadRequest(text="after 必须是整数") from None
    rows = await store.run(store.messages.chat_messages, PLATFORM, chat_id, after_rowid=after, limit=200)
    members = await store.run(store.chats.list_members, PLATFORM, chat_id)
    return web.json_response({
        "messages": [
            {"id": r["rowid_"], "uid": r["uid"], "direction": r["direction"], "sender": r["sender_name"],
             "sender_id": r["sender_id"], "text": r["text"], "time": r["time"], "status": r["status"],
             "type": r["type"]}
            for r in rows
        ],
        "members": [{"id": m["member_id"], "name": m["name"] + ("（群管理）" if m["is_moderator"] else "")}
                    for m in members],
    })


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
    if member is None or member["left_at"]:
        raise web.HTTPNotFound(text=ERR_NO_MEMBER)
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
