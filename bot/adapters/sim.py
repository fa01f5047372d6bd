"""The simulator platform: groups and members that live in the console, for trying rules.

Inbound messages come from the console's simulator page; what the bot "sends" is written to
the same messages table as outgoing rows, keyed by delivery id, so a resend after a crash is
a no-op (idempotent) and the chat page shows exactly what a real group would have received.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from typing import Any

from bot.adapters.base import (
    Adapter,
    Delivery,
    PermanentSendError,
    TransientSendError,
)
from bot.kernel.actions import IMAGE, KICK, LINK_CARD, MUTE, PRIVATE, RECALL, SEND, WHOLE_BAN
from bot.kernel.events import ChatKind, Event, EventType

PLATFORM = "sim"


class SimAdapter(Adapter):
    name = PLATFORM
    capabilities = frozenset({SEND, RECALL, MUTE, KICK, PRIVATE, LINK_CARD, IMAGE, WHOLE_BAN})
    idempotent_send = True

    def __init__(self) -> None:
        self.bot = None
        # simulated groups seen in the database; a reset by another process re-creates them
        self._known_chats: set[str] = set()

    def make_event(
        self, chat_id: str, chat_kind: ChatKind, member_id: str, member_name: str, text: str, *,
        time: datetime, mentions: list[str] | None = None, to_me: bool = False,
        type: EventType = EventType.MESSAGE, chat_name: str = "", attachments: list[str] | None = None,
    ) -> Event:
        return Event(
            platform=PLATFORM, chat_id=chat_id, chat_kind=chat_kind, sender_id=member_id,
            sender_name=member_name, message_id=uuid.uuid4().hex[:16], time=time, text=text,
            mentions=mentions or [], to_me=to_me, type=type, chat_name=chat_name,
            attachments=attachments or [], raw={"source": "simulator"},
        )

    async def send(self, delivery: Delivery) -> str | None:
        bot = self.bot
        assert bot is not None, "sim adapter used before start()"
        store = bot.store
        uid = f"{PLATFORM}:out:{delivery.id}"
        if delivery.chat_kind != "private" and not await self._chat_exists(delivery.chat_id):
            raise PermanentSendError(f"模拟群 {delivery.chat_id} 不存在")
        raw = {"delivery": delivery.id, "source": delivery.source, "payload": delivery.payload}
        # Written in the recorder's next batch, the same transaction as the outbox's "sent"
        # mark: both land or neither does, and a resend after a crash is a no-op (same uid).
        # One transaction per reply made the simulator the writer thread's biggest job.
        bot.defer_row(store.messages.record_outgoing_many, {
            "uid": uid, "platform": PLATFORM, "chat_id": delivery.chat_id, "chat_kind": delivery.chat_kind,
            "sender_id": "bot", "sender_name": bot.bot_name, "text": _render(delivery.payload),
            "time": bot.clock.now(), "raw": raw,
        })
        return uid

    async def _chat_exists(self, chat_id: str) -> bool:
        if chat_id in self._known_chats:
            return True
        assert self.bot is not None, "sim adapter used before start()"
        store = self.bot.store
        try:
            found = await store.run(store.chats.get_chat, PLATFORM, chat_id)
        except sqlite3.Error as exc:  # the simulator's "platform" is the database: busy, not a bug
            raise TransientSendError(f"模拟平台暂不可用：{exc}") from None
        if found is None:
            return False
        self._known_chats.add(chat_id)
        return True

    async def perform(self, action: dict[str, Any]) -> None:
        """Simulated platform actions are shown in the chat as system notices."""
        bot = self.bot
        assert bot is not None, "sim adapter used before start()"
        store = bot.store
        kind = action.get("action")
        who = action.get("member_name") or action.get("member_id", "")
        notices = {
            "recall": f"[系统] 一条消息已被撤回（{who}）",
            "mute": f"[系统] {who} 已被禁言 {_span(int(action.get('seconds', 0)))}",
            "unmute": f"[系统] {who} 已解除禁言",
            "kick": f"[系统] {who} 已被移出群聊",
            "whole_ban": "[系统] 全员禁言已" + ("开启" if action.get("enable") else "关闭"),
        }
        if kind not in notices:
            from bot.adapters.base import ActionNotSupported

            raise ActionNotSupported(kind or "?")
        if kind == "recall" and action.get("message_uid"):
            # through the recorder, so the status lands after the message's own (batched) status
            bot.defer(store.messages.set_status, [(action["message_uid"], "recalled")])
        if kind == "kick" and action.get("member_id"):
            try:
                await store.run(store.chats.upsert_member, PLATFORM, action["chat_id"], action["member_id"], left=True)
            except sqlite3.Error as exc:
                raise TransientSendError(f"模拟平台暂不可用：{exc}") from None
        # the notice rides the recorder's next batch, like a reply: a moderation action must
        # not make the worker wait for the writer thread (a transaction per recall did)
        bot.defer_row(store.messages.record_outgoing_many, {
            # keyed by the outbox row when there is one: a repeat after a crash is a no-op
            "uid": f"{PLATFORM}:act:{action.get('delivery_id') or uuid.uuid4().hex[:12]}", "platform": PLATFORM,
            "chat_id": action["chat_id"], "chat_kind": "group", "sender_id": "system", "sender_name": "系统",
            "text": notices[kind], "time": bot.clock.now(), "raw": {"action": action},
        })


def _span(seconds: int) -> str:
    """Days / hours / minutes, as a member reads a mute's length (never seconds)."""
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    parts = ([f"{days} 天"] if days else []) + ([f"{hours} 小时"] if hours else [])
    parts += [f"{minutes} 分钟"] if minutes and not days else []
    return " ".join(parts) or "不到 1 分钟"


def _render(payload: dict[str, Any]) -> str:
    text = payload.get("text", "")
    if payload.get("kind") == "link" and payload.get("url") and payload["url"] not in text:
        title = payload.get("title") or ""
        return f"{text}\n🔗 {title} {payload['url']}".strip()
    if payload.get("kind") == "image" and payload.get("image"):
        return f"{text}\n[图片] {payload['image']}".strip()
    return text
