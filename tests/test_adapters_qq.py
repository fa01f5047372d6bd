"""QQ official bot webhook and OpenAPI over real HTTP, against a local server written from the
platform's documentation (bot.q.qq.com/wiki/develop/api-v2): getAppAccessToken, group and 1:1
messages with msg_id / msg_seq, recall. Signature vectors are the ones the docs publish."""

from __future__ import annotations

import json
import logging
import time

import pytest
from aiohttp import web

from bot.adapters.base import PermanentSendError
from bot.adapters.config import QqSettings
from bot.adapters.qq_api import QqApi
from bot.adapters.qq_sign import QqSigner, seed_of
from bot.config import settings_from_dict
from bot.settings_loader import ConfigError
from bot.store.outbound import OutboundItem
from bot.web.app import create_app
from bot.web.keys import ADAPTERS, BOT, STORE
from tests.conftest import make_settings, wait_until

# the validation example of the docs (event-emit.html, "Webhook方式"): this secret signs it
APP_ID = "11111111"
SECRET = "DG5g3B4j9X2KOErG"
PATH = "/qq/callback"
GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
MEMBER = "E4F4AEA33253A2797FB897C50B81D7ED"
USER = "E4F4AEA33253A2797FB897C50B81D7ED"


class FakeQq:
    """The QQ bot OpenAPI as seen on the wire, exactly the endpoints the adapter uses."""

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.issued = 0
        self.expires_in = "7200"  # the platform sends a string
        self.sent: list[tuple[str, str, dict]] = []  # (kind, target, body)
        self.recalled: list[tuple[str, str, str]] = []
        self.seen_seq: set[tuple[str, int]] = set()
        self.admin = True
        self.fail_next: list[tuple[int, dict] | str] = []  # (status, body) or "drop" (connection cut)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/app/getAppAccessToken", self.token)
        app.router.add_post("/v2/groups/{target}/messages", self.send)
        app.router.add_post("/v2/users/{target}/messages", self.send)
        app.router.add_delete("/v2/groups/{target}/messages/{message_id}", self.recall)
        app.router.add_delete("/v2/users/{target}/messages/{message_id}", self.recall)
        return app

    async def token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body != {"appId": APP_ID, "clientSecret": SECRET}:
            return web.json_response({"code": 100016, "message": "invalid appid or secret"}, status=400)
        self.issued += 1
        token = f"QQ_ACCESS_TOKEN_{self.issued}"
        self.valid.add(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "QQBot" and token in self.valid

    async def send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"code": 11244, "message": "token not exist or expire"}, status=401)
        if self.fail_next:
            failure = self.fail_next.pop(0)
            if isinstance(failure, str):  # "drop": the request arrived; the answer never leaves
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            status, error = failure
            return web.json_response(error, status=status)
        body = await request.json()
        if "msg_id" in body or "event_id" in body:
            key = (body.get("msg_id") or body.get("event_id"), int(body.get("msg_seq", 1)))
            if key in self.seen_seq:  # "相同的 msg_id + msg_seq 重复发送会失败"
                return web.json_response({"code": 40054005, "message": "消息被去重"}, status=400)
            self.seen_seq.add(key)
        kind = "group" if "/groups/" in request.path else "user"
        self.sent.append((kind, request.match_info["target"], body))
        return web.json_response({"id": f"BOTMSG{len(self.sent)}", "timestamp": int(time.time())})

    async def recall(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"code": 11244, "message": "token not exist or expire"}, status=401)
        if not self.admin:
            return web.json_response({"code": 11282, "message": "check admin not pass"}, status=400)
        kind = "group" if "/groups/" in request.path else "user"
        self.recalled.append((kind, request.match_info["target"], request.match_info["message_id"]))
        return web.Response(status=200)


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeQq()
    fake.server = await aiohttp_server(fake.app())
    return fake


def qq_settings(tmp_path, fake, **extra):
    conf = {"enabled": True, "app_id": APP_ID, "app_secret": SECRET,
            "api_base": str(fake.server.make_url("")), **extra}
    return make_settings(tmp_path, bot={"demo": False}, adapters={"qq": conf})


@pytest.fixture
async def client(aiohttp_client, tmp_path, fake):
    return await aiohttp_client(create_app(qq_settings(tmp_path, fake)))


SIGNER = QqSigner(SECRET)
_ids = iter(range(1, 1_000_000))


