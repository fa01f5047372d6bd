"""`create_app(settings)`: the console, the simulator and every adapter endpoint in one app."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.adapters.base import Adapter
from bot.adapters.registry import build_adapters, platform_label
from bot.config import Settings
from bot.kernel.clock import Clock
from bot.runtime import Bot
from bot.store import Store
from bot.urls import is_safe_url
from bot.web import core_views, dashboard, simulator, wecom_contact_views
from bot.web.auth import (
    FLASH_IN,
    ROLE_LABELS,
    SCOPED_NAV,
    LoginGuard,
    csrf_field,
    csrf_token,
    current_user,
    has_role,
    in_scope,
    is_platform_callback,
    scope_of,
    session_middleware,
)
from bot.web.keys import (
    ADAPTERS,
    BOT,
    CLOCK,
    LOGIN_GUARD,
    NAV_ITEMS,
    SECRET_KEY,
    SETTINGS,
    STORE,
    TRUSTED_PROXIES,
)
from bot.web.middleware import error_middleware, flash_middleware, security_headers
from bot.web.proxies import TrustedProxies

log = logging.getLogger("qunbot.web")

HERE = Path(__file__).parent
# The domain packages' console pages, registered explicitly in navigation order.
DOMAIN_VIEW_MODULES = ("keywords", "intents", "moderation", "schedules", "broadcasts", "members")

MAX_BODY = 1024 * 1024
# how long a platform's socket may take to answer our close frame at shutdown
SOCKET_CLOSE_TIMEOUT = 2.0


def _domain_views() -> list:
    import importlib

    return [importlib.import_module(f"{name}.views") for name in DOMAIN_VIEW_MODULES]


def create_app(
    settings: Settings, *, clock: Clock | None = None, adapters: dict[str, Adapter] | None = None,
    store: Store | None = None,
) -> web.Application:
    """Build the application; the store and bot open on startup and close on cleanup."""
    clock = clock or Clock()
    app = web.Application(
        middlewares=[error_middleware, security_headers, flash_middleware, session_middleware],
        client_max_size=MAX_BODY,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[ADAPTERS] = adapters if adapters is not None else build_adapters(settings)
    app[LOGIN_GUARD] = LoginGuard(clock.monotonic)
    app[TRUSTED_PROXIES] = TrustedProxies(settings.console.trusted_proxies)

    loaders = [jinja2.FileSystemLoader(str(HERE / "templates"))]
    views = _domain_views()
    for module in views:
        pkg_templates = Path(module.__file__).parent / "templates"
        if pkg_templates.is_dir():
            loaders.append(jinja2.FileSystemLoader(str(pkg_templates)))
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.ChoiceLoader(loaders), autoescape=jinja2.select_autoescape(default=True),
    )
    # aiohttp_jinja2's context processors would run for platform callbacks too
    app.middlewares.append(template_context)
    env.globals["role_labels"] = ROLE_LABELS
    env.globals["is_safe_url"] = is_safe_url
    env.globals["platform_label"] = platform_label
    env.filters["localtime"] = lambda v, fmt="%Y-%m-%d %H:%M:%S": _localtime(settings, v, fmt)

    nav: list[tuple[str, str, str]] = [("概览", "/", "moderator"), ("群聊模拟器", "/sim", "moderator")]
    app.router.add_routes(core_views.routes)
    app.router.add_routes(dashboard.routes)
    app.router.add_routes(simulator.routes)
    app.router.add_routes(wecom_contact_views.routes)
    for module in views:
        app.router.add_routes(module.routes)
        nav.extend(module.NAV)
    if settings.adapters.wecom.contact_enabled:
        nav.extend(wecom_contact_views.NAV)
    nav.extend([("群组与标签", "/groups", "manager"), ("审计日志", "/audit", "admin"), ("账号", "/users", "admin")])
    app[NAV_ITEMS] = nav
    for adapter in app[ADAPTERS].values():
        app.router.add_routes(adapter.routes())
    app.router.add_static("/static", HERE / "static", name="static")
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(_lifecycle(store))
    return app


async def _close_sockets(app: web.Application) -> None:
    """At the start of a stop, close the platforms' open WebSockets (1001 going away).

    aiohttp waits up to `shutdown_timeout` for every running handler, and a WebSocket
    handler runs until its socket closes: left open, each stop took the whole timeout (twice)
    before the bot's own drain (cleanup) even began.
    """
    connections = [conn for adapter in app[ADAPTERS].values() for conn in getattr(adapter, "connections", ())]
    if connections:
        log.info("closing %d platform sockets before stopping", len(connections))
        await asyncio.gather(*(conn.go_away(SOCKET_CLOSE_TIMEOUT) for conn in connections))


def _lifecycle(given_store: Store | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.demo import seed_if_empty

        settings = app[SETTINGS]
        store = given_store or Store(settings.database_path)
        await store.run(seed_if_empty, store, settings)
        app[STORE] = store
        app[SECRET_KEY] = await store.run(_secret_key, store, settings)
        bot = Bot(settings, store, clock=app[CLOCK], adapters=app[ADAPTERS])
        app[BOT] = bot
        await bot.start()
        try:
            yield
        finally:
            await bot.stop()
            if given_store is None:
                store.close()

    return ctx


def _secret_key(store: Store, settings: Settings) -> bytes:
    if settings.console.secret:
        return settings.console.secret.encode()
    key = store.accounts.get_value("console.secret_key")
    if key is None:
        key = secrets.token_hex(32)
        store.accounts.set_value("console.secret_key", key)
    return bytes.fromhex(key)


@web.middleware
async def template_context(request: web.Request, handler) -> web.StreamResponse:
    """What every console page's template may use (user, navigation, CSRF token, flashes)."""
    if not is_platform_callback(request):
        request[aiohttp_jinja2.REQUEST_CONTEXT_KEY] = await _context(request)
    return await handler(request)


async def _context(request: web.Request) -> dict:
    user = current_user(request)
    nav = [(label, path) for label, path, role in request.app[NAV_ITEMS] if has_role(user, role)]
    if user is not None and user.get("scope") is not None:
        nav = [(label, path) for label, path in nav if path in SCOPED_NAV]
    store = request.app.get(STORE)
    review_pending = 0
    if user is not None and store is not None and has_role(user, "moderator"):
        review_pending = await _pending_reviews(request, store)
    return {
        "review_pending": review_pending,
        "user": user,
        "nav": nav,
        "path": request.path,
        "bot_name": request.app[SETTINGS].bot.name,
        "csrf_field": lambda: csrf_field(request),
        "csrf_token": csrf_token(request),
        "flashes": request.get(FLASH_IN, []),
        "has_role": lambda role: has_role(user, role),
        # bulk sends paused by the circuit breaker: a banner on every page until resumed
        "paused_accounts": request.app[BOT].sending.banner() if user and BOT in request.app else [],
    }


async def _pending_reviews(request: web.Request, store: Store) -> int:
    """Flags waiting for review that this account may act on (its scope's groups only)."""
    if scope_of(request) is None:
        return await store.run(store.moderation.count_flags)
    flags = await store.run(lambda: store.moderation.list_flags(status="pending", limit=5000))
    return sum(1 for f in flags if in_scope(request, f["platform"], f["chat_id"]))


def _localtime(settings: Settings, value, fmt: str) -> str:
    from datetime import datetime

    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        return value.strftime(fmt)
    return value.astimezone(settings.tz).strftime(fmt)
