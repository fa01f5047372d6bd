"""OneBot over HTTP: verified event POSTs in, the implementation's HTTP API for actions out."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import aiohttp
from aiohttp import web

from bot.adapters.callback_guard import ERR_MALFORMED, ERR_SIGNATURE, ERR_TOKEN, refuse, same_secret
from bot.adapters.onebot_ws import ActionLost, ActionNotSent, ActionTimeout, bearer
from bot.adapters.safe_json import MalformedJson, loads_object


def body_signature(secret: str, body: bytes) -> str:
    """`X-Signature` of OneBot v11 HTTP POST: "sha1=" + HMAC-SHA1(secret, body)."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def check_http_post(adapter: str, request: web.Request, body: bytes, version: int, secret: str,
                    access_token: str) -> None:
    """401 unless the POST is signed (v11 `secret`) or carries the access token (v12, or v11
    without a secret)."""
    if version == 11 and secret:
        given = request.headers.get("X-Signature", "")
        if not same_secret(given.lower(), body_signature(secret, body)):
            raise refuse(adapter, request, 401, ERR_SIGNATURE)
        return
    if access_token and not same_secret(bearer(request), access_token):
        raise refuse(adapter, request, 401, ERR_TOKEN)


def parse_json(adapter: str, request: web.Request, body: bytes) -> dict[str, Any]:
    """400 for anything but a JSON object (NaN, Infinity, deep nesting included)."""
    try:
        return loads_object(body)
    except MalformedJson as exc:
        raise refuse(adapter, request, 400, ERR_MALFORMED, detail=str(exc)) from None


# an event `time` past this is no Unix time in seconds (year 33658); NaN fails the test too
_LATEST = 1e12


def event_stamp(adapter: str, request: web.Request, payload: dict[str, Any]) -> str:
    """The event's `time` in whole seconds for the replay guard; "" when it carries none.
    400 for a number that is no time (negative, absurdly large)."""
    value = payload.get("time")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if not 0 <= value < _LATEST:
        raise refuse(adapter, request, 400, ERR_MALFORMED, field="time")
    return str(int(value))


def digest(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


# an HTTP 5xx from the implementation is reported like v11's "busy" retcode: retried later
BUSY_HTTP = 36000


class HttpApi:
    """The implementation's HTTP API (v11: POST {api_url}/{action}; v12: POST {api_url} with
    {"action", "params"}), authenticated with the access token."""

    def __init__(self, api_url: str, version: int, access_token: str, timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.version = version
        self._token = access_token
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"HttpApi({self.api_url!r}, v{self.version})"

    async def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """The implementation's response; ActionNotSent when the request never left (no
        connection), ActionTimeout / ActionLost when it did and the answer did not come."""
        try:
            return await self._call(action, params)
        except aiohttp.ClientConnectorError as exc:
            raise ActionNotSent(f"OneBot HTTP API unreachable: {exc}") from None
        except aiohttp.ConnectionTimeoutError:
            raise ActionNotSent("OneBot HTTP API: connecting timed out") from None
        except TimeoutError:
            raise ActionTimeout(f"OneBot HTTP API did not answer {action} in {self.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise ActionLost(f"OneBot HTTP API dropped {action}: {type(exc).__name__}") from None

    async def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            # a fresh connection per request: a refused connect then means "not sent", while a
            # stale pooled one could fail mid-request and make a send look uncertain
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), connector=aiohttp.TCPConnector(force_close=True),
            )
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        if self.version == 11:
            url, body = f"{self.api_url}/{action}", params
        else:
            url, body = self.api_url, {"action": action, "params": params}
        async with self._session.post(url, json=body, headers=headers) as resp:
            if resp.status == 404:
                return {"status": "failed", "retcode": 1404 if self.version == 11 else 10002}
            if resp.status >= 400:
                # the implementation answered: it refused, it did not act
                return {"status": "failed", "retcode": BUSY_HTTP if resp.status >= 500 else -resp.status,
                        "message": f"HTTP {resp.status}"}
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = None
        if not isinstance(data, dict):
            raise ActionLost(f"OneBot HTTP API answered {action} with a non-object")
        return data

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