def dispatch(kind: str, data: dict, *, ts: str | None = None, signer: QqSigner = SIGNER):
    """An op 0 POST exactly as the platform sends it: JSON body, signature headers."""
    body = json.dumps({"op": 0, "id": f"{kind}:EVENT{next(_ids)}", "d": data, "t": kind},
                      ensure_ascii=False).encode()
    ts = ts or str(int(time.time()))
    headers = {"User-Agent": "QQBot-Callback", "X-Bot-Appid": APP_ID, "X-Signature-Method": "Ed25519",
               "X-Signature-Timestamp": ts, "X-Signature-Ed25519": signer.sign(ts.encode() + body),
               "Content-Type": "application/json"}
    return headers, body


def group_at(text: str, msg_id: str = "ROBOT1.0_group_msg_1") -> dict:
    return {"author": {"member_openid": MEMBER}, "content": f" {text}", "group_openid": GROUP,
            "id": msg_id, "timestamp": "2023-11-06T13:37:18+08:00"}


def c2c(text: str, msg_id: str = "ROBOT1.0_c2c_msg_1") -> dict:
    return {"author": {"user_openid": USER}, "content": text, "id": msg_id,
            "timestamp": "2023-11-06T13:37:18+08:00"}


# -- signatures: the docs' own vectors ------------------------------------------------------

def test_seed_and_keys_match_the_published_demo():
    # sign.html DEMO: the 28-character secret doubled and cut to 32 bytes
    assert seed_of("naOC0ocQE3shWLAfffVLB1rhYPG7") == b"naOC0ocQE3shWLAfffVLB1rhYPG7naOC"
    public = QqSigner("naOC0ocQE3shWLAfffVLB1rhYPG7")._public.public_bytes_raw()
    assert list(public) == [215, 195, 98, 254, 120, 174, 248, 31, 242, 50, 135, 180, 147, 98, 139, 93,
                            176, 42, 60, 79, 227, 11, 33, 94, 77, 25, 96, 155, 93, 118, 103, 58]


def test_event_signature_of_the_published_demo_verifies_and_a_changed_body_does_not():
    signer = QqSigner("naOC0ocQE3shWLAfffVLB1rhYPG7")
    sig = ("865ad13a61752ca65e26bde6676459cd36cf1be609375b37bd62af366e1dc25a"
           "8dc789ba7f14e017ada3d554c671a911bfdf075ba54835b23391d509579ed002")
    # the page renders the body on one line; the signed bytes are the indented JSON
    body = b'{\n  "op": 0,\n  "d": {},\n  "t": "GATEWAY_EVENT_NAME"\n}'
    assert signer.verify(sig, "1725442341", body)
    assert not signer.verify(sig, "1725442342", body)
    assert not signer.verify(sig, "1725442341", body.replace(b"0", b"1"))
    assert not signer.verify("zz" + sig[2:], "1725442341", body)


# -- callback-URL validation (op 13) ----------------------------------------------------------

VALIDATION = b'{"d":{"plain_token":"Arq0D5A61EgUu4OxUvOp","event_ts":"1725442341"},"op":13}'
EXPECTED = ("87befc99c42c651b3aac0278e71ada338433ae26fcb24307bdc5ad38c1adc2d0"
            "1bcfcadc0842edac85e85205028a1132afe09280305f13aa6909ffc2d652c706")


async def test_validation_without_signature_headers_is_answered_with_the_documented_signature(client):
    # exactly the docs' example request: only User-Agent and X-Bot-Appid
    resp = await client.post(PATH, data=VALIDATION, headers={"User-Agent": "QQBot-Callback", "X-Bot-Appid": APP_ID})
    assert resp.status == 200
    assert await resp.json() == {"plain_token": "Arq0D5A61EgUu4OxUvOp", "signature": EXPECTED}


async def test_validation_with_signature_headers_is_answered_too(client):
    ts = "1725442341"
    headers = {"X-Signature-Timestamp": ts, "X-Signature-Ed25519": SIGNER.sign(ts.encode() + VALIDATION),
               "X-Signature-Method": "Ed25519", "X-Bot-Appid": APP_ID}
    resp = await client.post(PATH, data=VALIDATION, headers=headers)
    assert resp.status == 200
    assert (await resp.json())["signature"] == EXPECTED


