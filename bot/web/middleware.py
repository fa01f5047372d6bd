"""Security headers, flash cookies, and error pages that log and answer in Chinese."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, unquote

from aiohttp import web

from bot.web.auth import FLASH_IN, FLASH_OUT, Handler, is_platform_callback

log = logging.getLogger("qunbot.http")
FLASH_COOKIE = "qunbot_flash"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # scripts only from /static (no inline <script>, no on*= attributes): a value that slips
    # past escaping or validation still cannot run; inline style attributes are harmless
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        for k, v in SECURITY_HEADERS.items():
            exc.headers.setdefault(k, v)
        raise
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


@web.middleware
async def flash_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_platform_callback(request):
        return await handler(request)
    raw = request.cookies.get(FLASH_COOKIE)
    incoming: list = []
    if raw:
        try:
            incoming = [(str(k), str(t)) for k, t in json.loads(unquote(raw))][:10]
        except (ValueError, TypeError):
            incoming = []
    request[FLASH_IN] = incoming
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _pass_flash(request, exc, bool(raw))
        raise
    _pass_flash(request, response, bool(raw))
    return response


def _pass_flash(request: web.Request, response: web.StreamResponse, had_cookie: bool) -> None:
    out = request.get(FLASH_OUT)
    if out:
        response.set_cookie(FLASH_COOKIE, quote(json.dumps(out, ensure_ascii=False)), httponly=True,
                            samesite="Lax", path="/", max_age=60)
    elif had_cookie and not isinstance(response, web.HTTPRedirection):
        response.del_cookie(FLASH_COOKIE, path="/")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            log.info("http %s", exc.status, extra={"path": request.path, "method": request.method,
                                                   "remote": request.remote, "reason": exc.text})
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        raise web.HTTPInternalServerError(text="服务器内部错误，已记录日志") from None
