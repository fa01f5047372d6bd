"""Shared defences for platform callbacks: size limit, replay window, nonce cache, safe XML.

Every refusal is an `aiohttp` HTTP error with the right status and one warning log line
that names the adapter and the reason, never a secret or the request body.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar
from xml.parsers import expat

from aiohttp import web

log = logging.getLogger("qunbot.adapters")

# the attribute that marks a handler as a platform callback (read by the console's middlewares)
PLATFORM_CALLBACK = "platform_callback"

MAX_XML_BODY = 64 * 1024
# WeChat's documents nest 2-4 levels (<xml><MemChangeList><Item>); deeper is not WeChat
MAX_XML_DEPTH = 16
MAX_JSON_BODY = 1024 * 1024

ERR_TOO_LARGE = "request body too large"
ERR_MISSING = "missing parameter"
ERR_MALFORMED = "malformed body"
ERR_UNSAFE_XML = "XML with DOCTYPE or entity declarations refused"
ERR_SIGNATURE = "bad signature"
ERR_EXPIRED = "timestamp outside the replay window"
ERR_REPLAYED = "nonce already used"
ERR_RECEIVE_ID = "receive id (corp id / app id) does not match"
ERR_TOKEN = "bad access token"

# a Unix timestamp in whole seconds as WeChat sends it; the length bound keeps int() cheap
_SECONDS = re.compile(r"[0-9]{1,13}")

_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 409: web.HTTPConflict,
}


def refuse(
    adapter: str, request: web.Request, status: int, reason: str, **extra: Any,
) -> web.HTTPException:
    """Log one line and build the HTTP error to raise (400, 401, 403, 409, 413…)."""
    log.warning(
        "%s callback refused: %s", adapter, reason,
        extra={"adapter": adapter, "status": status, "path": request.path, "remote": request.remote, **extra},
    )
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=extra.get("limit", 0), actual_size=extra.get("size", 0))
    return _ERRORS.get(status, web.HTTPBadRequest)(text=reason)


async def read_body(adapter: str, request: web.Request, limit: int) -> bytes:
    """Read the whole body, however many TCP segments it arrives in; 413 past `limit` bytes.

    `content.read(n)` returns what has arrived so far, not n bytes: keep reading until the end
    of the body, never holding more than `limit + 1` bytes of it.
    """
    if request.content_length is not None and request.content_length > limit:
        raise refuse(adapter, request, 413, ERR_TOO_LARGE, size=request.content_length, limit=limit)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise refuse(adapter, request, 413, ERR_TOO_LARGE, size=size, limit=limit)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (hmac refuses str with it: a 500)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def require_params(adapter: str, request: web.Request, *names: str) -> dict[str, str]:
    values = {n: request.query.get(n, "") for n in names}
    missing = [n for n, v in values.items() if not v]
    if missing:
        raise refuse(adapter, request, 400, ERR_MISSING, missing=",".join(missing))
    return values


class ReplayGuard:
    """Refuses timestamps outside the window and (timestamp, nonce) pairs seen within it.

    A window of 0 turns both checks off (to replay recorded requests on purpose).
    """

    def __init__(self, window: float, now: Callable[[], float] = time.time, capacity: int = 50_000) -> None:
        self.window = float(window)
        self.now = now
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def check_timestamp(self, adapter: str, request: web.Request, timestamp: str) -> None:
        """400 unless `timestamp` is whole seconds (ASCII digits), 403 outside the window.
        Call it after the signature check: an unsigned timestamp proves nothing."""
        if not _SECONDS.fullmatch(timestamp):  # no "nan", "inf", "1e400", "1_0", "٣"
            raise refuse(adapter, request, 400, ERR_MALFORMED, field="timestamp")
        if not self.window:
            return
        age = round(self.now()) - int(timestamp)
        if abs(age) > self.window:
            raise refuse(adapter, request, 403, ERR_EXPIRED, age=age)

    def seen(self, timestamp: str, nonce: str) -> bool:
        if not self.window:
            return False
        self._expire()
        return (timestamp, nonce) in self._seen

    def remember(self, timestamp: str, nonce: str) -> None:
        """Call only after the request was authenticated, so forged requests cannot fill the cache."""
        if not self.window:
            return
        self._seen[(timestamp, nonce)] = self.now() + self.window
        self._seen.move_to_end((timestamp, nonce))
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def forget(self, timestamp: str, nonce: str) -> None:
        """The request was authentic but could not be taken in: let the platform's retry through."""
        self._seen.pop((timestamp, nonce), None)

    def check_nonce(self, adapter: str, request: web.Request, timestamp: str, nonce: str) -> None:
        if self.seen(timestamp, nonce):
            raise refuse(adapter, request, 409, ERR_REPLAYED)
        self.remember(timestamp, nonce)

    def _expire(self) -> None:
        now = self.now()
        while self._seen:
            expires = next(iter(self._seen.values()))
            if expires > now:
                break
            self._seen.popitem(last=False)


