"""微信公众号 server callback: plaintext, compatible and safe (encrypted) modes.

A member's message gets one passive reply in the HTTP answer if the pipeline produces it
within `reply_wait` (default 4 s, under the platform's 5-second deadline); otherwise the
callback answers `success` and the reply goes out later as a customer-service message.
The outbox hands the reply to `send()`, which resolves the waiting callback when there is
one. Messages dedupe by MsgId, events by FromUserName + CreateTime (see wx_events).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot.adapters.base import Delivery
from bot.adapters.callback_guard import (
    ERR_MALFORMED,
    ERR_SIGNATURE,
    MAX_XML_BODY,
    ReplayGuard,
    parse_or_refuse,
    platform_callback,
    read_body,
    refuse,
    require_params,
)
from bot.adapters.config import MpSettings
from bot.adapters.intake import render_text, submit_all
from bot.adapters.wecom_api import TEXT_LIMIT, MpApi, split_text
from bot.adapters.wx_adapter import WechatCallbackAdapter
from bot.adapters.wx_events import to_events
from bot.adapters.wxcrypto import WxCrypto, open_envelope, signature_ok
from bot.kernel.actions import PRIVATE, SEND
from bot.kernel.events import EventType

log = logging.getLogger("qunbot.adapters")

PLATFORM = "mp"
PASSIVE_ID = "passive"


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def passive_reply(to_user: str, from_user: str, text: str, create_time: int) -> str:
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(text)}</Content></xml>"
    )


class MpAdapter(WechatCallbackAdapter):
    """公众号 callback with passive replies and customer-service messages."""

    name = PLATFORM
    capabilities = frozenset({SEND, PRIVATE})

    def __init__(self, settings: MpSettings, api: MpApi | None = None) -> None:
        self.settings = settings
        self.bot = None
        self.crypto = (
            WxCrypto("mp", settings.token, settings.encoding_aes_key, settings.app_id)
            if settings.encoding_aes_key else None
        )
        self.guard = ReplayGuard(settings.replay_window, self._now)
        self.api = api or MpApi(settings.api_base, settings.app_id, settings.app_secret)
        self._waiters: dict[str, asyncio.Future[str]] = {}
        self._parts_sent: dict[int, int] = {}
        self.passive_replies = 0
        self.accepted = 0
        self.refused = 0

    def __repr__(self) -> str:
        return f"MpAdapter(app_id={self.settings.app_id!r})"

    @platform_callback
    async def verify_url(self, request: web.Request) -> web.Response:
        q = require_params(self.name, request, "signature", "timestamp", "nonce", "echostr")
        if not signature_ok(q["signature"], self.settings.token, q["timestamp"], q["nonce"]):
            raise refuse(self.name, request, 401, ERR_SIGNATURE)
        self.guard.check_timestamp(self.name, request, q["timestamp"])  # signed: now it means something
        log.info("公众号 server URL verified", extra={"adapter": self.name})
        return web.Response(text=q["echostr"])

    @platform_callback
    async def callback(self, request: web.Request) -> web.Response:
        try:
            msg, encrypted, q = await self._open(request)
        except web.HTTPException:
            self.refused += 1
            raise
        self.accepted += 1
        events = to_events(self.name, msg)
        if not events or self.bot is None:
            return web.Response(text="success")
        first = events[0]
        try:
            if first.type is not EventType.MESSAGE or not self.settings.reply_wait:
                await submit_all(self.bot, events)
                return web.Response(text="success")
            text = await self._wait_for_reply(events)
        except Exception:
            self.guard.forget(q["timestamp"], q["nonce"])  # not taken in: the retry must get through
            raise
        if text is None:
            return web.Response(text="success")
        self.passive_replies += 1
        reply = passive_reply(first.sender_id, str(msg.get("ToUserName", "")), text, int(self._now()))
        if encrypted and self.crypto is not None:
            reply = self.crypto.encrypt_reply(reply, q["nonce"], q["timestamp"])
        return web.Response(text=reply, content_type="application/xml")

    async def _wait_for_reply(self, events: list) -> str | None:
        """Submit (never cut short: the intake must finish), then wait what is left of `reply_wait`."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        uid = events[0].uid
        future: asyncio.Future[str] = loop.create_future()
        self._waiters[uid] = future
        try:
            assert self.bot is not None, "mp adapter used before start()"
            if (await submit_all(self.bot, events))[0] == "duplicate":
                return None  # a platform retry: the first request got (or gets) the reply
            remaining = float(self.settings.reply_wait) - (loop.time() - started)
            if remaining <= 0:
                return None
            async with asyncio.timeout(remaining):
                return await future
        except TimeoutError:
            return None
        finally:
            if self._waiters.get(uid) is future:
                del self._waiters[uid]

    async def _open(self, request: web.Request) -> tuple[dict[str, Any], bool, dict[str, str]]:
        body = await read_body(self.name, request, MAX_XML_BODY)
        q = require_params(self.name, request, "signature", "timestamp", "nonce")
        if not signature_ok(q["signature"], self.settings.token, q["timestamp"], q["nonce"]):
            raise refuse(self.name, request, 401, ERR_SIGNATURE)
        self.guard.check_timestamp(self.name, request, q["timestamp"])  # signed: now it means something
        outer = parse_or_refuse(self.name, request, body)
        encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
        if self.crypto is not None and not encrypted:
            # with a key configured only encrypted callbacks count: no downgrade to plaintext
            raise refuse(
                self.name, request, 400, ERR_MALFORMED, detail="plaintext callback but encoding_aes_key is set"
            )
        if encrypted:
            # safe mode (and compatible mode's Encrypt element): the content must come from the ciphertext
            signature = require_params(self.name, request, "msg_signature")["msg_signature"]
            encrypt = outer.get("Encrypt")
            if self.crypto is None or not isinstance(encrypt, str) or not encrypt:
                raise refuse(self.name, request, 400, ERR_MALFORMED, detail="no Encrypt element or no key")
            plaintext = open_envelope(self.name, request, self.crypto, encrypt, signature,
                                      q["timestamp"], q["nonce"])
            self.guard.check_nonce(self.name, request, q["timestamp"], q["nonce"])
            return parse_or_refuse(self.name, request, plaintext), True, q
        self.guard.check_nonce(self.name, request, q["timestamp"], q["nonce"])
        return outer, False, q

    async def send(self, delivery: Delivery) -> str | None:
        text = render_text(delivery.payload)
        parts = split_text(text, TEXT_LIMIT)
        waiter = self._waiters.get(delivery.source.removeprefix("reply:"))
        if waiter is not None and not waiter.done() and len(parts) == 1 and delivery.occurrence == "0":
            waiter.set_result(text)
            return PASSIVE_ID
        msg_id = ""
        for i in range(self._parts_sent.get(delivery.id, 0), len(parts)):
            msg_id = await self.api.send_custom(delivery.chat_id, parts[i]) or msg_id
            self._parts_sent[delivery.id] = i + 1
        self._parts_sent.pop(delivery.id, None)
        return msg_id or None

    def status(self) -> dict[str, Any]:
        return {
            **super().status(), "path": self.settings.path, "app_id": self.settings.app_id,
            "mode": "safe" if self.crypto else "plaintext", "token_cached": self.api.token.valid,
            "passive_replies": self.passive_replies, "callbacks_accepted": self.accepted,
            "callbacks_refused": self.refused,
        }