async def test_validation_never_signs_text_that_could_pass_as_an_event(client):
    # a forged op 13 whose event_ts + plain_token is "timestamp + JSON body" would turn the
    # answer into a valid event signature: such fields are refused
    forged = {"op": 13, "d": {"event_ts": "1725442341", "plain_token": '{"op":0,"d":{},"t":"X"}'}}
    resp = await client.post(PATH, json=forged)
    assert resp.status == 400


# -- events: signature, replay ------------------------------------------------------------

@pytest.mark.parametrize("case", ["missing headers", "wrong key", "tampered body", "garbage signature"])
async def test_bad_or_missing_signature_is_401_logged_and_never_recorded(client, fake, caplog, case):
    caplog.set_level(logging.INFO)
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("/help"))
    if case == "missing headers":
        headers = {"Content-Type": "application/json"}
    elif case == "wrong key":
        headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("/help"), signer=QqSigner("another-secret"))
    elif case == "tampered body":
        body = body.replace(b"/help", b"/hack")
    else:
        headers["X-Signature-Ed25519"] = "not-hex"
    resp = await client.post(PATH, data=body, headers=headers)
    assert resp.status == 401
    assert any("qq callback refused: bad signature" in r.getMessage() for r in caplog.records)
    assert not client.app[STORE].messages.exists("qq:ROBOT1.0_group_msg_1")
    assert client.app[ADAPTERS]["qq"].refused == 1
    assert fake.sent == []


async def test_replayed_event_within_the_window_is_dropped_and_answered_once(client, fake):
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("/help"))
    first = await client.post(PATH, data=body, headers=headers)
    assert first.status == 200 and await first.json() == {"op": 12}
    again = await client.post(PATH, data=body, headers=headers)
    assert again.status == 200 and await again.json() == {"op": 12}
    assert client.app[ADAPTERS]["qq"].replays_dropped == 1
    await wait_until(lambda: fake.sent)
    await client.app[BOT].outbox.drain()
    assert len(fake.sent) == 1
    assert not [d for d in client.app[STORE].messages.decisions("qq:ROBOT1.0_group_msg_1")
                if d["outcome"] == "duplicate"]  # the replay never reached the pipeline


async def test_signed_timestamp_outside_the_window_is_refused(client):
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("/help"), ts=str(int(time.time()) - 3600))
    assert (await client.post(PATH, data=body, headers=headers)).status == 403
    assert not client.app[STORE].messages.exists("qq:ROBOT1.0_group_msg_1")


async def test_event_for_another_bot_is_refused(client):
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("/help"))
    headers["X-Bot-Appid"] = "22222222"
    assert (await client.post(PATH, data=body, headers=headers)).status == 403


# -- events -> Event, passive replies -----------------------------------------------------

async def test_group_at_message_is_recorded_and_answered_as_passive_replies_with_msg_seq(client, fake):
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("/help"))
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    message = client.app[STORE].messages.get("qq:ROBOT1.0_group_msg_1")
    assert message["text"] == "/help" and message["chat_id"] == GROUP and message["sender_id"] == MEMBER
    assert message["chat_kind"] == "group" and message["to_me"]
    await wait_until(lambda: fake.sent)
    kind, target, sent = fake.sent[0]
    assert (kind, target) == ("group", GROUP)
    assert sent["msg_id"] == "ROBOT1.0_group_msg_1" and sent["msg_seq"] == 1 and sent["msg_type"] == 0
    assert sent["content"].startswith("可用命令")
    # further answers to the same message count on: 2, 3
    bot = client.app[BOT]
    await bot.outbox.submit([
        OutboundItem(source="reply:qq:ROBOT1.0_group_msg_1", occurrence=f"extra{i}", platform="qq",
                     chat_id=GROUP, chat_kind="group", payload={"text": f"补充{i}"}) for i in (1, 2)])
    await wait_until(lambda: len(fake.sent) == 3)
    assert [b["msg_seq"] for _, _, b in fake.sent] == [1, 2, 3]
    assert {b["msg_id"] for _, _, b in fake.sent} == {"ROBOT1.0_group_msg_1"}


