"""Typed application keys: what the running app holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.adapters.base import Adapter
from bot.config import Settings
from bot.kernel.clock import Clock
from bot.runtime import Bot
from bot.store import Store
from bot.web.proxies import TrustedProxies

if TYPE_CHECKING:  # auth.py imports this module
    from bot.web.auth import LoginGuard

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
BOT = web.AppKey("bot", Bot)
CLOCK = web.AppKey("clock", Clock)
ADAPTERS = web.AppKey("adapters", dict[str, Adapter])
SECRET_KEY = web.AppKey("secret_key", bytes)
NAV_ITEMS = web.AppKey("nav_items", list)
LOGIN_GUARD: web.AppKey[LoginGuard] = web.AppKey("login_guard")
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
