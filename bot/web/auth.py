"""Login, roles, CSRF, flash messages and the audit helper used by every console page."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

from bot.adapters.callback_guard import PLATFORM_CALLBACK
from bot.ratelimit import SlidingWindow
from bot.store.base import parse_iso
from bot.web.keys import BOT, CLOCK, SECRET_KEY, SETTINGS, STORE, TRUSTED_PROXIES
from bot.web.sessions import COOKIE, Session, new_session, sign, unsign

log = logging.getLogger("qunbot.console")

ROLE_RANK = {"moderator": 1, "manager": 2, "admin": 3}
ROLE_LABELS = {"admin": "管理员", "manager": "运营", "moderator": "审核员"}
# a manager may do what a moderator does; a moderator may not edit rules
ERR_FORBIDDEN = "您没有权限访问此页面"
ERR_CSRF = "表单已过期或来源无效，请刷新页面后重试"
ERR_LOGIN = "用户名或密码错误"
ERR_LOCKED = "登录失败次数过多，请稍后再试"
# an account locks for LOCK_TIME at `max_login_failures` failures; failures older than
# FAILURE_QUIET are forgotten, so a few typos spread over weeks never lock anyone out
LOCK_TIME = timedelta(minutes=5)
FAILURE_QUIET = timedelta(minutes=15)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_KEY = web.RequestKey("session", object)
USER_KEY = web.RequestKey("user", object)
FLASH_OUT = web.RequestKey("flash_out", list)
FLASH_IN = web.RequestKey("flash_in", list)


def has_role(user: dict[str, Any] | None, role: str) -> bool:
    if not user:
        return False
    return ROLE_RANK.get(user["role"], 0) >= ROLE_RANK[role]


def current_user(request: web.Request) -> dict[str, Any] | None:
    return request.get(USER_KEY)


class Scope:
    """The groups a scoped moderator/manager account may see and act on: listed by chat id or
    name, or carrying one of the listed tags. Brand-wide pages refuse scoped accounts."""

    def __init__(self, groups: list[str], tags: list[str]) -> None:
        self.groups = set(groups)
        self.tags = set(tags)

    def covers(self, chat_id: str, chat_name: str = "", chat_tags: list[str] | tuple[str, ...] = ()) -> bool:
        return chat_id in self.groups or (bool(chat_name) and chat_name in self.groups) or bool(
            self.tags & set(chat_tags))

    def describe(self) -> str:
        parts = [f"群：{'、'.join(sorted(self.groups))}"] if self.groups else []
        parts += [f"标签：{'、'.join(sorted(self.tags))}"] if self.tags else []
        return "；".join(parts)


# pages a scoped account's navigation shows (the routes declared with scoped=True)
SCOPED_NAV = {"/moderation/review", "/moderation/muted", "/moderation/joins"}
ERR_OUT_OF_SCOPE = "该群不在您的管理范围内"


def scope_of(request: web.Request) -> Scope | None:
    """The account's scope, None for an unscoped (brand-wide) account."""
    user = current_user(request)
    return user.get("scope") if user else None


def in_scope(request: web.Request, platform: str, chat_id: str) -> bool:
    """May the account see / act on this group? Always for an unscoped account."""
    scope = scope_of(request)
    if scope is None:
        return True
    name, tags = request.app[BOT].chat_info(platform, chat_id)
    return scope.covers(chat_id, name, tags)


def check_scope(request: web.Request, platform: str, chat_id: str) -> None:
    """403 when the group is outside the account's scope."""
    if not in_scope(request, platform, chat_id):
        user = current_user(request) or {}
        log.warning("forbidden: out of scope", extra={"user": user.get("name"), "path": request.path})
        raise web.HTTPForbidden(text=ERR_OUT_OF_SCOPE)


def require_role(role: str, *, scoped: bool = False) -> Callable[[Handler], Handler]:
    """Decorator: redirect anonymous users to the login page, 403 for a too-low role.
    A scoped account reaches only handlers declared `scoped=True`, which filter by its scope
    (`scope_of`, `in_scope`); everything else is brand-wide and refused with 403."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = current_user(request)
            if user is None:
                if _wants_json(request):
                    raise web.HTTPUnauthorized(text="请先登录")
                raise web.HTTPFound(f"/login?next={request.path_qs}")
            if not has_role(user, role):
                log.warning("forbidden", extra={"user": user["name"], "path": request.path, "needs": role})
                raise web.HTTPForbidden(text=ERR_FORBIDDEN)
            if not scoped and user.get("scope") is not None:
                if request.path == "/" and request.method == "GET":
                    raise web.HTTPFound("/moderation/review")  # a scoped account's home
                log.warning("forbidden: scoped account", extra={"user": user["name"], "path": request.path})
                raise web.HTTPForbidden(text=ERR_FORBIDDEN)
            return await handler(request)

        # markers on the function object, which typing cannot declare
        wrapper.required_role = role  # type: ignore[attr-defined]
        wrapper.scoped = scoped  # type: ignore[attr-defined]
        return wrapper

    return decorator


def _wants_json(request: web.Request) -> bool:
    return "/api/" in request.path or "application/json" in request.headers.get("Accept", "")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the signed session (alive only while its row is in the database), reject unsafe
    requests without a valid CSRF token."""
    if is_platform_callback(request):
        request[SESSION_KEY] = request[USER_KEY] = None
        return await handler(request)
    app = request.app
    now = app[CLOCK].now()
    session = None
    cookie = request.cookies.get(COOKIE)
    if cookie:
        session = unsign(cookie, app[SECRET_KEY], now.timestamp())
    user = None
    if session is not None:
        store = app[STORE]
        user = await store.run(store.accounts.session_user, session.sid, now)
        if user is None or user["name"] != session.user:
            user, session = None, None
        else:
            found = await store.run(store.guard.scope, user["name"])
            user["scope"] = Scope(*found) if found is not None else None
    request[SESSION_KEY] = session
    request[USER_KEY] = user
    unsafe = request.method in ("POST", "PUT", "PATCH", "DELETE")
    if unsafe and not (session is None and request.path == "/login"):
        await _check_csrf(request, session)
    return await handler(request)