async def test_sixth_reply_to_one_message_fails_with_the_platform_limit(client, fake):
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("hello"))
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    bot = client.app[BOT]
    await bot.outbox.submit([
        OutboundItem(source="reply:qq:ROBOT1.0_group_msg_1", occurrence=f"r{i}", platform="qq",
                     chat_id=GROUP, chat_kind="group", payload={"text": f"第{i}条"}) for i in range(6)])
    await wait_until(lambda: len(fake.sent) == 5)
    await bot.outbox.drain()
    rows = client.app[STORE].outbound.list(source="reply:qq:ROBOT1.0_group_msg_1")
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and "最多被动回复 5 次" in failed[0]["error"]


async def test_reply_after_the_group_window_is_not_sent_and_says_why(client, fake):
    from datetime import timedelta

    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("hello"))
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    adapter = client.app[ADAPTERS]["qq"]
    adapter._origins["qq:ROBOT1.0_group_msg_1"].at -= timedelta(minutes=6)  # the member asked 6 minutes ago
    bot = client.app[BOT]
    await bot.outbox.submit([OutboundItem(source="reply:qq:ROBOT1.0_group_msg_1", occurrence="late",
                                          platform="qq", chat_id=GROUP, chat_kind="group",
                                          payload={"text": "迟到的回复"})])
    await wait_until(lambda: client.app[STORE].outbound.list(source="reply:qq:ROBOT1.0_group_msg_1")[0]["status"]
                     == "failed")
    assert "被动回复时限" in client.app[STORE].outbound.list(source="reply:qq:ROBOT1.0_group_msg_1")[0]["error"]
    assert fake.sent == []


async def test_c2c_message_is_a_private_chat_answered_through_the_users_endpoint(client, fake):
    headers, body = dispatch("C2C_MESSAGE_CREATE", c2c("/help"))
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    message = client.app[STORE].messages.get("qq:ROBOT1.0_c2c_msg_1")
    assert message["chat_kind"] == "private" and message["chat_id"] == USER
    await wait_until(lambda: fake.sent)
    kind, target, sent = fake.sent[0]
    assert (kind, target) == ("user", USER) and sent["msg_id"] == "ROBOT1.0_c2c_msg_1" and sent["msg_seq"] == 1


async def test_group_message_without_at_is_recorded_not_addressed_to_the_bot(client):
    data = group_at("大家好", msg_id="ROBOT1.0_all_1")
    headers, body = dispatch("GROUP_MESSAGE_CREATE", data)
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    message = client.app[STORE].messages.get("qq:ROBOT1.0_all_1")
    assert message["text"] == "大家好" and not message["to_me"]
    # member ids are openids of this group: the raw record says so for the member directory
    assert message["raw"]["member_scope"] == "group"


async def test_bot_added_and_removed_from_a_group_update_its_membership(client):
    store = client.app[STORE]
    data = {"group_openid": GROUP, "op_member_openid": MEMBER, "timestamp": 1699240248}
    headers, body = dispatch("GROUP_ADD_ROBOT", data)
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    assert ("qq", GROUP) in {(c["platform"], c["chat_id"]) for c in store.chats.list_chats()}
    await wait_until(lambda: [m["member_id"] for m in store.chats.list_members("qq", GROUP)] == ["bot"])
    headers, body = dispatch("GROUP_DEL_ROBOT", dict(data, timestamp=1699240426))
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    await wait_until(lambda: store.chats.list_members("qq", GROUP) == [])
    assert store.chats.get_member("qq", GROUP, "bot")["left_at"]


async def test_post_right_after_the_bot_joins_rides_on_the_join_event_and_uses_no_quota(client, fake):
    headers, body = dispatch("GROUP_ADD_ROBOT", {"group_openid": GROUP, "op_member_openid": MEMBER,
                                                 "timestamp": int(time.time())})
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    event_id = json.loads(body)["id"]
    bot = client.app[BOT]
    await bot.outbox.submit([OutboundItem(source=f"welcome:{GROUP}", occurrence="1", platform="qq", chat_id=GROUP,
                                          chat_kind="group", payload={"text": "大家好，我是客服机器人"})])
    await wait_until(lambda: fake.sent)
    _, target, sent = fake.sent[0]
    assert target == GROUP and sent["event_id"] == event_id and sent["msg_seq"] == 1 and "msg_id" not in sent
    # once the bot is removed the join event no longer carries anything
    headers, body = dispatch("GROUP_DEL_ROBOT", {"group_openid": GROUP, "op_member_openid": MEMBER,
                                                 "timestamp": int(time.time())})
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    await bot.outbox.submit([OutboundItem(source="schedule:9", occurrence="1", platform="qq", chat_id=GROUP,
                                          chat_kind="group", payload={"text": "早安"})])
    await wait_until(lambda: client.app[STORE].outbound.list(source="schedule:9")[0]["status"] == "failed")
    assert len(fake.sent) == 1


