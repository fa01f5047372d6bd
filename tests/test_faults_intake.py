"""Platform callbacks at the edges: bodies that arrive in pieces, malformed and hostile input.

A real aiohttp server on 127.0.0.1 with the WeCom, 公众号 and OneBot adapters enabled; the
clients are a raw asyncio TCP client (to control how the body is split over TCP writes), an
aiohttp HTTP client and a OneBot implementation's WebSocket. Every request is built in the
platform's exact wire format: WXBizMsgCrypt envelopes (official sample keys), OneBot v11
events signed with X-Signature = sha1=HMAC-SHA1(secret, body).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web

from bot.adapters.callback_guard import MAX_JSON_BODY, MAX_XML_BODY, parse_xml
from bot.adapters.onebot_http import body_signature
from bot.adapters.wxcrypto import WxCrypto, plain_signature
from bot.web.app import create_app
from bot.web.keys import STORE
from tests.conftest import make_settings, wait_until

pytestmark = pytest.mark.faults

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "wechat" / "vectors.json").read_text(encoding="utf-8"))
WECOM = next(v for v in VECTORS if v["name"] == "wecom-official-sample-message")
MP = next(v for v in VECTORS if v["name"] == "mp-official-sample-message")
AGENT = "1000002"
ONEBOT_TOKEN = "onebot-access-token-xyz"
ONEBOT_SECRET = "onebot-hmac-secret"
PAUSE = 0.2  # between TCP writes: far longer than a loopback round trip


async def platform_api(request: web.Request) -> web.Response:
    """WeCom's and 公众号's APIs, reduced to "ok": replies the bot sends go nowhere."""
    return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": "T", "expires_in": 7200, "msgid": "m"})


@pytest.fixture
async def client(aiohttp_client, aiohttp_server, tmp_path):
    api = web.Application()
    api.router.add_route("*", "/{tail:.*}", platform_api)
    base = str((await aiohttp_server(api)).make_url(""))
    settings = make_settings(tmp_path, bot={"demo": False}, adapters={
        "wecom": {"enabled": True, "corp_id": WECOM["receive_id"], "agent_id": AGENT, "secret": "s",
                  "token": WECOM["token"], "encoding_aes_key": WECOM["encoding_aes_key"], "api_base": base},
        "mp": {"enabled": True, "app_id": MP["receive_id"], "app_secret": "s", "token": MP["token"],
               "encoding_aes_key": MP["encoding_aes_key"], "api_base": base, "reply_wait": "0s"},
        "onebot": {"enabled": True, "version": 11, "access_token": ONEBOT_TOKEN, "secret": ONEBOT_SECRET,
                   "self_id": "10001"},
    })
    return await aiohttp_client(create_app(settings))


# -- requests in each platform's wire format -----------------------------------------------

_ids = iter(range(7_000_000, 9_000_000, 7))


def now() -> str:
    return str(int(time.time()))


def onebot_event(message_id: int, size: int = 0) -> bytes:
    """A v11 group message, padded to `size` bytes with a card segment (as big cards are)."""
    event: dict[str, Any] = {
             "time": int(time.time()), "self_id": 10001, "post_type": "message", "message_type": "group",
             "sub_type": "normal", "message_id": message_id, "group_id": 123456, "user_id": 20002,
             "message": [{"type": "text", "data": {"text": "团购什么时候开始"}},
                         {"type": "json", "data": {"data": ""}}],
             "sender": {"user_id": 20002, "nickname": "小明"}}
    body = json.dumps(event, ensure_ascii=False).encode()
    event["message"][1]["data"]["data"] = "x" * max(0, size - len(body))
    return json.dumps(event, ensure_ascii=False).encode()


def onebot_post(body: bytes) -> bytes:
    """The request head a OneBot v11 implementation sends for an HTTP POST event."""
    return (f"POST /onebot/http HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Self-ID: 10001\r\nX-Signature: {body_signature(ONEBOT_SECRET, body)}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()


def wecom_plain(msg_id: str, padding: int = 0) -> str:
    return (f"<xml><ToUserName><![CDATA[{WECOM['receive_id']}]]></ToUserName><FromUserName><![CDATA[zhangsan]]>"
            f"</FromUserName><CreateTime>{now()}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[团购什么时候开始]]></Content><MsgId>{msg_id}</MsgId><AgentID>{AGENT}</AgentID>"
            f"<Padding>{'x' * padding}</Padding></xml>")


def wecom_envelope(plain: str, ts: str | None = None, outer_size: int = 0) -> tuple[dict[str, str], bytes]:
    """A WeCom POST: query string and <xml><Encrypt>, whitespace-padded to `outer_size` bytes."""
    ts, nonce = ts or now(), str(next(_ids))
    env = parse_xml(WxCrypto("wecom", WECOM["token"], WECOM["encoding_aes_key"], WECOM["receive_id"])
                    .encrypt_reply(plain, nonce, ts))
    body = (f"<xml><ToUserName><![CDATA[{WECOM['receive_id']}]]></ToUserName><Encrypt><![CDATA["
            f"{env['Encrypt']}]]></Encrypt><AgentID><![CDATA[{AGENT}]]></AgentID>").encode()
    body += b" " * max(0, outer_size - len(body) - len(b"</xml>")) + b"</xml>"
    return {"msg_signature": env["MsgSignature"], "timestamp": ts, "nonce": nonce}, body


def wecom_body_of_size(msg_id: str, size: int) -> tuple[dict[str, str], bytes]:
    """An encrypted WeCom message of exactly `size` bytes (the ciphertext is most of it);
    size 0: the smallest, an ordinary text message (~700 bytes)."""
    if not size:
        return wecom_envelope(wecom_plain(msg_id))
    padding = max(0, (size - 400) * 3 // 4 - 300)
    while True:
        params, body = wecom_envelope(wecom_plain(msg_id, padding), outer_size=size)
        if len(body) == size:
            return params, body
        padding -= len(body) - size


def mp_envelope(plain: str, ts: str | None = None) -> tuple[dict[str, str], bytes]:
    """A 公众号 safe-mode POST: signature, msg_signature, encrypt_type=aes, <xml><Encrypt>."""
    ts, nonce = ts or now(), str(next(_ids))
    env = parse_xml(WxCrypto("mp", MP["token"], MP["encoding_aes_key"], MP["receive_id"])
                    .encrypt_reply(plain, nonce, ts))
    params = {"signature": plain_signature(MP["token"], ts, nonce), "timestamp": ts, "nonce": nonce,
              "openid": "oUser", "encrypt_type": "aes", "msg_signature": env["MsgSignature"]}
    body = f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    return params, body.encode()


def mp_plain(msg_id: str) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>"
            f"<CreateTime>{now()}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[你好]]></Content><MsgId>{msg_id}</MsgId></xml>")


def wx_post(path: str, params: dict[str, str], body: bytes) -> bytes:
    return (f"POST {path}?{urlencode(params)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()


async def send_in_pieces(client, head: bytes, body: bytes, cuts: tuple[float, ...] = (0.5,)) -> int:
    """Write the head with the body's first piece, then each further piece after PAUSE, as a
    slow network or a streaming proxy delivers it; returns the response's status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        points = [0, *(int(len(body) * c) for c in cuts), len(body)]
        pieces = [body[a:b] for a, b in itertools.pairwise(points)]
        writer.write(head + pieces[0])
        await writer.drain()
        for piece in pieces[1:]:
            await asyncio.sleep(PAUSE)
            try:
                writer.write(piece)
                await writer.drain()
            except ConnectionError:
                break  # the server answered early (413) and closed: read what it said
        status_line = await asyncio.wait_for(reader.readline(), 10)
        await asyncio.wait_for(reader.read(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()


# -- defect 1: a signed body that arrives in pieces is accepted ----------------------------

@pytest.mark.parametrize("size", [500, 64 * 1024, 600 * 1024, MAX_JSON_BODY])
async def test_signed_onebot_post_arriving_in_pieces_is_accepted_and_recorded(client, size):
    message_id = next(_ids)
    body = onebot_event(message_id, size)
    assert abs(len(body) - size) < 16
    status = await send_in_pieces(client, onebot_post(body), body, cuts=(0.3, 0.7))
    assert status == 204
    assert client.app[STORE].messages.get(f"onebot:{message_id}") is not None


@pytest.mark.parametrize("size", [0, 32 * 1024, MAX_XML_BODY])
async def test_wecom_callback_arriving_in_pieces_is_accepted_and_recorded(client, size):
    msg_id = str(next(_ids))
    params, body = wecom_body_of_size(msg_id, size)
    status = await send_in_pieces(client, wx_post("/wecom/callback", params, body), body, cuts=(0.3, 0.7))
    assert status == 200
    assert client.app[STORE].messages.get(f"wecom:{msg_id}") is not None


async def test_mp_callback_arriving_in_pieces_is_accepted_and_recorded(client):
    msg_id = str(next(_ids))
    params, body = mp_envelope(mp_plain(msg_id))
    status = await send_in_pieces(client, wx_post("/mp/callback", params, body), body)
    assert status == 200
    assert client.app[STORE].messages.get(f"mp:{msg_id}") is not None


async def test_signed_bodies_one_byte_over_the_limit_are_413(client):
    body = onebot_event(next(_ids), MAX_JSON_BODY + 1)
    body += b" " * (MAX_JSON_BODY + 1 - len(body))
    assert await send_in_pieces(client, onebot_post(body), body, cuts=(0.5,)) == 413
    params, body = wecom_body_of_size(str(next(_ids)), MAX_XML_BODY + 1)
    assert await send_in_pieces(client, wx_post("/wecom/callback", params, body), body) == 413


async def test_chunked_body_past_the_limit_is_413_without_reading_it_all(client):
    """No Content-Length: the guard stops reading at the limit instead of buffering everything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(b"POST /onebot/http HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"X-Signature: sha1=00\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"[" * 64 * 1024)
    answer = asyncio.create_task(reader.readline())
    sent = 0
    try:
        while sent < 8 * MAX_JSON_BODY and not answer.done():  # the answer comes long before
            writer.write(chunk)
            await writer.drain()
            sent += 64 * 1024
            await asyncio.sleep(0.01)
    except ConnectionError:
        pass  # the server closed after answering
    status_line = await asyncio.wait_for(answer, 10)
    writer.close()
    assert int(status_line.split()[1]) == 413
    assert sent < 4 * MAX_JSON_BODY


# -- defect 8: malformed input is a 4xx and one log line, never a 500 ------------------------

def _signed_wecom(ts: str) -> tuple[dict[str, str], bytes]:
    return wecom_envelope(wecom_plain(str(next(_ids))), ts=ts)


def _signed_mp(ts: str) -> tuple[dict[str, str], bytes]:
    return mp_envelope(mp_plain(str(next(_ids))), ts=ts)


def _unsigned(params: dict[str, str], body: bytes, **changes: str) -> tuple[dict[str, str], bytes]:
    return {**params, **changes}, body


def _wecom_garbage_signed() -> tuple[dict[str, str], bytes]:
    ts, nonce, encrypt = now(), str(next(_ids)), "bm90IGNpcGhlcnRleHQ="
    sig = plain_signature(WECOM["token"], ts, nonce, encrypt)
    return ({"msg_signature": sig, "timestamp": ts, "nonce": nonce},
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode())


def _wecom_get(ts: str, signed: bool) -> tuple[dict[str, str], bytes]:
    crypto = WxCrypto("wecom", WECOM["token"], WECOM["encoding_aes_key"], WECOM["receive_id"])
    echostr, nonce = crypto.encrypt("5927782489442352469"), "1"
    sig = plain_signature(WECOM["token"], ts, nonce, echostr) if signed else "0" * 40
    return {"msg_signature": sig, "timestamp": ts, "nonce": nonce, "echostr": echostr}, b""


def _mp_get(ts: str, signed: bool) -> tuple[dict[str, str], bytes]:
    sig = plain_signature(MP["token"], ts, "1") if signed else "0" * 40
    return {"signature": sig, "timestamp": ts, "nonce": "1", "echostr": "e"}, b""


def _onebot(body: bytes | str) -> tuple[dict[str, str], bytes]:
    body = body.encode() if isinstance(body, str) else body
    return {"X-Signature": body_signature(ONEBOT_SECRET, body)}, body


def _onebot_event(**changes) -> tuple[dict[str, str], bytes]:
    event = json.loads(onebot_event(next(_ids)))
    event.update(changes)
    return _onebot(json.dumps(event))


def _onebot_raw_time(value: str) -> tuple[dict[str, str], bytes]:
    """Python's json writes NaN / Infinity; a number like 1e400 has to be written by hand."""
    event = json.dumps({**json.loads(onebot_event(next(_ids))), "time": "TIME"})
    return _onebot(event.replace('"TIME"', value))


NESTED = '{"a":' * 5000 + "1" + "}" * 5000

# (name, method, path, build() -> (query params or headers, body)); all signed unless the name says not
MALFORMED = [
    ("wecom POST timestamp=inf unsigned", "POST", "/wecom/callback",
     lambda: _unsigned(*_signed_wecom(now()), timestamp="inf")),
    ("wecom POST timestamp=1e400 unsigned", "POST", "/wecom/callback",
     lambda: _unsigned(*_signed_wecom(now()), timestamp="1e400")),
    ("wecom POST timestamp=nan unsigned", "POST", "/wecom/callback",
     lambda: _unsigned(*_signed_wecom(now()), timestamp="nan")),
    ("wecom POST timestamp=nan", "POST", "/wecom/callback", lambda: _signed_wecom("nan")),
    ("wecom POST timestamp=inf", "POST", "/wecom/callback", lambda: _signed_wecom("inf")),
    ("wecom POST timestamp=-1", "POST", "/wecom/callback", lambda: _signed_wecom("-1")),
    ("wecom POST timestamp with a space", "POST", "/wecom/callback", lambda: _signed_wecom(" " + now())),
    ("wecom POST timestamp in full-width digits", "POST", "/wecom/callback",
     lambda: _signed_wecom(now().translate(str.maketrans("0123456789", "０１２３４５６７８９")))),
    ("wecom POST timestamp of 400 digits", "POST", "/wecom/callback", lambda: _signed_wecom("9" * 400)),
    ("wecom POST empty body", "POST", "/wecom/callback", lambda: (_signed_wecom(now())[0], b"")),
    ("wecom POST not XML", "POST", "/wecom/callback", lambda: (_signed_wecom(now())[0], b"\xff\xfe{]")),
    ("wecom POST nested XML", "POST", "/wecom/callback",
     lambda: (_signed_wecom(now())[0], b"<xml>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</xml>")),
    ("wecom POST unknown XML encoding", "POST", "/wecom/callback", lambda: (
        _signed_wecom(now())[0], b'<?xml version="1.0" encoding="foo"?><xml><Encrypt>a</Encrypt></xml>')),
    ("wecom POST multi-byte XML encoding", "POST", "/wecom/callback", lambda: (
        _signed_wecom(now())[0], b'<?xml version="1.0" encoding="gbk"?><xml><Encrypt>\xc4\xe3</Encrypt></xml>')),
    ("mp POST unknown XML encoding", "POST", "/mp/callback", lambda: (
        _signed_mp(now())[0], b'<?xml version="1.0" encoding="utf-7"?><xml><Encrypt>a</Encrypt></xml>')),
    ("wecom POST Encrypt with children", "POST", "/wecom/callback",
     lambda: (_signed_wecom(now())[0], b"<xml><Encrypt><a>1</a></Encrypt></xml>")),
    ("wecom POST signed garbage ciphertext", "POST", "/wecom/callback", _wecom_garbage_signed),
    ("wecom POST signed nested plaintext", "POST", "/wecom/callback", lambda: wecom_envelope(
        wecom_plain(str(next(_ids))).replace("</xml>", "<a>" * 3000 + "</a>" * 3000 + "</xml>"))),
    ("wecom GET timestamp=inf unsigned", "GET", "/wecom/callback", lambda: _wecom_get("inf", False)),
    ("wecom GET timestamp=1e400", "GET", "/wecom/callback", lambda: _wecom_get("1e400", True)),
    ("wecom GET timestamp=nan", "GET", "/wecom/callback", lambda: _wecom_get("nan", True)),
    ("mp POST timestamp=inf unsigned", "POST", "/mp/callback",
     lambda: _unsigned(*_signed_mp(now()), timestamp="inf")),
    ("mp POST timestamp=1e400 unsigned", "POST", "/mp/callback",
     lambda: _unsigned(*_signed_mp(now()), timestamp="1e400")),
    ("mp POST timestamp=nan", "POST", "/mp/callback", lambda: _signed_mp("nan")),
    ("mp POST timestamp=-inf", "POST", "/mp/callback", lambda: _signed_mp("-inf")),
    ("mp POST timestamp=1e400", "POST", "/mp/callback", lambda: _signed_mp("1e400")),
    ("mp POST not XML", "POST", "/mp/callback", lambda: (_signed_mp(now())[0], b"{}")),
    ("mp GET timestamp=inf unsigned", "GET", "/mp/callback", lambda: _mp_get("inf", False)),
    ("mp GET timestamp=nan", "GET", "/mp/callback", lambda: _mp_get("nan", True)),
    ("mp GET timestamp=1e400", "GET", "/mp/callback", lambda: _mp_get("1e400", True)),
    ("onebot time=NaN", "POST", "/onebot/http", lambda: _onebot_raw_time("NaN")),
    ("onebot time=Infinity", "POST", "/onebot/http", lambda: _onebot_raw_time("Infinity")),
    ("onebot time=-Infinity", "POST", "/onebot/http", lambda: _onebot_raw_time("-Infinity")),
    ("onebot time=1e400", "POST", "/onebot/http", lambda: _onebot_raw_time("1e400")),
    ("onebot time=1e300", "POST", "/onebot/http", lambda: _onebot_raw_time("1e300")),
    ("onebot time of 400 digits", "POST", "/onebot/http", lambda: _onebot_raw_time("9" * 400)),
    ("onebot time of 5000 digits", "POST", "/onebot/http", lambda: _onebot_raw_time("9" * 5000)),
    ("onebot time=-1", "POST", "/onebot/http", lambda: _onebot_event(time=-1)),
    ("onebot NaN elsewhere", "POST", "/onebot/http", lambda: _onebot('{"post_type": "notice", "x": NaN}')),
    ("onebot nested object", "POST", "/onebot/http", lambda: _onebot(NESTED)),
    ("onebot nested unclosed", "POST", "/onebot/http", lambda: _onebot('{"a":' * 5000)),
    ("onebot nested array", "POST", "/onebot/http", lambda: _onebot("[" * 100_000)),
    ("onebot nested inside message", "POST", "/onebot/http",
     lambda: _onebot_raw_time(str(int(time.time())) + ', "message": ' + "[" * 3000 + "]" * 3000)),
    ("onebot array body", "POST", "/onebot/http", lambda: _onebot("[1, 2]")),
    ("onebot empty body", "POST", "/onebot/http", lambda: _onebot(b"")),
    ("onebot not UTF-8", "POST", "/onebot/http", lambda: _onebot(b'{"a": "\xff\xfe"}')),
    ("onebot message_id missing", "POST", "/onebot/http", lambda: _onebot_event(message_id=None)),
    ("onebot user_id an object", "POST", "/onebot/http", lambda: _onebot_event(user_id={"a": 1})),
    ("onebot unsigned", "POST", "/onebot/http", lambda: ({"X-Signature": "sha1=" + "0" * 40}, NESTED.encode())),
    ("onebot non-ASCII signature", "POST", "/onebot/http", lambda: ({"X-Signature": "sha1=签名"}, b"{}")),
    ("mp POST non-ASCII signature", "POST", "/mp/callback",
     lambda: _unsigned(*_signed_mp(now()), signature="签名")),
    ("mp GET non-ASCII signature", "GET", "/mp/callback",
     lambda: ({**_mp_get(now(), True)[0], "signature": "签名"}, b"")),
    ("wecom POST non-ASCII msg_signature", "POST", "/wecom/callback",
     lambda: _unsigned(*_signed_wecom(now()), msg_signature="签名")),
    ("wecom POST non-ASCII nonce", "POST", "/wecom/callback", lambda: _unsigned(*_signed_wecom(now()), nonce="随机")),
]


def _problems(records: list[logging.LogRecord]) -> list[str]:
    """Tracebacks and aiohttp's 'Error handling request' lines: what a 500 leaves behind."""
    return [f"{r.name}: {r.getMessage()}" for r in records
            if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("name, method, path, build", MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_input_is_refused_with_a_4xx_and_one_log_line(client, caplog, name, method, path, build):
    first, body = build()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        if path == "/onebot/http":
            resp = await client.request(method, path, data=body, headers={**first, "Content-Type": "application/json"})
        else:
            resp = await client.request(method, path, params=first, data=body or None)
        await resp.read()
    assert 400 <= resp.status < 500, (name, resp.status)
    assert _problems(caplog.records) == []
    refusals = [r for r in caplog.records if r.name.startswith("qunbot") and r.levelno >= logging.WARNING]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]


async def test_signed_nan_timestamp_does_not_slip_through_the_replay_window(client):
    """NaN compares false with everything: `abs(now - nan) > window` used to let it in."""
    msg_id = str(next(_ids))
    params, body = wecom_envelope(wecom_plain(msg_id), ts="nan")
    assert (await client.post("/wecom/callback", params=params, data=body)).status == 400
    params, body = mp_envelope(mp_plain(msg_id), ts="nan")
    assert (await client.post("/mp/callback", params=params, data=body)).status == 400
    store = client.app[STORE]
    assert store.messages.get(f"wecom:{msg_id}") is None and store.messages.get(f"mp:{msg_id}") is None


async def test_a_valid_request_still_passes_after_the_fuzz(client):
    params, body = wecom_envelope(wecom_plain(msg_id := str(next(_ids))))
    assert (await client.post("/wecom/callback", params=params, data=body)).status == 200
    headers, body = _onebot(onebot_event(message_id := next(_ids)))
    assert (await client.post("/onebot/http", data=body, headers=headers)).status == 204
    store = client.app[STORE]
    assert store.messages.get(f"wecom:{msg_id}") and store.messages.get(f"onebot:{message_id}")


async def test_socket_with_a_non_ascii_token_is_refused_not_a_500(client, caplog):
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="}
    with caplog.at_level(logging.INFO):
        for token in ("Bearer 令牌", "Token 令牌"):
            resp = await client.get("/onebot/ws", headers={**upgrade, "Authorization": token})
            assert resp.status == 401
        resp = await client.get("/onebot/ws?access_token=令牌", headers=upgrade)
        assert resp.status == 401
    assert _problems(caplog.records) == []


# -- defect 8 on the socket: a bad frame is ignored, the socket and its pending actions live on

BAD_FRAMES = [
    NESTED,
    '{"a":' * 5000,
    "[" * 200_000,
    '{"post_type": "message", "message_type": "group", "time": NaN, "message_id": 1}',
    '{"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": Infinity}',
    '{"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 1e400}',
    '{"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": ' + "9" * 400 + "}",
    '{"echo": "qunbot-1", "status": "ok", "retcode": 0, "data": ' + "[" * 1000 + "]" * 1000 + "}",
    "Infinity",
    "not json",
]


async def test_bad_frames_leave_the_socket_up_and_the_pending_action_completes(client, caplog):
    ws = await client.ws_connect("/onebot/ws", headers={
        "Authorization": f"Bearer {ONEBOT_TOKEN}", "X-Self-ID": "10001", "X-Client-Role": "Universal"})
    event = json.loads(onebot_event(next(_ids)))
    event["message"] = [{"type": "at", "data": {"qq": "10001"}}, {"type": "text", "data": {"text": " /help"}}]
    await ws.send_json(event)
    msg = await asyncio.wait_for(ws.receive(), 5)
    action = json.loads(msg.data)
    assert action["action"] == "send_group_msg"  # pending until answered
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for frame in BAD_FRAMES:
            await ws.send_str(frame)
        await ws.send_json({"status": "ok", "retcode": 0, "data": {"message_id": 3001}, "echo": action["echo"]})
        store = client.app[STORE]
        await wait_until(lambda: any(r["platform_message_id"] == "3001" for r in store.outbound.list()))
        # and the socket still takes events
        later = next(_ids)
        await ws.send_json(json.loads(onebot_event(later)))
        await wait_until(lambda: store.messages.get(f"onebot:{later}") is not None)
    assert not ws.closed
    assert _problems(caplog.records) == []
    ignored = [r for r in caplog.records if r.getMessage().startswith("OneBot frame ignored")]
    assert len(ignored) == len(BAD_FRAMES) - 1  # the heartbeat with a 400-digit interval is JSON: taken
    await ws.close()


async def test_with_only_a_secret_the_socket_is_closed_to_everyone(aiohttp_client, tmp_path):
    """v11 with a secret signs HTTP POSTs; the reverse WebSocket has no token to check, so
    nobody may connect (allow_unauthenticated = true would open it)."""
    settings = make_settings(tmp_path, bot={"demo": False}, adapters={
        "onebot": {"enabled": True, "version": 11, "secret": ONEBOT_SECRET}})
    client = await aiohttp_client(create_app(settings))
    resp = await client.get(
        "/onebot/ws",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
        },
    )
    assert resp.status == 401
    headers, body = _onebot(onebot_event(message_id := next(_ids)))
    assert (await client.post("/onebot/http", data=body, headers=headers)).status == 204
    assert client.app[STORE].messages.get(f"onebot:{message_id}") is not None


def _mutations(seed: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Truncations, byte flips, stray brackets and non-finite numbers spliced into a document."""
    out = []
    inserts = [b"NaN", b"Infinity", b"1e400", b"[" * 100, b"{\"a\":" * 100, b"\xff", b"\x00", b"<a>" * 40,
               b"<!DOCTYPE x>", b"]]>", b'"', b"\\", b"-", b"9" * 30]
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            kind = rng.random()
            if kind < 0.3:
                data = data[:at]
            elif kind < 0.6:
                data[at] = rng.randrange(256)
            else:
                data[at:at] = rng.choice(inserts)
        out.append(bytes(data))
    return out


async def test_signed_mutations_of_valid_events_never_get_a_500(client, caplog):
    rng = random.Random(16)
    results = []
    with caplog.at_level(logging.WARNING):
        for body in _mutations(onebot_event(next(_ids)), rng, 150):
            headers, body = _onebot(body)
            resp = await client.post("/onebot/http", data=body, headers={**headers, "Content-Type": "application/json"})
            results.append(resp.status)
        for plain in _mutations(wecom_plain(str(next(_ids))).encode(), rng, 100):
            params, body = wecom_envelope(plain.decode("utf-8", "replace"))
            resp = await client.post("/wecom/callback", params=params, data=body)
            results.append(resp.status)
    assert max(results) < 500, sorted(set(results))
    assert _problems(caplog.records) == []
