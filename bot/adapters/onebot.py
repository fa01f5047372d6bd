"""OneBot v11 / v12: bridges to personal-WeChat and QQ group chats.

Events arrive over the reverse WebSocket (`ws_path`) or HTTP POST (`http_path`); actions go
over a connected socket, else the implementation's HTTP API (`api_url`). v11 has send, recall
(`delete_msg`), mute (`set_group_ban`) and remove (`set_group_kick`); v12 only standardises
send and recall, so mute / remove exist only when mapped to an implementation's extension
action in `extension_actions` — otherwise the capability is missing and moderation degrades.
"""

from __future__ import annotations

import logging
import time
from typing import Any, TypeGuard

from aiohttp import web

from bot.adapters.base import (
    ActionNotSupported,
    Adapter,
    Delivery,
    NotConnected,
    OutcomeUnknown,
    PermanentSendError,
    TransientSendError,
)
from bot.adapters.callback_guard import (
    ERR_MALFORMED,
    ERR_TOKEN,
    MAX_JSON_BODY,
    ReplayGuard,
    platform_callback,
    read_body,
    refuse,
    same_secret,
)
from bot.adapters.config import OnebotSettings
from bot.adapters.intake import BackgroundSubmitter, submit_all
from bot.adapters.onebot_events import PLATFORM, MalformedEvent, v11_event, v12_event
from bot.adapters.onebot_http import HttpApi, check_http_post, digest, event_stamp, parse_json
from bot.adapters.onebot_ws import (
    ActionLost,
    ActionNotSent,
    ActionTimeout,
    Connection,
    bearer,
    serve,
)
from bot.kernel.actions import IMAGE, JOIN_ANSWER, KICK, MUTE, PRIVATE, RECALL, SEND, WHOLE_BAN
from bot.kernel.events import Event

log = logging.getLogger("qunbot.adapters")

# retcodes that mean "this implementation has no such action"
UNSUPPORTED = {1404, 10002}
# v12 "I Am Tired" and v11 async/worker errors are worth retrying
BUSY = {201, 36000}


def _num(value: str) -> int | str:
    """v11 ids are integers on the wire."""
    return int(value) if value.lstrip("-").isdigit() else value


