"""Typed application keys: what the running app holds."""

from __future__ import annotations

from aiohttp import web

from bot.adapters.base import Adapter
from bot.config import Settings
from bot.kernel.clock import Clock
from bot.runtime import Bot
from bot.store import Store
from bot.web.proxies import TrustedProxies

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
BOT = web.AppKey("bot", Bot)
CLOCK = web.AppKey("clock", Clock)
ADAPTERS = web.AppKey("adapters", dict[str, Adapter])
SECRET_KEY = web.AppKey("secret_key", bytes)
NAV_ITEMS = web.AppKey("nav_items", list)
LOGIN_GUARD = web.AppKey("login_guard", object)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
