"""企业微信 self-built application: encrypted callback in, application messages out.

Inbound: GET `path` answers the URL verification; POST `path` checks size, replay window,
signature and corp id, acknowledges with an empty 200 at once (the platform's deadline is
5 seconds and it retries three times) and only then hands the events to the pipeline, which
dedupes retries by MsgId. Outbound: `message/send` to a member for 1:1 chats, `appchat/send`
for the group chats the application created; long text is split at sentence ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from bot.adapters.base import PRIVATE, SEND, Adapter, Delivery, RateLimit
from bot.adapters.callback_guard import (
    ERR_MALFORMED, ERR_UNSAFE_XML, MAX_XML_BODY, MalformedXml, ReplayGuard, UnsafeXml, parse_xml,
    read_body, refuse, require_params,
)
from bot.adapters.config import WecomSettings
from bot.adapters.wecom_api import TEXT_LIMIT, WecomApi, split_text
from bot.adapters.wx_events import to_events
from bot.adapters.wxcrypto import WxCrypto, open_envelope
from bot.events import Event
from bot.web.auth import csrf_exempt

log = logging.getLogger("qunbot.adapters")

PLATFORM = "wecom"


def parse_or_refuse(adapter: str, request: web.Request, data: bytes | str) -> dict[str, Any]:
    """Safe XML parse; 400 for DOCTYPE/ENTITY (nothing expanded) or malformed documents."""
    try:
        return parse_xml(data)
    except UnsafeXml:
        raise refuse(adapter, request, 400, ERR_UNSAFE_XML) from None
    except MalformedXml as exc:
        raise refuse(adapter, request, 400, ERR_MALFORMED, detail=str(exc)[:120]) from None


def render_text(payload: dict[str, Any]) -> str:
    """Text-only platforms: links and images become a line under the text."""
    text = payload.get("text", "")
    if payload.get("kind") == "link" and payload.get("url"):
        return f"{text}\n{payload.get('title') or ''} {payload['url']}".strip()
    if payload.get("kind") == "image" and payload.get("image"):
        return f"{text}\n{payload['image']}".strip()
    return text


class Acknowledger:
    """Submits events after the HTTP answer is on its way; keeps the tasks referenced."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def submit_later(self, bot: Any, events: list[Event]) -> None:
        async def go() -> None:
            await asyncio.sleep(0)  # let the response be written first
            for event in events:
                await bot.submit(event)

        task = asyncio.create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class WecomAdapter(Adapter):
    """企业微信 application callback and message API."""

    name = PLATFORM
    capabilities = frozenset({SEND, PRIVATE})
    # the platform silently drops messages past these, so the outbox holds them back instead
    rate_limits = (RateLimit("target", 30, 60.0), RateLimit("target", 1000, 3600.0))

    def __init__(self, settings: WecomSettings, api: WecomApi | None = None) -> None:
        self.settings = settings
        self.bot = None
        self.crypto = WxCrypto("wecom", settings.token, settings.encoding_aes_key, settings.corp_id)
        self.guard = ReplayGuard(settings.replay_window, self._now)
        self.api = api or WecomApi(settings.api_base, settings.corp_id, settings.secret, settings.agent_id)
        self.ack = Acknowledger()
        self._parts_sent: dict[int, int] = {}
        self.accepted = 0
        self.refused = 0

    def __repr__(self) -> str:
        return f"WecomAdapter(corp_id={self.settings.corp_id!r}, agent_id={self.settings.agent_id!r})"

    def _now(self) -> float:
        return self.bot.clock.now().timestamp() if self.bot else time.time()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get(self.settings.path, self.verify_url), web.post(self.settings.path, self.callback)]

    async def stop(self) -> None:
        await self.ack.drain()
        await self.api.close()

    # -- inbound --------------------------------------------------------------------

    @csrf_exempt
    async def verify_url(self, request: web.Request) -> web.Response:
        q = require_params(self.name, request, "msg_signature", "timestamp", "nonce", "echostr")
        self.guard.check_timestamp(self.name, request, q["timestamp"])
        echo = open_envelope(self.name, request, self.crypto, q["echostr"], q["msg_signature"],
                             q["timestamp"], q["nonce"])
        log.info("企业微信 callback URL verified", extra={"adapter": self.name})
        return web.Response(text=echo)

    @csrf_exempt
    async def callback(self, request: web.Request) -> web.Response:
        try:
            events = await self._open(request)
        except web.HTTPException:
            self.refused += 1
            raise
        self.accepted += 1
        if events and self.bot is not None:
            self.ack.submit_later(self.bot, events)
        return web.Response(text="")

    async def _open(self, request: web.Request) -> list[Event]:
        body = await read_body(self.name, request, MAX_XML_BODY)
        q = require_params(self.name, request, "msg_signature", "timestamp", "nonce")
        self.guard.check_timestamp(self.name, request, q["timestamp"])
        outer = parse_or_refuse(self.name, request, body)
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise refuse(self.name, request, 400, ERR_MALFORMED, detail="no Encrypt element")
        plaintext = open_envelope(self.name, request, self.crypto, encrypt, q["msg_signature"],
                                  q["timestamp"], q["nonce"])
        self.guard.check_nonce(self.name, request, q["timestamp"], q["nonce"])
        msg = parse_or_refuse(self.name, request, plaintext)
        agent = msg.get("AgentID")
        if isinstance(agent, str) and agent and agent != str(self.settings.agent_id):
            log.warning("企业微信 callback for another agent %s ignored", agent, extra={"adapter": self.name})
            return []
        return to_events(self.name, msg)

    # -- outbound -------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> str | None:
        """1:1 chats through message/send, app chats through appchat/send; resumes a split
        message after the last part that went out, so a retry never repeats a part."""
        parts = split_text(render_text(delivery.payload), TEXT_LIMIT)
        start = self._parts_sent.get(delivery.id, 0)
        msg_id = ""
        for i in range(start, len(parts)):
            if delivery.chat_kind == "private":
                msg_id = await self.api.send_to_user(delivery.chat_id, parts[i]) or msg_id
            else:
                msg_id = await self.api.send_to_appchat(delivery.chat_id, parts[i]) or msg_id
            self._parts_sent[delivery.id] = i + 1
        self._parts_sent.pop(delivery.id, None)
        return msg_id or None

    def status(self) -> dict[str, Any]:
        return {
            **super().status(), "path": self.settings.path, "corp_id": self.settings.corp_id,
            "agent_id": self.settings.agent_id, "token_cached": self.api.token.valid,
            "callbacks_accepted": self.accepted, "callbacks_refused": self.refused,
        }
