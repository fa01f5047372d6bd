"""OneBot v11 / v12 over a real WebSocket and real HTTP, as an implementation would speak it."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.adapters.base import OutcomeUnknown
from bot.adapters.onebot_http import body_signature
from bot.kernel.actions import KICK, MUTE, RECALL
from bot.store import Store
from bot.web.app import create_app
from bot.web.keys import ADAPTERS, BOT, STORE
from tests.conftest import make_settings, wait_until

FIXTURES = Path(__file__).parent / "fixtures" / "onebot"
TOKEN = "onebot-access-token-xyz"
SECRET = "onebot-hmac-secret"


def payload(name: str, **changes) -> dict:
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def onebot_settings(tmp_path, **conf):
    base = {"enabled": True, "version": 11, "access_token": TOKEN, "secret": SECRET, "self_id": "10001"}
    return make_settings(tmp_path, bot={"demo": False}, adapters={"onebot": {**base, **conf}})


async def start(aiohttp_client, tmp_path, words: tuple[dict, ...] = (), **conf):
    """The real app; `words` go into the moderation lexicon before the bot starts."""
    settings = onebot_settings(tmp_path, **conf)
    store = Store(settings.database_path)
    store.lexicon.add_words(list(words))
    app = create_app(settings, store=store)
    app.on_cleanup.append(lambda app: _close(store))
    return await aiohttp_client(app)


async def _close(store: Store) -> None:
    store.close()


async def connect(client, protocols: tuple[str, ...] = (), **headers):
    base = {"Authorization": f"Bearer {TOKEN}", "X-Self-ID": "10001", "X-Client-Role": "Universal"}
    return await client.ws_connect("/onebot/ws", headers={**base, **headers}, protocols=protocols)


async def next_action(ws, timeout: float = 5.0) -> dict:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def answer(ws, action: dict, data: dict | None = None, retcode: int = 0) -> None:
    await ws.send_json({"status": "ok" if retcode == 0 else "failed", "retcode": retcode,
                        "data": data, "echo": action["echo"]})


# -- v11 reverse WebSocket ---------------------------------------------------------------

async def test_group_message_in_reply_out_over_the_socket(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    ws = await connect(client)
    await ws.send_json(payload("v11_lifecycle"))
    await ws.send_json(payload("v11_group_message_array"))
    action = await next_action(ws)
    assert action["action"] == "send_group_msg"
    assert action["params"]["group_id"] == 123456
    text = "".join(s["data"].get("text", "") for s in action["params"]["message"])
    assert text.startswith("可用命令")
    await answer(ws, action, {"message_id": 3001})
    store = client.app[STORE]
    message = store.messages.get("onebot:2001")
    assert message["sender_name"] == "小明-宝妈群" and message["text"] == "/help"
    await wait_until(lambda: any(r["platform_message_id"] == "3001" for r in store.outbound.list()))
    await ws.close()


async def test_flagged_message_is_recalled_and_sender_muted(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path, words=({"word": "代开发票", "category": "广告", "action": "mute"},))
    ws = await connect(client)
    await ws.send_json(payload("v11_group_message_cq", message="低价代开发票，私聊"))
    actions = {}
    while not {"delete_msg", "set_group_ban"} <= set(actions):
        action = await next_action(ws)
        actions[action["action"]] = action["params"]
        await answer(ws, action, {"message_id": 9})
    assert actions["delete_msg"] == {"message_id": 2002}
    seconds = int(client.app[BOT].settings.moderation.mute_duration)
    assert actions["set_group_ban"] == {"group_id": 123456, "user_id": 20003, "duration": seconds}
    await ws.close()


async def test_kick_and_unmute_use_v11_actions(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    ws = await connect(client)
    bot = client.app[BOT]
    task = asyncio.create_task(bot.perform("onebot", {"action": "kick", "chat_id": "123456", "member_id": "20003"}))
    kick = await next_action(ws)
    assert kick["action"] == "set_group_kick"
    assert kick["params"] == {"group_id": 123456, "user_id": 20003, "reject_add_request": False}
    await answer(ws, kick)
    assert await task is True
    task = asyncio.create_task(bot.perform("onebot", {"action": "unmute", "chat_id": "123456", "member_id": "20003"}))
    unmute = await next_action(ws)
    assert unmute["action"] == "set_group_ban" and unmute["params"]["duration"] == 0
    await answer(ws, unmute)
    assert await task is True
    await ws.close()


async def test_cq_string_message_is_parsed_into_text_and_attachments(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    ws = await connect(client)
    await ws.send_json(payload("v11_group_message_cq"))
    store = client.app[STORE]
    message = await wait_until(lambda: store.messages.get("onebot:2002"))
    assert message["text"] == "加我[V]领券"
    assert message["attachments"] == ["image", "miniprogram"]
    await ws.close()


async def test_join_and_leave_notices_update_members(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    ws = await connect(client)
    store = client.app[STORE]
    await ws.send_json(payload("v11_group_increase"))
    member = await wait_until(lambda: store.chats.get_member("onebot", "123456", "20005"))
    assert not member["left_at"]
    await ws.send_json(payload("v11_group_decrease"))
    await wait_until(lambda: store.chats.get_member("onebot", "123456", "20005")["left_at"])
    await ws.close()


async def test_private_message_is_to_me_and_answered_privately(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    ws = await connect(client)
    await ws.send_json(payload("v11_private_message", message="/help"))
    action = await next_action(ws)
    assert action["action"] == "send_private_msg" and action["params"]["user_id"] == 20004
    await answer(ws, action, {"message_id": 5})
    await ws.close()


async def test_heartbeat_and_connection_show_in_status_and_drop_is_logged(aiohttp_client, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    client = await start(aiohttp_client, tmp_path)
    adapter = client.app[ADAPTERS]["onebot"]
    ws = await connect(client)
    await ws.send_json(payload("v11_heartbeat"))
    await wait_until(lambda: adapter.status()["connections"] and adapter.status()["connections"][0]["last_heartbeat"])
    assert adapter.status()["connections"][0]["self_id"] == "10001"
    assert adapter.status()["connections"][0]["stale"] is False
    await ws.close()
    await wait_until(lambda: not adapter.status()["connections"])
    messages = [r.getMessage() for r in caplog.records]
    assert any("implementation connected" in m for m in messages)
    assert any("implementation disconnected" in m for m in messages)
    # it reconnects and works again
    ws = await connect(client)
    await wait_until(lambda: adapter.status()["connections"])
    await ws.close()


async def test_socket_without_the_access_token_is_refused(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/onebot/ws", headers={"Authorization": "Bearer wrong"})
    assert info.value.status == 401
    ws = await client.ws_connect(f"/onebot/ws?access_token={TOKEN}")
    assert not ws.closed
    await ws.close()


async def test_tokens_and_secret_never_in_logs_or_status(aiohttp_client, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    client = await start(aiohttp_client, tmp_path)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/onebot/ws?access_token=wrong-token-guess")
    ws = await client.ws_connect(f"/onebot/ws?access_token={TOKEN}")
    await ws.close()
    body = json.dumps(payload("v11_private_message", time=int(time.time()))).encode()
    await client.post("/onebot/http", data=body, headers=_signed(body, "bad"))
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "aiohttp.access")
    status = str(client.app[ADAPTERS]["onebot"].status())
    for secret in (TOKEN, SECRET, "wrong-token-guess"):
        assert secret not in logs and secret not in status


async def test_malformed_json_on_the_socket_is_ignored_not_fatal(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    ws = await connect(client)
    await ws.send_str("{not json")
    await ws.send_json(payload("v11_group_message_array"))
    action = await next_action(ws)
    assert action["action"] == "send_group_msg"
    await ws.close()


async def test_action_without_answer_times_out_as_outcome_unknown(aiohttp_client, tmp_path):
    """The frame went out: the implementation may have acted, so this is not a plain retry."""
    client = await start(aiohttp_client, tmp_path, action_timeout="0.2s")
    ws = await connect(client)
    await wait_until(lambda: client.app[ADAPTERS]["onebot"].connections)
    with pytest.raises(OutcomeUnknown):
        await client.app[ADAPTERS]["onebot"].call("send_group_msg", {"group_id": 1, "message": "x"})
    await ws.close()


# -- v11 HTTP POST and HTTP API ------------------------------------------------------------

def _signed(body: bytes, secret: str = SECRET) -> dict:
    return {"X-Signature": body_signature(secret, body), "Content-Type": "application/json", "X-Self-ID": "10001"}


async def test_http_post_with_valid_signature_is_recorded(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path)
    body = json.dumps(payload("v11_private_message", time=int(time.time()))).encode()
    resp = await client.post("/onebot/http", data=body, headers=_signed(body))
    assert resp.status == 204
    assert client.app[STORE].messages.exists("onebot:2003")


@pytest.mark.parametrize("case, status", [
    ("wrong signature", 401), ("no signature", 401), ("malformed json", 400), ("too large", 413),
    ("expired", 403), ("replayed", 409), ("message without ids", 400),
])
async def test_bad_http_post_is_refused(aiohttp_client, tmp_path, caplog, case, status):
    client = await start(aiohttp_client, tmp_path)
    body = json.dumps(payload("v11_private_message", time=int(time.time()))).encode()
    headers = _signed(body)
    if case == "wrong signature":
        headers = _signed(body, "another-secret")
    elif case == "no signature":
        del headers["X-Signature"]
    elif case == "malformed json":
        body = b"{\"post_type\": "
        headers = _signed(body)
    elif case == "too large":
        body = json.dumps({"post_type": "message", "message": "x" * 1_100_000}).encode()
        headers = _signed(body)
    elif case == "expired":
        body = json.dumps(payload("v11_private_message", time=int(time.time()) - 3600)).encode()
        headers = _signed(body)
    elif case == "replayed":
        assert (await client.post("/onebot/http", data=body, headers=headers)).status == 204
    elif case == "message without ids":
        broken = payload("v11_private_message", time=int(time.time()))
        del broken["user_id"]
        broken["sender"] = ["not", "a", "table"]
        body = json.dumps(broken).encode()
        headers = _signed(body)
    resp = await client.post("/onebot/http", data=body, headers=headers)
    assert resp.status == status
    assert any("onebot callback refused" in r.getMessage() for r in caplog.records)
    if case != "replayed":
        assert not client.app[STORE].messages.exists("onebot:2003")


async def test_actions_fall_back_to_http_api_without_a_socket(aiohttp_client, aiohttp_server, tmp_path):
    calls = []

    async def api(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        calls.append((request.match_info["action"], await request.json()))
        return web.json_response({"status": "ok", "retcode": 0, "data": {"message_id": 77}})

    impl = web.Application()
    impl.router.add_post("/{action}", api)
    server = await aiohttp_server(impl)
    client = await start(aiohttp_client, tmp_path, api_url=str(server.make_url("")).rstrip("/"))
    body = json.dumps(payload("v11_group_message_array", time=int(time.time()))).encode()
    assert (await client.post("/onebot/http", data=body, headers=_signed(body))).status == 204
    await wait_until(lambda: calls)
    action, params = calls[0]
    assert action == "send_group_msg" and params["group_id"] == 123456


# -- v12 -----------------------------------------------------------------------------------

async def test_v12_message_in_send_message_out_and_extension_kick(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path, version=12, self_id="wxid_bot",
                         extension_actions={"kick": "wx.delete_groupmember"})
    adapter = client.app[ADAPTERS]["onebot"]
    assert KICK in adapter.capabilities and RECALL in adapter.capabilities
    assert MUTE not in adapter.capabilities  # no standard mute in v12 and none configured
    ws = await connect(client, protocols=("12.ComWeChat",), **{"X-Self-ID": "wxid_bot"})
    assert ws.protocol == "12.ComWeChat"
    await ws.send_json(payload("v12_group_message"))
    action = await next_action(ws)
    assert action["action"] == "send_message"
    assert action["params"]["detail_type"] == "group" and action["params"]["group_id"] == "12467@chatroom"
    await answer(ws, action, {"message_id": "9001", "time": 1700000020.0})
    message = client.app[STORE].messages.get("onebot:6283")
    assert message["text"] == "/help"
    bot = client.app[BOT]
    assert await bot.perform("onebot", {"action": "mute", "chat_id": "12467@chatroom", "member_id": "x"}) is False
    task = asyncio.create_task(
        bot.perform("onebot", {"action": "kick", "chat_id": "12467@chatroom", "member_id": "wxid_member1"}))
    kick = await next_action(ws)
    assert kick["action"] == "wx.delete_groupmember"
    assert kick["params"] == {"group_id": "12467@chatroom", "user_id": "wxid_member1"}
    await answer(ws, kick)
    assert await task is True
    task = asyncio.create_task(bot.perform("onebot", {"action": "recall", "message_id": "6283"}))
    recall = await next_action(ws)
    assert recall == {**recall, "action": "delete_message", "params": {"message_id": "6283"}}
    await answer(ws, recall)
    assert await task is True
    await ws.close()


async def test_v12_webhook_needs_the_access_token(aiohttp_client, tmp_path):
    client = await start(aiohttp_client, tmp_path, version=12, self_id="wxid_bot")
    event = copy.deepcopy(payload("v12_member_increase"))
    event["time"] = time.time()
    body = json.dumps(event).encode()
    resp = await client.post("/onebot/http", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 401
    resp = await client.post("/onebot/http", data=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 204
    member = client.app[STORE].chats.get_member("onebot", "12467@chatroom", "wxid_new")
    assert member is not None and not member["left_at"]


def test_v11_declares_moderation_capabilities(tmp_path):
    from bot.adapters.config import OnebotSettings
    from bot.adapters.onebot import OnebotAdapter

    assert {MUTE, KICK, RECALL} <= OnebotAdapter(OnebotSettings(enabled=True)).capabilities
    v12 = OnebotAdapter(OnebotSettings(enabled=True, version=12, extension_actions={"mute": "x.ban"}))
    assert MUTE in v12.capabilities and KICK not in v12.capabilities


def test_at_segment_of_self_id_marks_message_to_me():
    from bot.adapters.onebot_events import v11_event, v12_event

    event = v11_event(payload("v11_group_message_array"), "10001")
    assert event.to_me and event.mentions == ["10001"] and event.text == "/help"
    other = v11_event(payload("v11_group_message_array", message="[CQ:at,qq=999] hi"), "10001")
    assert not other.to_me and other.mentions == ["999"]
    v12 = v12_event(payload("v12_group_message"), "")
    assert v12.to_me  # self id taken from the event's `self`