async def test_reply_after_a_restart_still_counts_its_window_from_the_recorded_message(client, fake):
    headers, body = dispatch("C2C_MESSAGE_CREATE", c2c("你好", msg_id="ROBOT1.0_c2c_restart"))
    assert (await client.post(PATH, data=body, headers=headers)).status == 200
    adapter = client.app[ADAPTERS]["qq"]
    adapter._origins.clear()  # what a restart forgets
    # the recorded time is the platform's (2023 in the docs' example): far outside 60 minutes
    await client.app[BOT].outbox.submit([OutboundItem(
        source="reply:qq:ROBOT1.0_c2c_restart", occurrence="x", platform="qq", chat_id=USER,
        chat_kind="private", payload={"text": "迟到"})])
    rows = lambda: client.app[STORE].outbound.list(source="reply:qq:ROBOT1.0_c2c_restart")  # noqa: E731
    await wait_until(lambda: rows()[0]["status"] == "failed")
    assert "单聊 60 分钟" in rows()[0]["error"] and fake.sent == []


async def test_malformed_message_event_is_400(client):
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", {"content": "hi"})
    assert (await client.post(PATH, data=body, headers=headers)).status == 400


@pytest.mark.parametrize("body", [b"not json", b"[13]", b'{"op": 13, "d": ' * 5000, b'{"op": NaN}'])
async def test_unsigned_garbage_is_400_never_a_500(client, body):
    assert (await client.post(PATH, data=body)).status == 400


# -- proactive messages, recall -------------------------------------------------------------

async def test_proactive_post_is_refused_with_the_platform_reason_by_default(client, fake):
    bot = client.app[BOT]
    await bot.outbox.submit([OutboundItem(source="schedule:1", occurrence="2026-12-05T08:00", platform="qq",
                                          chat_id=GROUP, chat_kind="group", payload={"text": "早安秒杀"})])
    await wait_until(lambda: client.app[STORE].outbound.list(source="schedule:1")[0]["status"] == "failed")
    assert "不再提供主动消息" in client.app[STORE].outbound.list(source="schedule:1")[0]["error"]
    assert fake.sent == []


async def test_proactive_posts_go_out_within_the_monthly_quota_then_stop(aiohttp_client, tmp_path, fake):
    client = await aiohttp_client(create_app(qq_settings(tmp_path, fake, proactive_per_month=2)))
    bot = client.app[BOT]
    for day in (1, 2, 3):
        await bot.outbox.submit([OutboundItem(source="schedule:1", occurrence=f"day{day}", platform="qq",
                                              chat_id=GROUP, chat_kind="group", payload={"text": f"第{day}天"})])
        await wait_until(lambda: client.app[STORE].outbound.list(source="schedule:1")[0]["status"]
                         in ("sent", "failed"))
    assert [b["content"] for _, _, b in fake.sent] == ["第1天", "第2天"]
    assert all("msg_id" not in b for _, _, b in fake.sent)
    rows = {r["occurrence"]: r for r in client.app[STORE].outbound.list(source="schedule:1")}
    assert rows["day3"]["status"] == "failed" and "已达 2 条上限" in rows["day3"]["error"]
    assert "每月最多 2 条" in client.app[ADAPTERS]["qq"].proactive_note()


async def test_recall_deletes_the_message_and_a_non_admin_bot_is_told_why(client, fake):
    bot = client.app[BOT]
    ok = await bot.perform("qq", {"action": "recall", "chat_id": GROUP, "message_uid": "qq:ROBOT1.0_bad_1"})
    assert ok and fake.recalled == [("group", GROUP, "ROBOT1.0_bad_1")]
    fake.admin = False
    ok = await bot.perform("qq", {"action": "recall", "chat_id": GROUP, "message_uid": "qq:ROBOT1.0_bad_2"})
    assert not ok
    rows = client.app[STORE].outbound.list(source="action:qq:ROBOT1.0_bad_2")
    assert rows[0]["status"] == "failed" and "不是该群管理员" in rows[0]["error"]


