"""The keywords pipeline stage: auto-replies for messages, welcome messages for joins."""

from __future__ import annotations

from bot.kernel.events import Decision, Event, EventType, pass_
from bot.kernel.pipeline import Context
from bot.services import Services
from keywords.engine import KeywordEngine
from keywords.manage import sync_config


class KeywordStage:
    """Loads config rules into the store and builds the engine (`.engine`, which console views
    and the CLI reach through the bot's `keyword_stage`)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        sync_config(services.store, services.settings)
        self.engine = KeywordEngine(services)
        self.engine.reload()

    async def __call__(self, event: Event, ctx: Context) -> Decision:
        if event.type is EventType.MEMBER_JOIN:
            return await self.engine.welcome.on_join(event, ctx)
        if event.type is not EventType.MESSAGE:
            return pass_("keywords")
        return self.engine.decide(event, ctx)

    async def aclose(self) -> None:
        """On shutdown: write counted hits, send welcomes whose window is still open."""
        await self.engine.welcome.aclose()
        await self.engine.aflush_hits()
