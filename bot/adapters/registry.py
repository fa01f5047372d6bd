"""Builds the adapters enabled in the settings."""

from __future__ import annotations

from bot.adapters.base import Adapter
from bot.adapters.sim import SimAdapter
from bot.config import Settings


def build_adapters(settings: Settings) -> dict[str, Adapter]:
    adapters: dict[str, Adapter] = {}
    if settings.adapters.sim.enabled:
        adapters["sim"] = SimAdapter()
    return adapters
