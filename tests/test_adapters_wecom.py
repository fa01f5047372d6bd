"""企业微信 app callback over real HTTP, against a local server speaking the WeCom API."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from aiohttp import web

from bot.adapters.base import TransientSendError
from bot.adapters.callback_guard import parse_xml
from bot.adapters.wxcrypto import WxCrypto, plain_signature
from bot.web.app import create_app
from bot.web.keys import ADAPTERS, BOT, STORE
from tests.conftest import make_settings, wait_until

FIXTURES = Path(__file__).parent / "fixtures" / "wecom"
# the official WeCom callback sample's values (public test values)
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP = "ww1436e0e65a779aee"
SECRET = "corp-secret-never-logged-123"
AGENT = "1000002"
PATH = "/wecom/callback"


class FakeWecom:
    """The WeCom server API as seen on the wire: gettoken, message/send, appchat/send."""

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.issued = 0
        self.sent: list[tuple[str, dict]] = []
        self.fail_next: list[int] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_post("/cgi-bin/message/send", self.send)
        app.router.add_post("/cgi-bin/appchat/send", self.send)
        return app

    async def gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != CORP or request.query.get("corpsecret") != SECRET:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.issued += 1
        token = f"ACCESS_TOKEN_{self.issued}"
        self.valid.add(token)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def send(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") not in self.valid:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        if self.fail_next:
            code = self.fail_next.pop(0)
            return web.json_response({"errcode": code, "errmsg": "api freq out of limit"})
        body = await request.json()
        kind = "appchat" if request.path.endswith("appchat/send") else "user"
        self.sent.append((kind, body))
        reply = {"errcode": 0, "errmsg": "ok"}
        if kind == "user":
            reply |= {"invaliduser": "", "invalidparty": "", "invalidtag": "", "msgid": f"msg{len(self.sent)}"}
        return web.json_response(reply)


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeWecom()
    fake.server = await aiohttp_server(fake.app())
    return fake


def wecom_settings(tmp_path, fake, **extra):
    conf = {"enabled": True, "corp_id": CORP, "agent_id": AGENT, "secret": SECRET, "token": TOKEN,
            "encoding_aes_key": KEY, "api_base": str(fake.server.make_url("")), **extra}
    return make_settings(tmp_path, bot={"demo": False}, adapters={"wecom": conf})


@pytest.fixture
async def client(aiohttp_client, tmp_path, fake):
    return await aiohttp_client(create_app(wecom_settings(tmp_path, fake)))


_nonce = iter(range(10_000_000, 99_999_999, 7919))


def envelope(plain: str, *, ts: str | None = None, nonce: str | None = None, corp: str = CORP):
    """An encrypted POST exactly as WeCom sends it: query string and <xml><Encrypt>."""
    ts = ts or str(int(time.time()))
    nonce = nonce or str(next(_nonce))
    reply = parse_xml(WxCrypto("wecom", TOKEN, KEY, corp).encrypt_reply(plain, nonce, ts))
    body = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{reply['Encrypt']}]]>"
            f"</Encrypt><AgentID><![CDATA[{AGENT}]]></AgentID></xml>")
    return {"msg_signature": reply["MsgSignature"], "timestamp": ts, "nonce": nonce}, body


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# -- URL verification --------------------------------------------------------------------

async def test_url_verification_echoes_the_decrypted_echostr(client):
    crypto = WxCrypto("wecom", TOKEN, KEY, CORP)
    ts, nonce = str(int(time.time())), "1597212914"
    echostr = crypto.encrypt("5927782489442352469")
    # the signature covers the encrypted echostr
    params = {"timestamp": ts, "nonce": nonce, "echostr": echostr,
              "msg_signature": plain_signature(TOKEN, ts, nonce, echostr)}
    resp = await client.get(PATH, params=params)
    assert resp.status == 200
    assert await resp.text() == "5927782489442352469"


async def test_url_verification_with_wrong_signature_is_401(client):
    crypto = WxCrypto("wecom", TOKEN, KEY, CORP)
    params = {"timestamp": str(int(time.time())), "nonce": "1", "echostr": crypto.encrypt("123"),
              "msg_signature": "0" * 40}
    resp = await client.get(PATH, params=params)
    assert resp.status == 401


# -- messages ----------------------------------------------------------------------------

async def test_encrypted_text_message_is_recorded_and_answered_through_message_send(client, fake):
    params, body = envelope(fixture("text.xml"))
    resp = await client.post(PATH, params=params, data=body)
    assert resp.status == 200
    assert await resp.text() == ""
    store = client.app[STORE]
    # acknowledged only after the intake committed it
    message = store.messages.get("wecom:1234567890123456")
    assert message["text"] == "/help" and message["sender_id"] == "zhangsan"
    assert message["chat_kind"] == "private"
    await wait_until(lambda: fake.sent)
    kind, sent = fake.sent[0]
    assert kind == "user" and sent["touser"] == "zhangsan" and sent["agentid"] == int(AGENT)
    assert sent["msgtype"] == "text" and sent["text"]["content"].startswith("可用命令")


async def test_platform_retry_of_same_msgid_is_processed_once(client, fake):
    for _ in range(3):  # WeCom retries three times when it thinks the answer was late
        params, body = envelope(fixture("text.xml"))
        resp = await client.post(PATH, params=params, data=body)
        assert resp.status == 200
    await client.app[BOT].outbox.drain()
    await wait_until(lambda: fake.sent)
    await client.app[BOT].outbox.drain()
    assert len(fake.sent) == 1
    store = client.app[STORE]
    await wait_until(lambda: [d["outcome"] for d in store.messages.decisions("wecom:1234567890123456")]
                     .count("duplicate") == 2)


async def test_image_message_reports_an_image_attachment(client):
    params, body = envelope(fixture("image.xml"))
    assert (await client.post(PATH, params=params, data=body)).status == 200
    assert client.app[STORE].messages.get("wecom:1234567890123457")["attachments"] == ["image"]


async def test_subscribe_event_becomes_member_join_and_enter_agent_is_only_acknowledged(client):
    for name in ("subscribe.xml", "enter_agent.xml"):
        params, body = envelope(fixture(name))
        assert (await client.post(PATH, params=params, data=body)).status == 200
    store = client.app[STORE]
    joined = store.messages.get("wecom:ev:wangwu:1408091190")
    assert joined["type"] == "member_join"
    assert not store.messages.exists("wecom:ev:zhangsan:1408091189")


async def test_external_group_member_change_becomes_joins_of_that_group(client):
    params, body = envelope(fixture("change_external_chat.xml"))
    assert (await client.post(PATH, params=params, data=body)).status == 200
    members = client.app[STORE].chats.list_members("wecom", "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA")
    assert {m["member_id"] for m in members} == {"wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA",
                                                 "wmOgQhDgAAuXFJGwbve4g4iXknfOBBBB"}


# -- bad input ---------------------------------------------------------------------------

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
                  '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>')


def _bad(case: str):
    params, body = envelope(fixture("text.xml"))
    if case == "wrong signature":
        params["msg_signature"] = "f" * 40
    elif case == "missing parameter":
        del params["nonce"]
    elif case == "expired timestamp":
        params, body = envelope(fixture("text.xml"), ts=str(int(time.time()) - 3600))
    elif case == "body too large":
        body = "<xml><Encrypt>" + "A" * 70_000 + "</Encrypt></xml>"
    elif case == "malformed xml":
        body = "<xml><Encrypt>abc</Encrypt"
    elif case == "entity declarations":
        body = BILLION_LAUGHS
    elif case == "wrong corp id":
        params, body = envelope(fixture("text.xml"), corp="wwaaaaaaaaaaaaaaaa")
    elif case == "no Encrypt element":
        body = "<xml><ToUserName>x</ToUserName></xml>"
    return params, body


@pytest.mark.parametrize("case, status", [
    ("wrong signature", 401), ("missing parameter", 400), ("expired timestamp", 403),
    ("body too large", 413), ("malformed xml", 400), ("entity declarations", 400),
    ("wrong corp id", 403), ("no Encrypt element", 400),
])
async def test_bad_callback_is_refused_with_status_and_log_and_not_processed(client, caplog, case, status):
    caplog.set_level(logging.INFO)
    params, body = _bad(case)
    resp = await client.post(PATH, params=params, data=body)
    assert resp.status == status
    assert any("wecom callback refused" in r.getMessage() for r in caplog.records)
    assert not client.app[STORE].messages.exists("wecom:1234567890123456")
    assert client.app[ADAPTERS]["wecom"].refused == 1


async def test_replayed_nonce_is_refused_and_message_processed_once(client, fake):
    params, body = envelope(fixture("text.xml"))
    assert (await client.post(PATH, params=params, data=body)).status == 200
    resp = await client.post(PATH, params=params, data=body)
    assert resp.status == 409
    assert client.app[STORE].messages.exists("wecom:1234567890123456")


async def test_replay_window_zero_accepts_recorded_old_requests(aiohttp_client, tmp_path, fake):
    client = await aiohttp_client(create_app(wecom_settings(tmp_path, fake, replay_window="0")))
    params, body = envelope(fixture("text.xml"), ts="1348831860")
    assert (await client.post(PATH, params=params, data=body)).status == 200


async def test_secrets_never_appear_in_logs_or_status(client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    params, body = envelope(fixture("text.xml"))
    await client.post(PATH, params=params, data=body)
    await wait_until(lambda: fake.sent)
    bad = dict(params, msg_signature="0" * 40)
    await client.post(PATH, params=bad, data=body)
    status = str(client.app[ADAPTERS]["wecom"].status()) + repr(client.app[ADAPTERS]["wecom"])
    # our loggers only: the fake platform's own access log shows the query string it received
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "aiohttp.access")
    for secret in (SECRET, TOKEN, KEY, "ACCESS_TOKEN_1"):
        assert secret not in logs
        assert secret not in status


# -- sending -----------------------------------------------------------------------------

async def test_access_token_is_cached_and_refreshed_after_42001(client, fake):
    adapter = client.app[ADAPTERS]["wecom"]
    await adapter.api.send_to_user("zhangsan", "一")
    await adapter.api.send_to_user("zhangsan", "二")
    assert fake.issued == 1
    fake.valid.clear()  # the platform expired every token
    await adapter.api.send_to_user("zhangsan", "三")
    assert fake.issued == 2
    assert [b["text"]["content"] for _, b in fake.sent] == ["一", "二", "三"]


async def test_frequency_limit_is_a_transient_error_with_retry_after(client, fake):
    fake.fail_next = [45009]
    with pytest.raises(TransientSendError) as info:
        await client.app[ADAPTERS]["wecom"].api.send_to_user("zhangsan", "hi")
    assert info.value.retry_after == 60.0


async def test_group_delivery_goes_to_appchat_and_long_text_is_split(client, fake):
    from bot.store.outbound import OutboundItem

    text = "今晚八点秒杀开始，限量一百份。" * 100
    bot = client.app[BOT]
    await bot.outbox.submit([OutboundItem(source="test", occurrence="1", platform="wecom", chat_id="wrAPPCHAT",
                                          chat_kind="group", payload={"text": text})])
    await wait_until(lambda: len(fake.sent) >= 3)
    await bot.outbox.drain()
    assert {k for k, _ in fake.sent} == {"appchat"}
    parts = [b["text"]["content"] for _, b in fake.sent]
    assert all(len(p.encode()) <= 2048 for p in parts) and "".join(parts) == text


async def test_link_reply_is_sent_as_a_text_card(client, fake):
    from bot.store.outbound import OutboundItem

    await client.app[BOT].outbox.submit([OutboundItem(
        source="test", occurrence="card", platform="wecom", chat_id="zhangsan", chat_kind="private",
        payload={"text": "今晚八点秒杀", "kind": "link", "url": "https://example.com/s", "title": "秒杀"})])
    await wait_until(lambda: fake.sent)
    kind, body = fake.sent[0]
    assert kind == "user" and body["msgtype"] == "textcard"
    assert body["textcard"] == {"btntxt": "详情", "title": "秒杀", "description": "今晚八点秒杀",
                                "url": "https://example.com/s"}


def test_per_member_limits_are_declared_for_the_outbox(tmp_path):
    from bot.adapters.config import WecomSettings
    from bot.adapters.wecom import WecomAdapter

    adapter = WecomAdapter(WecomSettings(enabled=True, corp_id=CORP, agent_id=AGENT, secret=SECRET,
                                         token=TOKEN, encoding_aes_key=KEY))
    limits = {(lim.scope, lim.count, lim.period) for lim in adapter.rate_limits}
    assert ("target", 30, 60.0) in limits and ("target", 1000, 3600.0) in limits


async def test_token_is_refreshed_before_it_expires_and_fetched_once_under_concurrency():
    import asyncio

    from bot.adapters.wecom_api import REFRESH_MARGIN, AccessToken

    now = [0.0]
    fetched = []

    async def fetch():
        await asyncio.sleep(0)
        fetched.append(now[0])
        return f"T{len(fetched)}", 7200

    token = AccessToken(fetch, lambda: now[0])
    assert set(await asyncio.gather(*(token.get() for _ in range(10)))) == {"T1"}
    now[0] = 7200 - REFRESH_MARGIN - 1
    assert await token.get() == "T1"
    now[0] = 7200 - REFRESH_MARGIN + 1  # inside the margin: refreshed while the old one still works
    assert await token.get() == "T2"
    token.invalidate("T1")  # a stale refusal does not throw away the newer token
    assert await token.get() == "T2" and len(fetched) == 2


async def test_database_unavailable_answers_503_and_the_same_retry_is_taken_later(client, monkeypatch):
    from bot.adapters.base import RecordingUnavailable

    bot = client.app[BOT]

    async def unavailable(event):
        raise RecordingUnavailable("database is locked")

    params, body = envelope(fixture("text.xml"))
    with monkeypatch.context() as m:
        m.setattr(bot, "submit", unavailable)
        assert (await client.post(PATH, params=params, data=body)).status == 503
    # WeCom retries the identical request: its nonce must not count as replayed
    assert (await client.post(PATH, params=params, data=body)).status == 200
    assert client.app[STORE].messages.exists("wecom:1234567890123456")
