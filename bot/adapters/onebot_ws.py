"""OneBot reverse WebSocket: the implementation connects to the bot; events in, actions out.

Each connection correlates action responses with their requests by `echo`. A call fails in
one of two ways the outbox treats differently: `ActionNotSent` (the socket was gone before
the frame was written: safe to try again) or, once the frame is out, `ActionTimeout` /
`ActionLost` (no answer in time, socket closed): the implementation may have acted. When
the implementation drops, pending calls fail at once and a log line says so; it reconnects
on its own and the new socket replaces the old one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.adapters.safe_json import MalformedJson, loads_object

log = logging.getLogger("qunbot.adapters")

API_ROLES = ("universal", "api")


class ActionNotSent(ConnectionError):
    """The action frame was never written (socket closed or closing)."""


class ActionLost(ConnectionError):
    """The action frame was written, then the socket closed before the answer came."""


class ActionTimeout(TimeoutError):
    """The implementation did not answer an action in time (it may still have done it)."""


class Connection:
    """One implementation's socket and its in-flight action calls."""

    _echo = itertools.count(1)

    def __init__(self, ws: web.WebSocketResponse, self_id: str, role: str, impl: str, started: float) -> None:
        self.ws = ws
        self.self_id = self_id
        self.role = role
        self.impl = impl
        self.connected_at = started
        self.last_heartbeat: float | None = None
        self.heartbeat_interval: float | None = None
        self.events = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    @property
    def can_act(self) -> bool:
        return self.role in API_ROLES and not self.ws.closed

    async def call(self, action: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        echo = f"qunbot-{next(self._echo)}"
        if self.ws.closed:
            raise ActionNotSent(f"OneBot socket closed before {action} was sent")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[echo] = future
        try:
            try:
                await self.ws.send_json({"action": action, "params": params, "echo": echo})
            except (ConnectionError, RuntimeError) as exc:
                raise ActionNotSent(f"OneBot socket closed before {action} was sent: {exc}") from None
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise ActionTimeout(f"OneBot action {action} timed out after {timeout:g}s") from None
        finally:
            self._pending.pop(echo, None)

    def resolve(self, payload: dict[str, Any]) -> bool:
        """Hand an action response to its caller; False when it was not one of ours."""
        future = self._pending.get(str(payload.get("echo")))
        if future is None or future.done():
            return False
        future.set_result(payload)
        return True

    async def go_away(self, timeout: float) -> None:
        """Close with 1001 (the server is stopping); the implementation reconnects later.
        An implementation that does not answer the close within `timeout` is cut off."""
        try:
            await asyncio.wait_for(
                self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down"), timeout,
            )
        except (TimeoutError, ConnectionError):
            pass

    def fail_all(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ActionLost("OneBot connection closed before the answer"))
        self._pending.clear()

    def stale(self, now: float) -> bool:
        """No heartbeat for three intervals: the implementation is probably hung."""
        if self.heartbeat_interval is None or self.last_heartbeat is None:
            return False
        return now - self.last_heartbeat > 3 * self.heartbeat_interval

    def status(self, now: float) -> dict[str, Any]:
        return {
            "self_id": self.self_id, "role": self.role, "impl": self.impl, "events": self.events,
            "last_heartbeat": self.last_heartbeat, "stale": self.stale(now),
            "pending_actions": len(self._pending),
        }


def bearer(request: web.Request) -> str:
    """The access token from `Authorization: Bearer|Token …` or the `access_token` query parameter."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value:
        return value.strip()
    return request.query.get("access_token", "")


async def serve(
    request: web.Request, version: int, on_payload: Callable[[Connection, dict[str, Any]], Awaitable[None]],
    register: Callable[[Connection], None], unregister: Callable[[Connection], None], now: Callable[[], float],
) -> web.WebSocketResponse:
    """Accept one implementation's socket and read it until it closes."""
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    protocols = tuple(p for p in offered if p.startswith("12.")) if version == 12 else ()
    ws = web.WebSocketResponse(heartbeat=30.0, protocols=protocols, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    self_id = request.headers.get("X-Self-ID", "")
    role = request.headers.get("X-Client-Role", "Universal").lower()
    impl = (protocols[0][3:] if protocols else "") or request.headers.get("User-Agent", "")
    conn = Connection(ws, self_id, role, impl, now())
    register(conn)
    log.info(
        "OneBot v%s implementation connected", version,
        extra={"self_id": self_id or "?", "role": role, "impl": impl[:60], "remote": request.remote},
    )
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.ERROR:
                    log.warning("OneBot socket error: %s", ws.exception())
                continue
            try:
                payload = loads_object(msg.data)
            except MalformedJson as exc:  # the socket stays up: pending actions still get answers
                log.warning("OneBot frame ignored: %s", exc, extra={"self_id": self_id, "size": len(msg.data)})
                continue
            if "echo" in payload and ("status" in payload or "retcode" in payload):
                conn.resolve(payload)
                continue
            try:
                await on_payload(conn, payload)
            except Exception:  # a bug, not the implementation's fault: keep its socket up
                log.exception("OneBot event could not be handled, ignored", extra={"self_id": self_id})
    finally:
        conn.fail_all()
        unregister(conn)
        log.warning(
            "OneBot v%s implementation disconnected", version,
            extra={"self_id": self_id or "?", "role": role, "close_code": ws.close_code},
        )
    return ws