async def _check_csrf(request: web.Request, session: Session | None) -> None:
    token: object = request.headers.get("X-CSRF-Token")
    if token is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        token = form.get("csrf_token")
    if session is None or not isinstance(token, str) or not hmac.compare_digest(token, session.csrf):
        log.warning("csrf rejected", extra={"path": request.path, "remote": request.remote})
        raise web.HTTPForbidden(text=ERR_CSRF)


def is_platform_callback(request: web.Request) -> bool:
    """A handler marked by bot.adapters.callback_guard.platform_callback."""
    return getattr(request.match_info.handler, PLATFORM_CALLBACK, False)


def csrf_token(request: web.Request) -> str:
    session: Session | None = request.get(SESSION_KEY)
    return session.csrf if session else ""


def csrf_field(request: web.Request) -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(csrf_token(request)))


def flash(request: web.Request, text: str, kind: str = "ok") -> None:
    """Queue a one-time message for the next page (kept in a short-lived cookie)."""
    request.setdefault(FLASH_OUT, []).append((kind, text))


def current_session_id(request: web.Request) -> str | None:
    session: Session | None = request.get(SESSION_KEY)
    return session.sid if session else None


def client_address(request: web.Request) -> str:
    return request.app[TRUSTED_PROXIES].client_address(request)


async def start_session(request: web.Request, response: web.StreamResponse, username: str) -> None:
    """Store a new session and set its cookie (Secure when the browser came over HTTPS)."""
    app = request.app
    hours = app[SETTINGS].console.session_hours
    now = app[CLOCK].now()
    session = new_session(username, now.timestamp(), hours * 3600)
    store = app[STORE]
    await store.run(store.accounts.add_session, session.sid, username, now, now + timedelta(hours=hours))
    response.set_cookie(
        COOKIE, sign(session, app[SECRET_KEY]), httponly=True, samesite="Lax",
        max_age=int(hours * 3600), secure=app[TRUSTED_PROXIES].is_https(request), path="/",
    )


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Delete the session's row (the cookie stops working everywhere) and the cookie."""
    sid = current_session_id(request)
    if sid:
        store = request.app[STORE]
        await store.run(store.accounts.end_session, sid)
    response.del_cookie(COOKIE, path="/")


class LoginGuard:
    """Slows down password guessing per client address (the per-account lockout is in the store)."""

    def __init__(self, clock: Callable[[], float], per_minute: int = 10) -> None:
        self.window = SlidingWindow(per_minute, 60.0, clock)
        self._failures = 0

    def allowed(self, remote: str) -> bool:
        return self.window.wait_time(remote) == 0

    def failed(self, remote: str) -> None:
        self.window.hit(remote)
        self._failures += 1
        if self._failures % 1000 == 0:  # addresses that stopped trying are forgotten
            self.window.forget_idle()


@functools.cache
def _dummy_hash() -> str:
    from bot.web.passwords import hash_password, random_password

    return hash_password(random_password())


def _verify(password: str, stored: str | None) -> bool:
    """One scrypt per attempt: against the user's hash, or a dummy one for an unknown name."""
    from bot.web.passwords import verify_password

    if stored is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, stored)


async def authenticate(request: web.Request, username: str, password: str) -> tuple[dict | None, str]:
    """Check a login; returns (user, error message). Every attempt hashes the password once,
    also for unknown, disabled or locked users, so the answer's timing tells nothing."""
    app = request.app
    store = app[STORE]
    now = app[CLOCK].now()
    user = await store.run(store.accounts.get_user, username)
    # scrypt takes ~50 ms: off the loop, and off the store's thread
    ok = await asyncio.get_running_loop().run_in_executor(
        None, _verify, password, user["password_hash"] if user else None)
    if user is None:
        return None, ERR_LOGIN
    locked_until = parse_iso(user["locked_until"])
    if locked_until is not None and locked_until > now:
        return None, ERR_LOCKED
    if not ok or user["disabled"]:
        limit = app[SETTINGS].console.max_login_failures
        await store.run(store.accounts.login_failed, username, now, limit, FAILURE_QUIET, LOCK_TIME)
        return None, ERR_LOGIN
    await store.run(store.accounts.login_succeeded, username)
    return user, ""


async def audit(request: web.Request, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
    """Write who changed what to the audit log."""
    user = current_user(request)
    actor = user["name"] if user else "anonymous"
    store = request.app[STORE]
    await store.run(store.accounts.audit, actor, action, target, detail or {})