def test_capabilities_let_moderation_degrade_mute_and_remove(tmp_path):
    from bot.adapters.qq import QqAdapter

    adapter = QqAdapter(QqSettings(enabled=True, app_id=APP_ID, app_secret=SECRET))
    assert adapter.can("recall") and adapter.can("send") and adapter.can("private")
    assert not adapter.can("mute") and not adapter.can("kick")
    # a member_openid means something only inside its group
    assert adapter.member_ids_per_chat


# -- access token ---------------------------------------------------------------------------

async def test_access_token_is_cached_and_fetched_again_when_the_api_refuses_it(client, fake):
    api = client.app[ADAPTERS]["qq"].api
    await api.send(True, GROUP, {"content": "一", "msg_type": 0, "msg_id": "m", "msg_seq": 1})
    await api.send(True, GROUP, {"content": "二", "msg_type": 0, "msg_id": "m", "msg_seq": 2})
    assert fake.issued == 1
    fake.valid.clear()  # the platform expired every token
    await api.send(True, GROUP, {"content": "三", "msg_type": 0, "msg_id": "m", "msg_seq": 3})
    assert fake.issued == 2
    assert [b["content"] for _, _, b in fake.sent] == ["一", "二", "三"]


async def test_access_token_is_refreshed_before_it_expires(fake):
    from bot.adapters.wecom_api import REFRESH_MARGIN

    now = [0.0]
    base = str(fake.server.make_url("")).rstrip("/")
    api = QqApi(base, base + "/app/getAppAccessToken", APP_ID, SECRET, monotonic=lambda: now[0])
    try:
        await api.send(False, USER, {"content": "a", "msg_type": 0, "msg_id": "u", "msg_seq": 1})
        now[0] = 7200 - REFRESH_MARGIN - 1
        await api.send(False, USER, {"content": "b", "msg_type": 0, "msg_id": "u", "msg_seq": 2})
        assert fake.issued == 1
        now[0] = 7200 - REFRESH_MARGIN + 1  # inside the margin: a new token while the old one still works
        await api.send(False, USER, {"content": "c", "msg_type": 0, "msg_id": "u", "msg_seq": 3})
        assert fake.issued == 2
    finally:
        await api.close()


@pytest.mark.parametrize(("failure", "error", "retry_after"), [
    ((500, {"code": 500, "message": "internal"}), "TransientSendError", 5.0),
    ((429, {"code": 22009, "message": "msg limit exceed"}), "TransientSendError", 60.0),
    ((400, {"code": 11281, "message": "check admin failed"}), "TransientSendError", 5.0),
    ((400, {"code": 304027, "message": "msg expire"}), "PermanentSendError", None),
    ((400, {"code": 304003, "message": "url not allowed"}), "PermanentSendError", None),
    ("drop", "OutcomeUnknown", None),
])
async def test_platform_errors_map_onto_the_outbox_policy(client, fake, failure, error, retry_after):
    api = client.app[ADAPTERS]["qq"].api
    await api.token.get()
    fake.fail_next = [failure]
    with pytest.raises(Exception) as info:
        await api.send(True, GROUP, {"content": "x", "msg_type": 0, "msg_id": "m", "msg_seq": 1})
    assert type(info.value).__name__ == error
    assert getattr(info.value, "retry_after", None) == retry_after
    if failure != "drop":
        assert "QQ 接口" in str(info.value)


async def test_refused_connection_is_transient_nothing_was_sent(unused_tcp_port):
    from bot.adapters.base import TransientSendError

    base = f"http://127.0.0.1:{unused_tcp_port}"
    api = QqApi(base, base + "/app/getAppAccessToken", APP_ID, SECRET)
    try:
        with pytest.raises(TransientSendError):
            await api.send(True, GROUP, {"content": "x", "msg_type": 0})
    finally:
        await api.close()


async def test_wrong_secret_is_a_permanent_error_naming_the_keys(fake):
    base = str(fake.server.make_url("")).rstrip("/")
    api = QqApi(base, base + "/app/getAppAccessToken", APP_ID, "wrong")
    try:
        with pytest.raises(PermanentSendError, match="app_id 与 app_secret"):
            await api.send(True, GROUP, {"content": "x", "msg_type": 0})
    finally:
        await api.close()


