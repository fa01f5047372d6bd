"""Handing events from adapters to the bot, and rendering payloads for text-only platforms."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot.adapters.base import Host, RecordingUnavailable
from bot.kernel.events import Event

log = logging.getLogger("qunbot.adapters")


def render_text(payload: dict[str, Any]) -> str:
    """Text-only platforms: links and images become a line under the text."""
    text = payload.get("text", "")
    if payload.get("kind") == "link" and payload.get("url"):
        return f"{text}\n{payload.get('title') or ''} {payload['url']}".strip()
    if payload.get("kind") == "image" and payload.get("image"):
        return f"{text}\n{payload['image']}".strip()
    return text


async def submit_all(bot: Host, events: list[Event]) -> list[str]:
    """Hand events to the bot; returns once each is durably recorded ("accepted") or known
    ("duplicate"), so the caller may acknowledge the platform without risking a loss.
    When the database cannot commit in time: 503, so the platform retries later."""
    try:
        return [await bot.submit(event) for event in events]
    except RecordingUnavailable as exc:
        log.error("%s event not acknowledged, database unavailable: %s", events[0].platform, exc)
        raise web.HTTPServiceUnavailable(text="database unavailable, retry later") from None


class BackgroundSubmitter:
    """Submits events from a socket reader without blocking it (action responses share the
    socket); keeps the tasks referenced and in order."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def submit_later(self, bot: Host, events: list[Event]) -> None:
        task = asyncio.create_task(self._submit(bot, events))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _submit(bot: Host, events: list[Event]) -> None:
        try:
            await submit_all(bot, events)
        except web.HTTPServiceUnavailable:
            pass  # logged; the message stays buffered and is written when the database recovers
        except Exception:
            log.exception("submitting %s events failed", events[0].platform)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
