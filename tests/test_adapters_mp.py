"""公众号 server callback over real HTTP: plaintext and safe mode, passive and later replies."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from aiohttp import web

from bot.adapters.callback_guard import parse_xml
from bot.adapters.wxcrypto import WxCrypto, plain_signature
from bot.config import ConfigError
from bot.web.app import create_app
from bot.web.keys import ADAPTERS, STORE
from tests.conftest import make_settings, wait_until

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "wechat" / "vectors.json").read_text(encoding="utf-8"))
MP = next(v for v in VECTORS if v["name"].startswith("mp-"))
TOKEN, KEY, APP_ID = MP["token"], MP["encoding_aes_key"], MP["receive_id"]
APP_SECRET = "mp-app-secret-never-logged"
PATH = "/mp/callback"
OPENID = "oia2TjjewbmiOUlr6X-1crbLOvLw"


class FakeMp:
    """The 公众号 API: /cgi-bin/token and customer-service messages."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.issued = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self.token)
        app.router.add_post("/cgi-bin/message/custom/send", self.custom)
        return app

    async def token(self, request: web.Request) -> web.Response:
        if request.query.get("appid") != APP_ID or request.query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        self.issued += 1
        return web.json_response({"access_token": f"MP_TOKEN_{self.issued}", "expires_in": 7200})

    async def custom(self, request: web.Request) -> web.Response:
        if not request.query.get("access_token", "").startswith("MP_TOKEN_"):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.sent.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeMp()
    fake.server = await aiohttp_server(fake.app())
    return fake


async def mp_client(aiohttp_client, tmp_path, fake, **extra):
    conf = {"enabled": True, "app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN,
            "api_base": str(fake.server.make_url("")), **extra}
    settings = make_settings(tmp_path, bot={"demo": False}, adapters={"mp": conf})
    return await aiohttp_client(create_app(settings))


def text_message(content: str, msg_id: str = "6054768590064713728", create: str = "1409304348") -> str:
    return (f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[{OPENID}]]>"
            f"</FromUserName><CreateTime>{create}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def subscribe_event(create: str = "1409304400") -> str:
    return (f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[{OPENID}]]>"
            f"</FromUserName><CreateTime>{create}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[subscribe]]></Event></xml>")


_n = iter(range(1_000_000, 9_999_999, 7907))


def plain_params(ts: str | None = None) -> dict:
    ts, nonce = ts or str(int(time.time())), str(next(_n))
    return {"signature": plain_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}


def safe_request(xml: str) -> tuple[dict, str]:
    params = plain_params()
    crypto = WxCrypto("mp", TOKEN, KEY, APP_ID)
    env = parse_xml(crypto.encrypt_reply(xml, params["nonce"], params["timestamp"]))
    params |= {"encrypt_type": "aes", "msg_signature": env["MsgSignature"]}
    body = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    )
    return params, body


async def test_url_verification_returns_echostr(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake)
    resp = await client.get(PATH, params={**plain_params(), "echostr": "hello-123"})
    assert resp.status == 200 and await resp.text() == "hello-123"
    bad = {**plain_params(), "echostr": "x", "signature": "0" * 40}
    assert (await client.get(PATH, params=bad)).status == 401


async def test_plaintext_message_gets_a_passive_reply_within_the_request(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake)
    resp = await client.post(PATH, params=plain_params(), data=text_message("/help"))
    assert resp.status == 200
    reply = parse_xml(await resp.read())
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == "gh_10f6c3c3ac5a"
    assert reply["MsgType"] == "text" and reply["Content"].startswith("可用命令")
    assert not fake.sent
    assert client.app[STORE].messages.exists("mp:6054768590064713728")


async def test_safe_mode_reply_is_encrypted_for_the_app(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake, encoding_aes_key=KEY)
    params, body = safe_request(text_message("/help"))
    resp = await client.post(PATH, params=params, data=body)
    assert resp.status == 200
    env = parse_xml(await resp.read())
    plain = WxCrypto("mp", TOKEN, KEY, APP_ID).decrypt(
        env["Encrypt"], env["MsgSignature"], env["TimeStamp"], env["Nonce"]
    )
    assert parse_xml(plain)["Content"].startswith("可用命令")


