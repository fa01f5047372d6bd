"""Security headers, flash cookies, and error pages that log and answer in Chinese."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from urllib.parse import quote, unquote, urlsplit

import aiohttp_jinja2
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


# What a person in a browser reads for each status, when the handler gave no text of its own.
ERROR_TITLES = {
    400: "请求有误", 401: "需要登录", 403: "没有权限", 404: "页面不存在", 405: "不支持这个操作",
    408: "请求超时", 413: "提交的内容太大", 415: "不支持的内容格式", 429: "操作太频繁，请稍后再试",
    500: "服务器内部错误", 502: "上游服务出错", 503: "服务暂时不可用",
}
ERROR_MESSAGES = {
    403: "您的账号没有权限查看或执行这个操作。如需权限，请联系管理员。",
    404: "您访问的页面不存在，可能已被删除或地址有误。",
    500: "服务器内部错误，已记录日志。",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            log.info("http %s", exc.status, extra={"path": request.path, "method": request.method,
                                                   "remote": request.remote, "reason": exc.text})
            page = _error_page(request, exc.status, exc.text or "")
            if page is not None:
                return page
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        page = _error_page(request, 500, "")
        if page is not None:
            return page
        raise web.HTTPInternalServerError(text="服务器内部错误，已记录日志") from None


def _error_page(request: web.Request, status: int, text: str) -> web.Response | None:
    """A console page in Chinese with a way back, for a browser; None for platforms and scripts."""
    if status < 400 or is_platform_callback(request) or "text/html" not in request.headers.get("Accept", ""):
        return None
    title = ERROR_TITLES.get(status, "出错了")
    # aiohttp's own texts ("404: Not Found") are English: replace them, keep the handlers' Chinese ones
    default = f"{status}: {HTTPStatus(status).phrase}" if status in HTTPStatus._value2member_map_ else ""
    message = text if text and text != default else ERROR_MESSAGES.get(status, title)
    referer = request.headers.get("Referer", "")
    back = urlsplit(referer).path if referer and urlsplit(referer).netloc == request.host else "/"
    context = dict(request.get(aiohttp_jinja2.REQUEST_CONTEXT_KEY) or {})
    context.setdefault("user", None)
    context.setdefault("bot_name", "")
    context.setdefault("flashes", [])
    context.setdefault("csrf_token", "")
    context.update(title=title, message=message, back=back)
    try:
        response = aiohttp_jinja2.render_template("error.html", request, context, status=status)
    except Exception:  # the error page must never hide the error it reports
        log.exception("error page could not be rendered")
        return None
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response
