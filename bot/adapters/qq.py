"""QQ official bot (QQ 机器人开放平台): webhook in, passive replies out.

Inbound: one POST route (`path`). op 13 (callback-URL validation) is answered with
`plain_token` and our Ed25519 signature of `event_ts + plain_token`, with or without
signature headers; op 0 (Dispatch) must carry `X-Signature-Ed25519` over
`X-Signature-Timestamp + body`, else 401 and nothing is recorded. A signed timestamp outside
`replay_window` is refused (403); the same signed request again within it is dropped (ACKed,
not processed). Events are committed before the `{"op": 12}` ACK.

Outbound: the platform only takes passive replies — `msg_id` of the member's message (or the
`event_id` of GROUP_ADD_ROBOT) with `msg_seq` 1, 2, … (at most 5 per message) within 5 minutes
in groups and 60 minutes in 1:1 chats. Proactive messages (posts, broadcasts, late replies)
go out only within `proactive_per_month` per chat (0 by default: the platform stopped them on
2025-04-21); past it they fail with the reason, never silently. Recall is DELETE on the
message; mute and remove have no API, so moderation degrades to a reply.
Docs: https://bot.q.qq.com/wiki/develop/api-v2/ (event-emit, sign, send, reset, api-use).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from bot.adapters.base import ActionNotSupported, Adapter, Delivery, PermanentSendError
from bot.adapters.callback_guard import (
    ERR_MALFORMED,
    ERR_RECEIVE_ID,
    ERR_SIGNATURE,
    MAX_JSON_BODY,
    ReplayGuard,
    platform_callback,
    read_body,
    refuse,
)
from bot.adapters.config import QqSettings
from bot.adapters.intake import render_text, submit_all
from bot.adapters.qq_api import QqApi
from bot.adapters.qq_events import BOT_ADDED, BOT_REMOVED, MEMBER_IDS_PER_GROUP, PLATFORM, MalformedEvent, to_event
from bot.adapters.qq_sign import QqSigner
from bot.adapters.safe_json import MalformedJson, loads_object
from bot.kernel.actions import PRIVATE, RECALL, SEND
from bot.kernel.events import ChatKind, Event

log = logging.getLogger("qunbot.adapters")

# reply windows and per-message reply limit published in the send docs
GROUP_REPLY_WINDOW = 300.0
C2C_REPLY_WINDOW = 3600.0
MAX_REPLIES = 5
# quotas count by calendar month in the platform's time zone
BEIJING = timezone(timedelta(hours=8))
# op 13's fields are signed by us: only plain characters, so the answer can never be a valid
# signature of some timestamp + JSON body (which would let anyone forge events)
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_DIGITS = re.compile(r"[0-9]{1,13}")
ACK = {"op": 12}

NO_PROACTIVE = ("QQ 机器人平台自 2025-04-21 起不再提供主动消息：只能在成员 @机器人 后 5 分钟内"
                "（单聊 60 分钟内）被动回复，定时发布与群发无法送达 QQ 群")


@dataclass(slots=True)
class _Origin:
    """What a reply needs to know about the message it answers."""

    group: bool
    at: datetime
    by_event: bool = False  # GROUP_ADD_ROBOT: answered with event_id instead of msg_id


def month_start(now: datetime) -> datetime:
    """The first instant of `now`'s calendar month in Beijing time (as UTC)."""
    local = now.astimezone(BEIJING)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


