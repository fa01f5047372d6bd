"""Builds the adapters enabled in the settings."""

from __future__ import annotations

from typing import Protocol

from bot.adapters.base import Adapter
from bot.adapters.config import AdaptersSettings
from bot.adapters.sim import SimAdapter


class HasAdapters(Protocol):
    """The part of the settings this reads (bot.config.Settings; not imported, since config
    assembly imports every domain and adapters import none)."""

    @property
    def adapters(self) -> AdaptersSettings: ...


def build_adapters(settings: HasAdapters) -> dict[str, Adapter]:
    """One adapter per enabled platform, keyed by its platform name (as in Event.platform)."""
    conf = settings.adapters
    adapters: dict[str, Adapter] = {}
    if conf.sim.enabled:
        adapters["sim"] = SimAdapter()
    if conf.wecom.enabled:
        from bot.adapters.wecom import WecomAdapter

        adapters["wecom"] = WecomAdapter(conf.wecom)
    if conf.mp.enabled:
        from bot.adapters.mp import MpAdapter

        adapters["mp"] = MpAdapter(conf.mp)
    if conf.webhook:
        from bot.adapters.webhook import WebhookAdapter

        adapters["webhook"] = WebhookAdapter(conf.webhook)
    if conf.onebot.enabled:
        from bot.adapters.onebot import OnebotAdapter

        adapters["onebot"] = OnebotAdapter(conf.onebot)
    if conf.qq.enabled:
        from bot.adapters.qq import QqAdapter

        adapters["qq"] = QqAdapter(conf.qq)
    return adapters