class OnebotAdapter(Adapter):
    """One OneBot implementation (or several sockets of one bot account)."""

    name = PLATFORM

    def __init__(self, settings: OnebotSettings) -> None:
        self.settings = settings
        self.version = int(settings.version)
        self.bot = None
        caps = {SEND, RECALL, PRIVATE}
        if self.version == 11:
            caps |= {MUTE, KICK, IMAGE, WHOLE_BAN, JOIN_ANSWER}
        else:
            caps |= {MUTE} if "mute" in settings.extension_actions else set()
            caps |= {KICK} if "kick" in settings.extension_actions else set()
        self.capabilities = frozenset(caps)
        self.guard = ReplayGuard(settings.replay_window, self._now)
        self.http_api = (
            HttpApi(settings.api_url, self.version, settings.access_token, settings.action_timeout)
            if settings.api_url else None
        )
        self.background = BackgroundSubmitter()
        self.connections: list[Connection] = []
        self.self_id = settings.self_id

    def __repr__(self) -> str:
        return f"OnebotAdapter(v{self.version}, self_id={self.self_id!r})"

    def _now(self) -> float:
        return self.bot.clock.now().timestamp() if self.bot else time.time()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get(self.settings.ws_path, self.websocket), web.post(self.settings.http_path, self.http_post)]

    async def start(self, bot: Any) -> None:
        self.bot = bot
        if self.settings.allow_unauthenticated and not self.settings.access_token:
            log.warning("OneBot endpoints accept unauthenticated requests (allow_unauthenticated = true)")

    async def stop(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close()
        await self.background.drain()
        if self.http_api:
            await self.http_api.close()

    # -- inbound --------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        """The socket needs the access token; without one configured (v11 with only a secret
        for HTTP POST) nobody may connect, unless allow_unauthenticated says so."""
        token = self.settings.access_token
        if not token:
            return self.settings.allow_unauthenticated
        return same_secret(bearer(request), token)

    @platform_callback
    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            raise refuse(self.name, request, 401, ERR_TOKEN)
        return await serve(request, self.version, self._on_payload, self._register, self._unregister, self._now)

    def _register(self, conn: Connection) -> None:
        self.connections.append(conn)
        if conn.self_id and not self.self_id:
            self.self_id = conn.self_id
        self.connection_changed()

    def _unregister(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        self.connection_changed()

    @property
    def connected(self) -> bool:
        """A socket that takes actions is up, or the HTTP API is configured (tried on each send)."""
        return self.http_api is not None or any(c.can_act for c in self.connections)

    @platform_callback
    async def http_post(self, request: web.Request) -> web.Response:
        body = await read_body(self.name, request, MAX_JSON_BODY)
        check_http_post(self.name, request, body, self.version, self.settings.secret, self.settings.access_token)
        payload = parse_json(self.name, request, body)
        stamp = event_stamp(self.name, request, payload)
        if stamp:
            self.guard.check_timestamp(self.name, request, stamp)
            self.guard.check_nonce(self.name, request, stamp, digest(body))
        try:
            event = self._event(None, payload)
        except MalformedEvent as exc:
            raise refuse(self.name, request, 400, ERR_MALFORMED, detail=str(exc)) from None
        if event is not None and self.bot is not None:
            try:
                await submit_all(self.bot, [event])  # durably recorded before the 204
            except Exception:
                if stamp:
                    self.guard.forget(stamp, digest(body))  # not taken in: a resend must get through
                raise
        return web.Response(status=204)

    async def _on_payload(self, conn: Connection, payload: dict[str, Any]) -> None:
        try:
            event = self._event(conn, payload)
        except MalformedEvent as exc:
            log.warning("OneBot event ignored: %s", exc, extra={"self_id": conn.self_id})
            return
        if event is not None and self.bot is not None:
            self.background.submit_later(self.bot, [event])

    def _event(self, conn: Connection | None, payload: dict[str, Any]) -> Event | None:
        if payload.get("post_type") == "meta_event" or payload.get("type") == "meta":
            self._meta(conn, payload)
            return None
        if conn is not None:
            conn.events += 1
        return (v11_event if self.version == 11 else v12_event)(payload, self.self_id)

    def _meta(self, conn: Connection | None, payload: dict[str, Any]) -> None:
        kind = payload.get("meta_event_type") or payload.get("detail_type")
        if kind == "heartbeat" and conn is not None:
            conn.last_heartbeat = self._now()
            interval = payload.get("interval")
            # milliseconds; an absurd value (0, negative, 10**400) means "unknown", not a crash
            conn.heartbeat_interval = interval / 1000 if _is_number(interval) and 0 < interval < 1e9 else None
        elif kind in ("lifecycle", "connect"):
            log.info("OneBot lifecycle: %s", payload.get("sub_type") or payload.get("version") or kind,
                     extra={"self_id": conn.self_id if conn else "?"})

    # -- actions --------------------------------------------------------------------

    def _socket(self) -> Connection | None:
        usable = [c for c in self.connections if c.can_act]
        preferred = [c for c in usable if c.self_id == self.self_id]
        candidates = preferred or usable
        return candidates[-1] if candidates else None

    async def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one action; returns `data`. Raises ActionNotSupported, NotConnected (nothing
        sent), OutcomeUnknown (sent, no answer), Transient/PermanentSendError (refused)."""
        conn = self._socket()
        try:
            if conn is not None:
                response = await conn.call(action, params, float(self.settings.action_timeout))
            elif self.http_api is not None:
                response = await self.http_api.call(action, params)
            else:
                raise NotConnected("OneBot 实现未连接，且未配置 api_url")
        except ActionNotSent as exc:
            if conn is None:  # the HTTP API refused the connection: retried with backoff
                raise TransientSendError(f"OneBot 动作 {action} 未发出：{exc}") from None
            raise NotConnected(f"OneBot 动作 {action} 未发出：连接已断开") from None
        except (ActionTimeout, ActionLost) as exc:
            raise OutcomeUnknown(f"OneBot 动作 {action} 已发出但未收到结果：{exc}") from None
        retcode = int(response.get("retcode", 0) or 0)
        if response.get("status") in ("ok", "async") or retcode == 0:
            data = response.get("data")
            return data if isinstance(data, dict) else {}
        detail = response.get("message") or response.get("wording") or ""
        message = f"OneBot 动作 {action} 失败（retcode {retcode}）：{detail}"
        if retcode in UNSUPPORTED:
            raise ActionNotSupported(action)
        if retcode in BUSY:
            raise TransientSendError(message, retry_after=5.0)
        raise PermanentSendError(message)

    def _segments(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        text = payload.get("text", "")
        if payload.get("kind") == "link" and payload.get("url"):
            text = f"{text}\n{payload.get('title') or ''} {payload['url']}".strip()
        segments: list[dict[str, Any]] = []
        if payload.get("mention"):
            mention = (
                {"qq": _num(str(payload["mention"]))} if self.version == 11 else {"user_id": str(payload["mention"])}
            )
            segments += [{"type": "at" if self.version == 11 else "mention", "data": mention},
                         {"type": "text", "data": {"text": " "}}]
        segments.append({"type": "text", "data": {"text": text}})
        if payload.get("kind") == "image" and payload.get("image"):
            if self.version == 11:
                segments.append({"type": "image", "data": {"file": payload["image"]}})
            else:
                segments[-1]["data"]["text"] = f"{text}\n{payload['image']}".strip()
        return segments

    async def send(self, delivery: Delivery) -> str | None:
        message = self._segments(delivery.payload)
        group = delivery.chat_kind != "private"
        try:
            if self.version == 11:
                action, params = (
                    ("send_group_msg", {"group_id": _num(delivery.chat_id), "message": message})
                    if group
                    else ("send_private_msg", {"user_id": _num(delivery.chat_id), "message": message})
                )
            else:
                key = "group_id" if group else "user_id"
                action, params = "send_message", {"detail_type": "group" if group else "private",
                                                  key: delivery.chat_id, "message": message}
            data = await self.call(action, params)
        except ActionNotSupported as exc:
            raise PermanentSendError(f"OneBot 实现不支持 {exc}") from None
        message_id = data.get("message_id")
        return str(message_id) if message_id is not None else None

    async def perform(self, action: dict[str, Any]) -> None:
        """recall / mute / unmute / kick, as moderation asks; ActionNotSupported when impossible."""
        kind = action.get("action", "")
        chat, member = str(action.get("chat_id", "")), str(action.get("member_id", ""))
        if kind == "recall":
            message_id = str(action.get("message_id") or "") or str(action.get("message_uid", "")).removeprefix(
                f"{PLATFORM}:"
            )
            if not message_id:
                raise PermanentSendError("撤回需要消息 ID")
            if self.version == 11:
                await self.call("delete_msg", {"message_id": _num(message_id)})
            else:
                await self.call("delete_message", {"message_id": message_id})
        elif kind in ("mute", "unmute", "kick"):
            seconds = 0 if kind == "unmute" else int(action.get("seconds", 600))
            if self.version == 11:
                if kind == "kick":
                    await self.call("set_group_kick", {"group_id": _num(chat), "user_id": _num(member),
                                                       "reject_add_request": False})
                else:
                    await self.call("set_group_ban", {"group_id": _num(chat), "user_id": _num(member),
                                                      "duration": seconds})
                return
            ext = self.settings.extension_actions
            name = ext.get(kind) or (ext.get("mute") if kind == "unmute" else None)
            if not name:
                raise ActionNotSupported(kind)
            params: dict[str, Any] = {"group_id": chat, "user_id": member}
            if kind != "kick":
                params["duration"] = seconds
            await self.call(name, params)
        elif kind in ("whole_ban", "join_answer") and self.version == 11:
            await self._v11_group_admin(kind, chat, action)
        else:
            raise ActionNotSupported(kind or "?")
        log.info("OneBot action %s done", kind, extra={"chat": chat, "member": member})

    async def _v11_group_admin(self, kind: str, chat: str, action: dict[str, Any]) -> None:
        """set_group_whole_ban (curfew) and set_group_add_request (join requests), OneBot v11."""
        if kind == "whole_ban":
            await self.call("set_group_whole_ban", {"group_id": _num(chat), "enable": bool(action.get("enable"))})
            return
        params: dict[str, Any] = {"flag": str(action.get("flag", "")), "sub_type": str(action.get("sub_type") or "add"),
                                  "approve": bool(action.get("approve"))}
        if not params["approve"]:
            params["reason"] = str(action.get("reason") or "")
        await self.call("set_group_add_request", params)

    def status(self) -> dict[str, Any]:
        return {
            **super().status(), "version": self.version, "self_id": self.self_id,
            "ws_path": self.settings.ws_path, "http_path": self.settings.http_path,
            "connections": [c.status(self._now()) for c in self.connections], "http_api": bool(self.http_api),
        }


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