class QqAdapter(Adapter):
    """One QQ bot (AppID) over the webhook and the OpenAPI."""

    name = PLATFORM
    capabilities = frozenset({SEND, PRIVATE, RECALL})
    member_ids_per_chat = MEMBER_IDS_PER_GROUP

    def __init__(self, settings: QqSettings, api: QqApi | None = None) -> None:
        self.settings = settings
        self.bot = None
        self.signer = QqSigner(settings.app_secret) if settings.app_secret else None
        self.guard = ReplayGuard(settings.replay_window, self._now)
        self.api = api or QqApi(settings.openapi, settings.token_url, settings.app_id, settings.app_secret)
        self._origins: dict[str, _Origin] = {}
        self._private: set[str] = set()
        # group -> uid of its GROUP_ADD_ROBOT event: its event_id carries a few passive messages
        self._added: dict[str, str] = {}
        # proactive sends under way per chat: counted with the ledger's sent ones against the quota
        self._in_flight: dict[str, int] = {}
        self._seq: dict[str, int] = {}
        self._delivery_seq: dict[int, int] = {}
        self.accepted = 0
        self.refused = 0
        self.replays_dropped = 0
        self.validations = 0
        self.passive_replies = 0

    def __repr__(self) -> str:
        return f"QqAdapter(app_id={self.settings.app_id!r}, sandbox={self.settings.sandbox})"

    def _now(self) -> float:
        return self.bot.clock.now().timestamp() if self.bot else time.time()

    def _now_dt(self) -> datetime:
        return self.bot.clock.now() if self.bot else datetime.now(UTC)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post(self.settings.path, self.callback)]

    async def stop(self) -> None:
        await self.api.close()

    # -- inbound --------------------------------------------------------------------

    @platform_callback
    async def callback(self, request: web.Request) -> web.Response:
        try:
            return await self._handle(request)
        except web.HTTPException as exc:
            if exc.status >= 400 and exc.status != 503:
                self.refused += 1
            raise

    async def _handle(self, request: web.Request) -> web.Response:
        body = await read_body(self.name, request, MAX_JSON_BODY)
        appid = request.headers.get("X-Bot-Appid")
        if appid is not None and appid != self.settings.app_id:
            raise refuse(self.name, request, 403, ERR_RECEIVE_ID)
        if self.signer is None:
            raise refuse(self.name, request, 401, ERR_SIGNATURE, detail="no app_secret configured")
        payload = _json(self.name, request, body)
        op = payload.get("op")
        if op == 13:
            return self._validate(request, payload)
        # every event must be signed by the platform: checked before anything else is believed
        signature = request.headers.get("X-Signature-Ed25519", "")
        timestamp = request.headers.get("X-Signature-Timestamp", "")
        if not signature or not timestamp or not self.signer.verify(signature, timestamp, body):
            raise refuse(self.name, request, 401, ERR_SIGNATURE)
        self.guard.check_timestamp(self.name, request, timestamp)
        if self.guard.seen(timestamp, signature):
            self.replays_dropped += 1
            log.warning("qq event replayed within the window, dropped", extra={"adapter": self.name})
            return web.json_response(ACK)
        if op != 0:
            log.info("qq webhook op %s ignored", op, extra={"adapter": self.name})
            return web.json_response(ACK)
        try:
            event = to_event(payload)
        except MalformedEvent as exc:
            raise refuse(self.name, request, 400, ERR_MALFORMED, detail=str(exc)) from None
        self.guard.remember(timestamp, signature)
        self.accepted += 1
        if event is not None and self.bot is not None:
            self._note_origin(event)
            try:
                await submit_all(self.bot, [event])  # durably recorded before the ACK
            except Exception:
                self.guard.forget(timestamp, signature)  # not taken in: the platform's retry must get through
                raise
        return web.json_response(ACK)

    def _validate(self, request: web.Request, payload: dict[str, Any]) -> web.Response:
        """op 13: sign event_ts + plain_token. Answered whether or not headers are present."""
        assert self.signer is not None
        data = payload.get("d")
        data = data if isinstance(data, dict) else {}
        plain, ts = data.get("plain_token"), data.get("event_ts")
        if not isinstance(plain, str) or not _PLAIN_TOKEN.fullmatch(plain):
            raise refuse(self.name, request, 400, ERR_MALFORMED, field="plain_token")
        if not isinstance(ts, str) or not _DIGITS.fullmatch(ts):
            raise refuse(self.name, request, 400, ERR_MALFORMED, field="event_ts")
        self.validations += 1
        log.info("QQ bot callback URL validated", extra={"adapter": self.name})
        return web.json_response(self.signer.answer_validation(plain, ts))

    def _note_origin(self, event: Event) -> None:
        group = event.chat_kind is ChatKind.GROUP
        if not group:
            self._private.add(event.chat_id)
        if len(self._origins) > 50_000:  # a forgotten origin is read back from the recorded message
            self._origins.clear()
        by_event = event.raw.get("t") == BOT_ADDED
        self._origins[event.uid] = _Origin(group, self._now_dt(), by_event=by_event)
        if by_event:
            self._added[event.chat_id] = event.uid
        elif event.raw.get("t") == BOT_REMOVED:
            self._added.pop(event.chat_id, None)

    # -- outbound -------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> str | None:
        """A passive reply when the delivery answers a message still within its window; a
        message to a group that just added the bot rides on that event's event_id (a welcome);
        otherwise a proactive message, within the monthly quota."""
        text = render_text(delivery.payload).strip() or " "
        group = delivery.chat_kind != "private"
        body: dict[str, Any] = {"content": text, "msg_type": 0}
        reply_to = delivery.source.removeprefix("reply:") if delivery.source.startswith("reply:") else ""
        added = self._added.get(delivery.chat_id) if group and not reply_to else None
        if reply_to:
            body |= await self._passive(delivery, reply_to)
        elif added and (fields := await self._passive(delivery, added, strict=False)):
            body |= fields
            reply_to = added
        else:
            await self._check_quota(delivery)
            self._in_flight[delivery.chat_id] = self._in_flight.get(delivery.chat_id, 0) + 1
        try:
            data = await self.api.send(group, delivery.chat_id, body)
        finally:
            if not reply_to:
                self._in_flight[delivery.chat_id] -= 1
        self._delivery_seq.pop(delivery.id, None)
        if reply_to:
            self.passive_replies += 1
        message_id = data.get("id")
        return str(message_id) if message_id else None

    async def _passive(self, delivery: Delivery, uid: str, strict: bool = True) -> dict[str, Any]:
        """msg_id (or event_id) and msg_seq for a passive message answering `uid`; when it is
        too late or used up: PermanentSendError, or {} when not `strict`."""
        origin = self._origins.get(uid) or await self._origin_from_store(uid)
        if origin is None:
            if not strict:
                return {}
            raise PermanentSendError("找不到被回复的 QQ 消息，无法被动回复")
        window = GROUP_REPLY_WINDOW if origin.group else C2C_REPLY_WINDOW
        age = (self._now_dt() - origin.at).total_seconds()
        used_up = self._seq.get(uid, 0) >= MAX_REPLIES and delivery.id not in self._delivery_seq
        if not strict and (age > window or used_up):
            return {}
        if age > window:
            raise PermanentSendError(
                f"已超出 QQ 被动回复时限（{'群聊 5 分钟' if origin.group else '单聊 60 分钟'}），"
                "平台不再接受这条回复")
        seq = self._delivery_seq.get(delivery.id)
        if seq is None:  # a retry of the same delivery keeps its seq: the platform refuses a repeat
            seq = self._seq.get(uid, 0) + 1
            if seq > MAX_REPLIES:
                raise PermanentSendError(f"QQ 平台每条消息最多被动回复 {MAX_REPLIES} 次")
            self._seq[uid] = seq
            self._delivery_seq[delivery.id] = seq
        message_id = uid.removeprefix(f"{PLATFORM}:")
        return {"event_id" if origin.by_event else "msg_id": message_id, "msg_seq": seq}

    async def _origin_from_store(self, uid: str) -> _Origin | None:
        """After a restart: the window is measured from the recorded message's time."""
        if self.bot is None:
            return None
        row = await self.bot.store.read(self.bot.store.messages.get, uid)
        if not row:
            return None
        at = row.get("time")
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        if not isinstance(at, datetime):
            return None
        raw = row.get("raw")
        raw = raw if isinstance(raw, dict) else {}
        return _Origin(row.get("chat_kind") != "private", at if at.tzinfo else at.replace(tzinfo=UTC),
                       by_event=raw.get("t") == BOT_ADDED)

    async def _check_quota(self, delivery: Delivery) -> None:
        quota = self.settings.proactive_per_month
        if quota <= 0:
            raise PermanentSendError(NO_PROACTIVE)
        used = 0
        if self.bot is not None:
            store = self.bot.store
            used = await store.read(store.outbound.proactive_sent, self.name, delivery.chat_id,
                                    month_start(self._now_dt()))
        used += self._in_flight.get(delivery.chat_id, 0)
        if used >= quota:
            raise PermanentSendError(
                f"本月发给该{'群' if delivery.chat_kind != 'private' else '用户'}的 QQ 主动消息已达 {quota} 条上限"
                "（平台按自然月计），下月再发")

    def proactive_note(self) -> str:
        """What a preview says about posts to QQ chats (shown next to each QQ target)."""
        return self.settings.proactive_note

    async def perform(self, action: dict[str, Any]) -> None:
        """recall only: the QQ bot OpenAPI has no mute or remove."""
        kind = action.get("action", "")
        if kind != "recall":
            raise ActionNotSupported(kind or "?")
        chat = str(action.get("chat_id", ""))
        message_id = str(action.get("message_id") or "") or str(action.get("message_uid", "")).removeprefix(
            f"{PLATFORM}:")
        if not chat or not message_id:
            raise PermanentSendError("撤回需要群 ID 和消息 ID")
        await self.api.recall(chat not in self._private, chat, message_id)
        log.info("QQ recall done", extra={"chat": chat})

    def status(self) -> dict[str, Any]:
        return {
            **super().status(), "path": self.settings.path, "app_id": self.settings.app_id,
            "sandbox": self.settings.sandbox, "token_cached": self.api.token.valid,
            "callbacks_accepted": self.accepted, "callbacks_refused": self.refused,
            "replays_dropped": self.replays_dropped, "validations": self.validations,
            "passive_replies": self.passive_replies, "proactive_per_month": self.settings.proactive_per_month,
        }


def _json(adapter: str, request: web.Request, body: bytes) -> dict[str, Any]:
    """Strict JSON (no NaN, no absurd nesting): parsed before the signature check, since op 13
    comes unsigned, so it must never raise anything but a 400."""
    try:
        return loads_object(body)
    except MalformedJson as exc:
        raise refuse(adapter, request, 400, ERR_MALFORMED, detail=str(exc)[:120]) from None