async def test_secrets_never_appear_in_logs_or_status(client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    headers, body = dispatch("GROUP_AT_MESSAGE_CREATE", group_at("/help"))
    await client.post(PATH, data=body, headers=headers)
    await wait_until(lambda: fake.sent)
    adapter = client.app[ADAPTERS]["qq"]
    status = str(adapter.status()) + repr(adapter) + repr(adapter.api) + repr(adapter.signer)
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "aiohttp.access")
    for secret in (SECRET, "QQ_ACCESS_TOKEN_1"):
        assert secret not in logs and secret not in status


# -- config -------------------------------------------------------------------------------

@pytest.mark.parametrize(("conf", "key", "reason"), [
    ({"enabled": True, "app_id": APP_ID}, "adapters.qq.app_secret", "启用该适配器时必须填写"),
    ({"enabled": True, "app_secret": SECRET}, "adapters.qq.app_id", "启用该适配器时必须填写"),
    ({"path": "qq"}, "adapters.qq.path", "必须以 / 开头"),
    ({"api_base": "ftp://x"}, "adapters.qq.api_base", "http://"),
    ({"proactive_per_month": -1}, "adapters.qq.proactive_per_month", "不能小于 0"),
    ({"replay_window": "soon"}, "adapters.qq.replay_window", "时长格式不对"),
])
def test_broken_qq_settings_name_the_key_and_reason(conf, key, reason):
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"adapters": {"qq": conf}}, "config.toml")
    assert info.value.key == key and reason in info.value.reason, info.value.reason


def test_sandbox_flag_selects_the_sandbox_api_and_the_token_stays_on_bots_qq_com():
    assert QqSettings().openapi == "https://api.sgroup.qq.com"
    assert QqSettings(sandbox=True).openapi == "https://sandbox.api.sgroup.qq.com"
    assert QqSettings(sandbox=True).token_url == "https://bots.qq.com/app/getAppAccessToken"
    assert QqSettings(api_base="http://127.0.0.1:1/").token_url == "http://127.0.0.1:1/app/getAppAccessToken"


# -- previews -------------------------------------------------------------------------------

def _preview_config(tmp_path, quota: int) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[bot]
data_dir = "{tmp_path / 'data'}"
demo = false
[adapters.qq]
enabled = true
app_id = "{APP_ID}"
app_secret = "{SECRET}"
proactive_per_month = {quota}
[[groups]]
id = "{GROUP}"
name = "QQ粉丝群"
platform = "qq"
[[posts]]
name = "早安"
text = "早安秒杀"
at = ["08:00"]
groups = ["QQ粉丝群"]
""", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("quota", "said"), [(0, "不能主动发消息"), (4, "每月最多 4 条")])
def test_schedule_preview_states_the_qq_limit_next_to_each_qq_target(tmp_path, capsys, quota, said):
    from bot.cli import main

    config = _preview_config(tmp_path, quota)
    assert main(["schedule", "preview", "--days", "2", "--json", "--config", config]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["platform"] == "qq" and said in r["note"] for r in rows)
    assert main(["schedule", "preview", "--days", "2", "--config", config]) == 0
    assert f"注意：{rows[0]['note']}" in capsys.readouterr().out


async def test_console_preview_states_the_qq_limit(aiohttp_client, tmp_path, fake):
    from tests.conftest import login

    settings = make_settings(
        tmp_path, bot={"demo": False},
        adapters={"qq": {"enabled": True, "app_id": APP_ID, "app_secret": SECRET,
                         "api_base": str(fake.server.make_url(""))}},
        groups=[{"id": GROUP, "name": "QQ粉丝群", "platform": "qq"}],
        posts=[{"name": "早安", "text": "早安秒杀", "at": ["08:00"], "groups": ["QQ粉丝群"]}])
    client = await aiohttp_client(create_app(settings))
    await login(client)
    page = await (await client.get("/schedules/preview?days=2")).text()
    assert "QQ粉丝群" in page and "QQ 机器人不能主动发消息" in page


def test_registry_builds_the_qq_adapter_on_its_configured_path(tmp_path):
    from bot.adapters.registry import build_adapters

    settings = make_settings(tmp_path, bot={"demo": False}, adapters={"qq": {
        "enabled": True, "app_id": APP_ID, "app_secret": SECRET, "path": "/hooks/qq"}})
    adapter = build_adapters(settings)["qq"]
    assert [r.path for r in adapter.routes()] == ["/hooks/qq"]
    assert "qq" in settings.adapters.enabled_names()
