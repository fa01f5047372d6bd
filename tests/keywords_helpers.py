"""Factories shared by the keyword tests: a stage on a real store with a fake clock."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.kernel.clock import FakeClock
from bot.kernel.events import ChatKind, Event, EventType
from bot.kernel.pipeline import Context
from bot.services import Services
from bot.store import Store
from keywords.manage import save_rule
from keywords.stage import KeywordStage
from tests.conftest import make_settings

# 2026-11-23 10:00 in Asia/Shanghai
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class Harness:
    """A keyword stage with its store, clock and a way to send it messages."""

    def __init__(self, tmp_path: Path, rules: Sequence[dict[str, Any]] = (), **sections: Any) -> None:
        sections.setdefault("bot", {"demo": False})
        self.settings = make_settings(tmp_path, **sections)
        self.store = Store(self.settings.database_path)
        self.clock = FakeClock(START)
        self.submitted: list = []

        async def submit(items):
            self.submitted.extend(items)
            return items

        self.services = Services(settings=self.settings, store=self.store, clock=self.clock,
                                 rng=random.Random(7), submit=submit)
        for rule in rules:
            save_rule(self.store, rule, source="console")
        self.stage = KeywordStage(self.services)
        self.engine = self.stage.engine
        self.tags: dict[str, list[str]] = {"g_mom": ["宝妈"], "g_vip": ["VIP"], "g_student": ["学生"]}
        self._n = 0

    def event(self, text: str, *, chat: str = "g_mom", sender: str = "u1", name: str = "王妈妈",
              private: bool = False, to_me: bool = False, type: EventType = EventType.MESSAGE) -> Event:
        self._n += 1
        return Event(
            platform="sim", chat_id=sender if private else chat,
            chat_kind=ChatKind.PRIVATE if private else ChatKind.GROUP, sender_id=sender, sender_name=name,
            message_id=f"m{self._n}", time=self.clock.now(), text=text, to_me=to_me or private, type=type,
            chat_name="" if private else {"g_mom": "宝妈群", "g_vip": "VIP群"}.get(chat, chat),
        )

    def context(self, event: Event, dry_run: bool = False) -> Context:
        return Context(now=self.clock.now(), chat_tags=self.tags.get(event.chat_id, []),
                       chat_name=event.chat_name, dry_run=dry_run)

    async def send(self, text: str, dry_run: bool = False, **kw: Any):
        event = self.event(text, **kw)
        return await self.stage(event, self.context(event, dry_run))

    async def answer(self, text: str, **kw: Any) -> str | None:
        decision = await self.send(text, **kw)
        return decision.replies[0].text if decision.replies else None

    def close(self) -> None:
        self.store.close()
