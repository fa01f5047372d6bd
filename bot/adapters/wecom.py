"""企业微信 self-built application: encrypted callback in, application messages out.

Inbound: GET `path` answers the URL verification; POST `path` checks size, replay window,
signature and corp id, hands the events to the bot's intake (dedupe by MsgId + durable
record, a few milliseconds) and answers an empty 200 well within the platform's 5-second
deadline; matching, replies and actions run after the answer. Outbound: `message/send` to
a member for 1:1 chats, `appchat/send` for the group chats the application created; long
text is split at sentence ends, links become text cards.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.adapters.base import Delivery, Host, PermanentSendError, RateLimit
from bot.adapters.callback_guard import (
    ERR_MALFORMED,
    MAX_XML_BODY,
    ReplayGuard,
    parse_or_refuse,
    platform_callback,
    read_body,
    refuse,
    require_params,
)
from bot.adapters.config import WecomSettings
from bot.adapters.intake import render_text, submit_all
from bot.adapters.wecom_api import TEXT_LIMIT, WecomApi, split_text
from bot.adapters.wecom_contact import GROUPMSG_TASK, WecomContact
from bot.adapters.wx_adapter import WechatCallbackAdapter
from bot.adapters.wx_events import to_events
from bot.adapters.wxcrypto import WxCrypto, open_envelope
from bot.kernel.actions import LINK_CARD, PRIVATE, SEND
from bot.kernel.events import Event

log = logging.getLogger("qunbot.adapters")

PLATFORM = "wecom"


class WecomAdapter(WechatCallbackAdapter):
    """企业微信 application callback and message API."""

    name = PLATFORM
    capabilities = frozenset({SEND, PRIVATE, LINK_CARD})
    # WeCom text messages: "最长不超过2048个字节" (app message API and group robot alike)
    max_text_bytes = 2048
    # the platform silently drops messages past these, so the outbox holds them back instead
    rate_limits = (RateLimit("target", 30, 60.0), RateLimit("target", 1000, 3600.0))

    def __init__(self, settings: WecomSettings, api: WecomApi | None = None) -> None:
        self.settings = settings
        self.bot = None
        self.crypto = WxCrypto("wecom", settings.token, settings.encoding_aes_key, settings.corp_id)
        self.guard = ReplayGuard(settings.replay_window, self._now)
        self.api = api or WecomApi(settings.api_base, settings.corp_id, settings.secret, settings.agent_id)
        self._parts_sent: dict[int, int] = {}
        # customer groups (客户联系): sync, change callbacks, 企业群发 tasks; None when not configured
        self.contact = WecomContact(settings, token=self.api.token) if settings.contact_enabled else None
        self.accepted = 0
        self.refused = 0

    def __repr__(self) -> str:
        return f"WecomAdapter(corp_id={self.settings.corp_id!r}, agent_id={self.settings.agent_id!r})"

    async def start(self, bot: Host) -> None:
        await super().start(bot)
        if self.contact is not None:
            await self.contact.start(bot)

    async def stop(self) -> None:
        if self.contact is not None:
            await self.contact.stop()
        await super().stop()

    # -- inbound --------------------------------------------------------------------

    @platform_callback
    async def verify_url(self, request: web.Request) -> web.Response:
        q = require_params(self.name, request, "msg_signature", "timestamp", "nonce", "echostr")
        echo = open_envelope(self.name, request, self.crypto, q["echostr"], q["msg_signature"],
                             q["timestamp"], q["nonce"])
        self.guard.check_timestamp(self.name, request, q["timestamp"])  # signed: now it means something
        log.info("企业微信 callback URL verified", extra={"adapter": self.name})
        return web.Response(text=echo)

    @platform_callback
    async def callback(self, request: web.Request) -> web.Response:
        try:
            events, q = await self._open(request)
        except web.HTTPException:
            self.refused += 1
            raise
        self.accepted += 1
        if events and self.bot is not None:
            # durably recorded before the answer: a crash after the 200 loses nothing; if this
            # fails the 500 makes the platform retry, so its nonce must be accepted again
            try:
                await submit_all(self.bot, events)
            except Exception:
                self.guard.forget(q["timestamp"], q["nonce"])
                raise
        return web.Response(text="")

    async def _open(self, request: web.Request) -> tuple[list[Event], dict[str, str]]:
        body = await read_body(self.name, request, MAX_XML_BODY)
        q = require_params(self.name, request, "msg_signature", "timestamp", "nonce")
        outer = parse_or_refuse(self.name, request, body)
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise refuse(self.name, request, 400, ERR_MALFORMED, detail="no Encrypt element")
        plaintext = open_envelope(self.name, request, self.crypto, encrypt, q["msg_signature"],
                                  q["timestamp"], q["nonce"])
        # the signature covers timestamp and nonce: only now may they be trusted
        self.guard.check_timestamp(self.name, request, q["timestamp"])
        self.guard.check_nonce(self.name, request, q["timestamp"], q["nonce"])
        msg = parse_or_refuse(self.name, request, plaintext)
        agent = msg.get("AgentID")
        if isinstance(agent, str) and agent and agent != str(self.settings.agent_id):
            log.warning("企业微信 callback for another agent %s ignored", agent, extra={"adapter": self.name})
            return [], q
        if self.contact is not None:
            # customer group changes update the synced groups after the answer; the joins and
            # leaves among them also reach the pipeline below, as for any group
            self.contact.on_callback(msg)
        return to_events(self.name, msg), q

    # -- outbound -------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> str | None:
        """1:1 chats through message/send, app chats through appchat/send; links as text cards.
        A split text resumes after the last part that went out, so a retry never repeats one.
        One owner's customer groups become one 企业群发 task (the owner confirms it)."""
        if delivery.chat_kind == GROUPMSG_TASK:
            if self.contact is None:
                raise PermanentSendError("未配置企业微信客户联系（[adapters.wecom] contact_secret），无法群发到客户群")
            return await self.contact.submit(delivery)
        if self.contact is not None and delivery.chat_id in self.contact.group_ids:
            # WeCom lets no app speak in a customer group: only its owner, after confirming a task
            raise PermanentSendError("客户群不能由机器人直接发言：定时消息和群发会转为企业群发任务（群主确认后发出），"
                                     "入群欢迎语请用 qunbot wecom welcome 推送为入群欢迎语素材")
        send = self.api.send_to_user if delivery.chat_kind == "private" else self.api.send_to_appchat
        payload = delivery.payload
        if payload.get("kind") == "link" and payload.get("url"):
            text = payload.get("text", "")
            card = {"title": _cut(payload.get("title") or text, 128), "description": _cut(text, 512),
                    "url": payload["url"]}
            return await send(delivery.chat_id, text, card) or None
        parts = split_text(render_text(payload), TEXT_LIMIT)
        msg_id = ""
        for i in range(self._parts_sent.get(delivery.id, 0), len(parts)):
            msg_id = await send(delivery.chat_id, parts[i]) or msg_id
            self._parts_sent[delivery.id] = i + 1
        self._parts_sent.pop(delivery.id, None)
        return msg_id or None

    def status(self) -> dict[str, Any]:
        return {
            **super().status(), "path": self.settings.path, "corp_id": self.settings.corp_id,
            "agent_id": self.settings.agent_id, "token_cached": self.api.token.valid,
            "callbacks_accepted": self.accepted, "callbacks_refused": self.refused,
            **(self.contact.status() if self.contact is not None else {}),
        }


def _cut(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut on a character boundary."""
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")