class UnsafeXml(ValueError):
    """The document declares a DOCTYPE or entities: refused before anything is expanded."""


class MalformedXml(ValueError):
    """Not well-formed XML, or not the flat <xml>…</xml> document WeChat sends."""


def _forbid(*_: Any) -> NoReturn:
    raise UnsafeXml(ERR_UNSAFE_XML)


def parse_xml(data: bytes | str) -> dict[str, Any]:
    """Parse a WeChat `<xml>` document into a dict (nested elements become dicts, repeated ones lists).

    Uses expat directly with every DTD hook refusing: a DOCTYPE, an entity declaration or an
    external entity reference raises `UnsafeXml`, so no entity is ever expanded or fetched.
    Nesting past MAX_XML_DEPTH raises `MalformedXml`.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    lowered = data[:4096].lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise UnsafeXml(ERR_UNSAFE_XML)
    parser = expat.ParserCreate("utf-8")  # WeChat sends UTF-8; a declared encoding="foo" is ignored
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    stack: list[tuple[str, dict[str, Any], list[str]]] = []
    result: dict[str, Any] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_XML_DEPTH:  # the dict would be too deep to store as JSON
            raise MalformedXml(f"malformed XML: nested deeper than {MAX_XML_DEPTH} levels")
        stack.append((name, {}, []))

    def end(name: str) -> None:
        tag, children, text = stack.pop()
        value: Any = children if children else "".join(text)
        if stack:
            siblings = stack[-1][1]
            if tag in siblings:  # repeated element (<Item>…</Item><Item>…</Item>): a list
                previous = siblings[tag]
                siblings[tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                siblings[tag] = value
        else:
            result[tag] = value

    def chars(text: str) -> None:
        if stack:
            stack[-1][2].append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except (UnsafeXml, MalformedXml):
        raise
    except (expat.ExpatError, LookupError, ValueError) as exc:
        raise MalformedXml(f"malformed XML: {exc}") from None
    root = result.get("xml")
    if not isinstance(root, dict):
        raise MalformedXml("malformed XML: expected an <xml> root with child elements")
    return root


def parse_or_refuse(adapter: str, request: web.Request, data: bytes | str) -> dict[str, Any]:
    """Safe XML parse; 400 for DOCTYPE/ENTITY (nothing expanded) or malformed documents."""
    try:
        return parse_xml(data)
    except UnsafeXml:
        raise refuse(adapter, request, 400, ERR_UNSAFE_XML) from None
    except MalformedXml as exc:
        raise refuse(adapter, request, 400, ERR_MALFORMED, detail=str(exc)[:120]) from None


AnyHandler = TypeVar("AnyHandler", bound=Callable[..., Awaitable[web.StreamResponse]])


def platform_callback(handler: AnyHandler) -> AnyHandler:
    """Mark a platform callback: signed by the platform itself, so it needs no CSRF token,
    and it never carries a console session, so the console's middlewares leave it alone
    (they were a fifth of a callback's cost)."""
    setattr(handler, PLATFORM_CALLBACK, True)
    return handler
