"""企业微信 group robot webhook: send-only, 20 messages per minute per robot held by the outbox."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.adapters.base import PermanentSendError, TransientSendError
from bot.store.outbound import OutboundItem
from bot.web.app import create_app
from bot.web.keys import ADAPTERS, BOT, STORE
from tests.conftest import make_settings, wait_until

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


class FakeRobot:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.fail_next: list[int] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", self.send)
        return app

    async def send(self, request: web.Request) -> web.Response:
        if request.query.get("key") != KEY:
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        if self.fail_next:
            return web.json_response({"errcode": self.fail_next.pop(0), "errmsg": "api freq out of limit"})
        self.posts.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def robot(aiohttp_server):
    robot = FakeRobot()
    robot.server = await aiohttp_server(robot.app())
    return robot


@pytest.fixture
async def client(aiohttp_client, tmp_path, robot):
    url = str(robot.server.make_url("/cgi-bin/webhook/send").with_query(key=KEY))
    settings = make_settings(tmp_path, bot={"demo": False}, adapters={"webhook": [
        {"name": "宝妈群机器人", "url": url},
        {"name": "失效机器人", "url": str(robot.server.make_url("/cgi-bin/webhook/send").with_query(key="old"))},
    ]})
    return await aiohttp_client(create_app(settings))


def item(n: int, chat: str = "宝妈群机器人", **payload) -> OutboundItem:
    return OutboundItem(source="campaign:1", occurrence=str(n), platform="webhook", chat_id=chat,
                        chat_kind="group", payload={"text": f"秒杀第 {n} 条", **payload})


async def test_robots_appear_as_groups_to_target(client):
    chats = client.app[STORE].chats.list_chats("webhook")
    assert {c["chat_id"] for c in chats} == {"宝妈群机器人", "失效机器人"}


async def test_text_and_link_card_are_posted_in_robot_format(client, robot):
    bot = client.app[BOT]
    await bot.outbox.submit([item(1), item(2, kind="link", url="https://example.com/sale", title="今晚秒杀")])
    await wait_until(lambda: len(robot.posts) == 2)
    by_type = {p["msgtype"]: p for p in robot.posts}
    assert by_type["text"]["text"]["content"] == "秒杀第 1 条"
    article = by_type["news"]["news"]["articles"][0]
    assert article["url"] == "https://example.com/sale" and article["title"] == "今晚秒杀"


async def test_outbox_holds_messages_past_20_per_minute_per_robot(client, robot):
    bot = client.app[BOT]
    await bot.outbox.submit([item(n) for n in range(25)])
    await wait_until(lambda: len(robot.posts) == 20)
    await asyncio.sleep(0.3)  # give the outbox the chance to (wrongly) send more
    assert len(robot.posts) == 20
    pending = [r for r in client.app[STORE].outbound.list() if r["status"] == "pending"]
    assert len(pending) == 5  # held back, not lost


async def test_frequency_error_is_transient_and_bad_key_is_permanent(client, robot):
    adapter = client.app[ADAPTERS]["webhook"]
    robot.fail_next = [45009]
    from bot.adapters.base import Delivery

    with pytest.raises(TransientSendError) as info:
        await adapter.send(Delivery(id=1, platform="webhook", chat_id="宝妈群机器人", chat_kind="group",
                                    payload={"text": "hi"}))
    assert info.value.retry_after == 60.0
    with pytest.raises(PermanentSendError):
        await adapter.send(Delivery(id=2, platform="webhook", chat_id="失效机器人", chat_kind="group",
                                    payload={"text": "hi"}))
    with pytest.raises(PermanentSendError):
        await adapter.send(Delivery(id=3, platform="webhook", chat_id="没有这个", chat_kind="group",
                                    payload={"text": "hi"}))


async def test_robot_url_is_a_secret_never_in_status(client):
    adapter = client.app[ADAPTERS]["webhook"]
    assert KEY not in str(adapter.status()) and KEY not in repr(adapter)
    assert ("target", 20, 60.0) in {(r.scope, r.count, r.period) for r in adapter.rate_limits}


def test_duplicate_robot_names_are_rejected(tmp_path):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="重复"):
        make_settings(tmp_path, adapters={"webhook": [{"name": "a", "url": "https://x/1"},
                                                      {"name": "a", "url": "https://x/2"}]})