async def test_safe_mode_with_wrong_app_id_inside_is_403(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake, encoding_aes_key=KEY)
    params = plain_params()
    env = parse_xml(WxCrypto("mp", TOKEN, KEY, "wx0000000000000000").encrypt_reply(
        text_message("/help"), params["nonce"], params["timestamp"]))
    params |= {"encrypt_type": "aes", "msg_signature": env["MsgSignature"]}
    body = f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    assert (await client.post(PATH, params=params, data=body)).status == 403
    assert not client.app[STORE].messages.exists("mp:6054768590064713728")


async def test_plaintext_callback_is_refused_when_a_key_is_configured(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake, encoding_aes_key=KEY)
    resp = await client.post(PATH, params=plain_params(), data=text_message("/help"))
    assert resp.status == 400
    assert not client.app[STORE].messages.exists("mp:6054768590064713728")


async def test_reply_after_the_wait_goes_out_as_customer_service_message(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake, reply_wait="0")
    resp = await client.post(PATH, params=plain_params(), data=text_message("/help"))
    assert resp.status == 200 and await resp.text() == "success"
    await wait_until(lambda: fake.sent)
    assert fake.sent[0]["touser"] == OPENID and fake.sent[0]["text"]["content"].startswith("可用命令")


async def test_events_dedupe_by_sender_and_create_time(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake)
    for _ in range(2):
        resp = await client.post(PATH, params=plain_params(), data=subscribe_event())
        assert resp.status == 200 and await resp.text() == "success"
    store = client.app[STORE]
    uid = f"mp:ev:{OPENID}:1409304400"
    assert store.messages.get(uid)["type"] == "member_join"
    await wait_until(lambda: "duplicate" in [d["outcome"] for d in store.messages.decisions(uid)])


async def test_retry_of_same_msgid_answers_success_and_is_not_processed_again(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake)
    first = await client.post(PATH, params=plain_params(), data=text_message("/help"))
    assert "可用命令" in await first.text()
    again = await client.post(PATH, params=plain_params(), data=text_message("/help"))
    assert await again.text() == "success"
    assert not fake.sent


@pytest.mark.parametrize("case, status", [
    ("wrong signature", 401), ("missing parameter", 400), ("expired", 403), ("entity", 400),
    ("malformed", 400), ("too large", 413), ("replayed nonce", 409),
])
async def test_bad_mp_callback_is_refused(aiohttp_client, tmp_path, fake, case, status):
    client = await mp_client(aiohttp_client, tmp_path, fake)
    params, body = plain_params(), text_message("/help")
    if case == "wrong signature":
        params["signature"] = "1" * 40
    elif case == "missing parameter":
        del params["timestamp"]
    elif case == "expired":
        params = plain_params(ts=str(int(time.time()) - 600))
    elif case == "entity":
        body = '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>'
    elif case == "malformed":
        body = "<xml><Content>"
    elif case == "too large":
        body = text_message("长" * 30_000)
    elif case == "replayed nonce":
        assert (await client.post(PATH, params=params, data=body)).status == 200
        body = text_message("/help", msg_id="1")
    resp = await client.post(PATH, params=params, data=body)
    assert resp.status == status
    assert client.app[ADAPTERS]["mp"].refused == 1
    if case != "replayed nonce":
        assert not client.app[STORE].messages.exists("mp:6054768590064713728")


def test_reply_wait_must_fit_the_five_second_deadline(tmp_path):
    with pytest.raises(ConfigError, match="reply_wait"):
        make_settings(tmp_path, adapters={"mp": {"enabled": True, "app_id": "wx1", "app_secret": "s",
                                                 "token": "t", "reply_wait": "6s"}})


async def test_mp_secrets_never_in_status(aiohttp_client, tmp_path, fake):
    client = await mp_client(aiohttp_client, tmp_path, fake, encoding_aes_key=KEY)
    adapter = client.app[ADAPTERS]["mp"]
    shown = str(adapter.status()) + repr(adapter) + repr(adapter.api) + repr(adapter.crypto)
    for secret in (APP_SECRET, TOKEN, KEY):
        assert secret not in shown
