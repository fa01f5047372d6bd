"""Outbox faults against a stand-in OneBot v11 implementation on a real WebSocket.

The stand-in connects to the bot's reverse-WebSocket endpoint as go-cqhttp / NapCat would
(OneBot v11 action frames {"action", "params", "echo"} in, {"status", "retcode", "data",
"echo"} out), counts every `send_group_msg` it receives and misbehaves as told: it drops the
socket right after a send, answers after the bot's `action_timeout`, or stays away.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web

from bot.kernel.priorities import BROADCAST_PRIORITY
from bot.store import Store
from bot.store.outbound import OutboundItem
from bot.web.app import create_app
from bot.web.keys import ADAPTERS, BOT, STORE
from tests.conftest import make_settings, wait_until
from tests.test_adapters_onebot import TOKEN, payload

pytestmark = pytest.mark.faults

ACTION_TIMEOUT = 0.3
# short enough that a test outlasts the whole retry schedule in a second or two
OUTBOX = {"retry_base": "0.05s", "retry_max": "0.1s", "max_attempts": 3}


class StandInOnebot:
    """A OneBot v11 implementation over reverse WebSocket that counts the sends it receives.

    `mode`: "ok" answers at once; "drop" closes the socket on the first send (then comes back
    and answers normally, as an implementation that restarts would); "late" answers every send
    after the bot's action timeout.
    """

    def __init__(self, client, mode: str = "ok", misbehave_on: str = "send_group_msg") -> None:
        self.client = client
        self.mode = mode
        self.misbehave_on = misbehave_on
        self.actions: list[dict] = []
        self.late: set[asyncio.Future] = set()  # answers sent after the timeout, kept until done
        self.connections = 0
        self._task: asyncio.Task | None = None
        self._dropped = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def sends(self) -> list[dict]:
        return [a for a in self.actions if a["action"] == "send_group_msg"]

    def groups(self) -> Counter:
        return Counter(a["params"]["group_id"] for a in self.sends)

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except (aiohttp.ClientError, ConnectionError):
                pass
            await asyncio.sleep(0.1)  # reconnect, as implementations do

    async def _session(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Self-ID": "10001", "X-Client-Role": "Universal"}
        async with self.client.ws_connect("/onebot/ws", headers=headers) as ws:
            self.connections += 1
            await ws.send_json(payload("v11_lifecycle"))
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                if "action" not in frame:
                    continue
                self.actions.append(frame)
                if frame["action"] == self.misbehave_on:
                    if self.mode == "drop" and not self._dropped:
                        self._dropped = True
                        await ws.close()
                        return
                    if self.mode == "late":
                        def answer_late(f: dict = frame) -> None:
                            self.late.add(asyncio.ensure_future(self._answer(ws, f)))

                        asyncio.get_running_loop().call_later(ACTION_TIMEOUT + 0.2, answer_late)
                        continue
                await self._answer(ws, frame)

    @staticmethod
    async def _answer(ws, frame: dict) -> None:
        if ws.closed:
            return
        await ws.send_json({"status": "ok", "retcode": 0, "data": {"message_id": len(frame["echo"])},
                            "echo": frame["echo"]})


AD_WORD = {"word": "代开发票", "category": "广告", "action": "mute"}


async def start_bot(aiohttp_client, tmp_path, words: tuple[dict, ...] = (), **outbox):
    settings = make_settings(
        tmp_path, bot={"demo": False}, outbox={**OUTBOX, **outbox},
        adapters={"onebot": {"enabled": True, "version": 11, "access_token": TOKEN, "self_id": "10001",
                             "action_timeout": f"{ACTION_TIMEOUT}s"}},
    )
    store = Store(settings.database_path)
    store.lexicon.add_words(list(words))
    app = create_app(settings, store=store)

    async def close(app) -> None:
        store.close()

    app.on_cleanup.append(close)
    return await aiohttp_client(app)


def reply_rows(store: Store) -> list[dict]:
    return [r for r in store.outbound.list() if r["source"].startswith("reply:")]


@pytest.mark.parametrize("mode", ["drop", "late"])
async def test_reply_whose_outcome_is_unknown_is_sent_at_most_once_and_marked_uncertain(aiohttp_client, tmp_path,
                                                                                        mode):
    client = await start_bot(aiohttp_client, tmp_path)
    bridge = StandInOnebot(client, mode)
    bridge.start()
    try:
        await wait_until(lambda: client.app[ADAPTERS]["onebot"].connections)
        # a member's command the bot answers: one reply, one send_group_msg
        async with client.ws_connect("/onebot/ws", headers={
                "Authorization": f"Bearer {TOKEN}", "X-Self-ID": "10001", "X-Client-Role": "Event"}) as events:
            await events.send_json(payload("v11_group_message_array"))
            store = client.app[STORE]
            await wait_until(lambda: [r for r in reply_rows(store) if r["status"] not in ("pending", "sending")],
                             timeout=5)
            # longer than the whole retry schedule (3 attempts, ≤ 0.1 s apart) and a reconnect
            await asyncio.sleep(1.5)
        assert len(bridge.sends) == 1, f"the reply went out {len(bridge.sends)} times"
        [row] = reply_rows(store)
        assert row["status"] == "uncertain" and "无法确认" in row["error"]
    finally:
        await bridge.stop()


async def test_post_to_50_groups_waits_for_the_bridge_and_is_delivered_once_after_reconnect(aiohttp_client,
                                                                                          tmp_path):
    client = await start_bot(aiohttp_client, tmp_path)
    bot = client.app[BOT]
    store = client.app[STORE]
    now = bot.clock.now()
    post = [OutboundItem(source="post:sale", occurrence="2026-11-23T20:00", platform="onebot",
                         chat_id=str(100000 + i), payload={"text": "秒杀开始"}, priority=BROADCAST_PRIORITY,
                         not_after=now + timedelta(minutes=10)) for i in range(50)]
    # the sale ends while the bridge is still away: never sent after that
    ended = OutboundItem(source="post:flash", occurrence="2026-11-23T20:00", platform="onebot",
                         chat_id="100000", payload={"text": "限时一秒"}, priority=BROADCAST_PRIORITY,
                         not_after=now + timedelta(seconds=0.5))
    await bot.outbox.submit([*post, ended])
    # offline far longer than the retry schedule (3 attempts, ≤ 0.1 s apart)
    await asyncio.sleep(1.5)
    counts = store.outbound.count_by_status()
    assert counts.get("failed", 0) == 0 and counts.get("skipped") == 1
    bridge = StandInOnebot(client)
    bridge.start()
    try:
        await wait_until(lambda: store.outbound.count_by_status().get("sent") == 50, timeout=10)
        await asyncio.sleep(0.3)
        assert store.outbound.count_by_status() == {"sent": 50, "skipped": 1}
        groups = bridge.groups()
        assert len(groups) == 50 and set(groups.values()) == {1}
        texts = {seg["data"]["text"] for a in bridge.sends for seg in a["params"]["message"]}
        assert texts == {"秒杀开始"}
    finally:
        await bridge.stop()


def audit_statuses(store: Store, kind: str) -> list[str]:
    return [e["detail"]["status"] for e in store.accounts.audit_entries(action=f"platform.{kind}")]


def action_rows(store: Store, uid: str) -> dict[str, dict]:
    return {r["payload"]["action"]["action"]: r for r in store.outbound.list(source=f"action:{uid}")}


async def flagged_message(client) -> None:
    """A member posts an ad: moderation asks to recall it and mute the sender."""
    store = client.app[STORE]
    async with client.ws_connect("/onebot/ws", headers={
            "Authorization": f"Bearer {TOKEN}", "X-Self-ID": "10001", "X-Client-Role": "Event"}) as events:
        await events.send_json(payload("v11_group_message_cq", message="低价代开发票，私聊"))
        await wait_until(lambda: store.messages.get("onebot:2002"))


async def test_platform_actions_go_through_the_ledger_and_their_outcome_reaches_the_audit(aiohttp_client,
                                                                                         tmp_path):
    client = await start_bot(aiohttp_client, tmp_path, words=(AD_WORD,))
    bridge = StandInOnebot(client)
    bridge.start()
    try:
        await wait_until(lambda: client.app[ADAPTERS]["onebot"].connections)
        await flagged_message(client)
        store = client.app[STORE]
        await wait_until(lambda: {k: r["status"] for k, r in action_rows(store, "onebot:2002").items()}
                         == {"recall": "sent", "mute": "sent"})
        await client.app[BOT].recorder.flush()
        assert audit_statuses(store, "recall") == ["sent"] and audit_statuses(store, "mute") == ["sent"]
        assert [a["action"] for a in bridge.actions].count("delete_msg") == 1
    finally:
        await bridge.stop()


async def test_recall_whose_outcome_is_unknown_is_not_repeated_and_is_audited_uncertain(aiohttp_client, tmp_path):
    client = await start_bot(aiohttp_client, tmp_path, words=(AD_WORD,))
    bridge = StandInOnebot(client, "drop", misbehave_on="delete_msg")
    bridge.start()
    try:
        await wait_until(lambda: client.app[ADAPTERS]["onebot"].connections)
        await flagged_message(client)
        store = client.app[STORE]

        def recall_settled() -> bool:
            row = action_rows(store, "onebot:2002").get("recall")
            return row is not None and row["status"] not in ("pending", "sending")

        await wait_until(recall_settled)
        await asyncio.sleep(1.0)  # the retry schedule and a reconnect
        assert [a["action"] for a in bridge.actions].count("delete_msg") == 1
        assert action_rows(store, "onebot:2002")["recall"]["status"] == "uncertain"
        await client.app[BOT].recorder.flush()
        assert audit_statuses(store, "recall") == ["uncertain"]
    finally:
        await bridge.stop()


class DroppingWecom:
    """The WeCom server API (gettoken, appchat/send) that reads each message and then drops
    the connection without answering, as a proxy or a restarting server can."""

    def __init__(self) -> None:
        self.sends = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_post("/cgi-bin/appchat/send", self.send)
        return app

    async def gettoken(self, request: web.Request) -> web.Response:
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": "TOKEN", "expires_in": 7200})

    async def send(self, request: web.Request) -> web.Response:
        await request.read()
        self.sends += 1
        assert request.transport is not None
        request.transport.close()
        return web.Response()


async def test_wecom_message_whose_answer_is_lost_is_sent_once_and_uncertain(aiohttp_client, aiohttp_server,
                                                                          tmp_path):
    from tests import test_adapters_wecom as wx

    wecom = DroppingWecom()
    server = await aiohttp_server(wecom.app())
    conf = {"enabled": True, "corp_id": wx.CORP, "agent_id": wx.AGENT, "secret": wx.SECRET, "token": wx.TOKEN,
            "encoding_aes_key": wx.KEY, "api_base": str(server.make_url(""))}
    settings = make_settings(tmp_path, bot={"demo": False}, outbox=OUTBOX, adapters={"wecom": conf})
    client = await aiohttp_client(create_app(settings))
    store = client.app[STORE]
    [row] = await client.app[BOT].outbox.submit([OutboundItem(
        source="post:notice", occurrence="1", platform="wecom", chat_id="wrkChat1", payload={"text": "今晚停水"})])
    await wait_until(lambda: store.outbound.get(row.id)["status"] not in ("pending", "sending"))
    await asyncio.sleep(0.5)  # longer than the retry schedule
    assert wecom.sends == 1
    assert store.outbound.get(row.id)["status"] == "uncertain"


class OnebotHttpApi:
    """A OneBot v11 implementation's HTTP API (POST /{action}) that drops the connection after
    reading send_group_msg, or answers HTTP 503 when told to."""

    def __init__(self) -> None:
        self.sends = 0
        self.status = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/send_group_msg", self.send_group_msg)
        return app

    async def send_group_msg(self, request: web.Request) -> web.Response:
        await request.read()
        self.sends += 1
        if self.status:
            return web.Response(status=self.status)
        assert request.transport is not None
        request.transport.close()
        return web.Response()


async def test_onebot_http_api_tells_a_lost_answer_from_a_refusal(aiohttp_server, tmp_path):
    from bot.adapters.base import Delivery, OutcomeUnknown, TransientSendError
    from bot.adapters.config import OnebotSettings
    from bot.adapters.onebot import OnebotAdapter

    api = OnebotHttpApi()
    server = await aiohttp_server(api.app())
    adapter = OnebotAdapter(OnebotSettings(enabled=True, api_url=str(server.make_url(""))))
    delivery = Delivery(id=1, platform="onebot", chat_id="123456", chat_kind="group", payload={"text": "hi"})
    try:
        with pytest.raises(OutcomeUnknown):
            await adapter.send(delivery)
        api.status = 503
        with pytest.raises(TransientSendError):
            await adapter.send(delivery)
        await server.close()
        with pytest.raises(TransientSendError):  # connection refused: nothing was sent
            await adapter.send(delivery)
    finally:
        await adapter.stop()
    assert api.sends == 2


async def test_action_asked_while_the_bridge_is_offline_is_done_once_it_reconnects(aiohttp_client, tmp_path):
    client = await start_bot(aiohttp_client, tmp_path)
    bot, store = client.app[BOT], client.app[STORE]
    kick = {"action": "kick", "chat_id": "123456", "member_id": "20003", "message_uid": "onebot:2002"}
    # not confirmed (the moderator is told to check), and not lost
    assert await bot.perform("onebot", kick) is False
    assert action_rows(store, "onebot:2002")["kick"]["status"] == "pending"
    bridge = StandInOnebot(client)
    bridge.start()
    try:
        await wait_until(lambda: action_rows(store, "onebot:2002")["kick"]["status"] == "sent")
        assert [a["action"] for a in bridge.actions] == ["set_group_kick"]
        await bot.recorder.flush()
        assert audit_statuses(store, "kick") == ["sent"]
        # asked again (a second click): reported, not repeated
        assert await bot.perform("onebot", kick) is True
        await asyncio.sleep(0.2)
        assert [a["action"] for a in bridge.actions] == ["set_group_kick"]
    finally:
        await bridge.stop()


async def test_review_confirmed_while_the_bridge_is_offline_recalls_once_after_it_reconnects(aiohttp_client,
                                                                                           tmp_path):
    from moderation.review import ReviewQueue

    held = {"word": "代开发票", "category": "广告", "action": "review"}
    client = await start_bot(aiohttp_client, tmp_path, words=(held,))
    bot, store = client.app[BOT], client.app[STORE]
    await flagged_message(client)  # held for review; the bridge's socket is not up
    [flag] = await wait_until(lambda: store.moderation.list_flags())
    queue = ReviewQueue(bot.moderation_stage)
    result = await queue.confirm(flag["id"], "mod", bot)
    assert result.ok and "连接恢复后执行" in result.message
    bridge = StandInOnebot(client)
    bridge.start()
    try:
        await wait_until(lambda: "delete_msg" in [a["action"] for a in bridge.actions])
        await asyncio.sleep(0.3)
        assert [a["action"] for a in bridge.actions].count("delete_msg") == 1
        assert action_rows(store, "onebot:2002")["recall"]["status"] == "sent"
    finally:
        await bridge.stop()
