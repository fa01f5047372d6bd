"""The running bot's member tags: kept in memory for targeting (a keyword rule or FAQ entry
for VIP members only), given by `[[member_tags]]` rules as events arrive, and reloaded within
seconds when the CLI or the console changed tags (the store's member version moved)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.kernel.events import EventType
from bot.kernel.tasks import cancel_and_wait
from bot.store.base import iso

if TYPE_CHECKING:
    from bot.kernel.events import Event
    from bot.kernel.pipeline import Context, Outcome
    from bot.services import Services
    from members.config import MemberTagRule

log = logging.getLogger("qunbot.members")

EMPTY: frozenset[str] = frozenset()
# how often the bot looks for tag changes made by another process (the CLI)
POLL_SECONDS = 2.0
# how often the silent / active rules are recomputed
PERIODIC_SECONDS = 600.0
ACTIVE_WINDOW = timedelta(days=7)


class MemberTagBook:
    """Member tags by (platform, user_id), and the rules that give some of them."""

    def __init__(self, services: Services, rules: Sequence[MemberTagRule] = ()) -> None:
        self.services = services
        self.store = services.store
        self.rules = list(rules)
        self._tags: dict[tuple[str, str], frozenset[str]] = {}
        self.version = -1
        self._task: asyncio.Task | None = None
        self._periodic_due = 0.0

    def tags_of(self, platform: str, user_id: str) -> frozenset[str]:
        return self._tags.get((platform, user_id), EMPTY)

    async def load(self) -> None:
        if self.version < 0:
            await self.store.run(self.store.members.set_rule_tags, rule_tags(self.rules))
        version = await self.store.run(self.store.members.version)
        self._tags = await self.store.run(self.store.members.all_member_tags)
        self.version = version

    async def refresh(self) -> bool:
        """Reload when another process changed tags; True when it did."""
        if await self.store.run(self.store.members.version) == self.version:
            return False
        await self.load()
        return True

    # -- rules given as events arrive ----------------------------------------------------

    def observe(self, event: Event, ctx: Context, outcome: Outcome | None = None) -> None:
        """Give the event-driven rule tags (joined a tagged group, asked an FAQ entry,
        triggered a keyword rule) the sender does not have yet; written in the next batch."""
        if not self.rules or not event.sender_id or ctx.dry_run or event.type is EventType.MEMBER_LEAVE:
            return
        have = self.tags_of(event.platform, event.sender_id)
        new: list[str] = []
        for rule in self.rules:
            if rule.tag in have or rule.tag in new:
                continue
            if rule.when == "joined_group_tag":
                hit = event.is_group and rule.value in ctx.chat_tags
            else:
                hit = (outcome is not None and rule.when in ("faq_entry", "keyword_rule")
                       and _answered_by(outcome, rule.when, str(rule.value)))
            if hit:
                new.append(rule.tag)
        if not new:
            return
        self._tags[(event.platform, event.sender_id)] = have | frozenset(new)
        for tag in new:
            self.services.write_row_later(self._write_rule_tags, (event.platform, event.sender_id, tag))

    def _write_rule_tags(self, rows: list[tuple[str, str, str]]) -> None:
        self.store.members.add_tags(rows, source="rule", actor="rule", bump=False)

    # -- periodic rules ----------------------------------------------------------------------

    async def recompute_periodic(self) -> dict[str, int]:
        """silent_days and active_messages: give and take back the rule's tag."""
        changed: dict[str, int] = {}
        now = self.services.clock.now()
        for rule in self.rules:
            if rule.when == "silent_days":
                cutoff = iso(now - timedelta(days=int(rule.value)))
                changed[rule.tag] = await self.store.run(self.store.members.retag_silent, rule.tag, cutoff)
            elif rule.when == "active_messages":
                since = iso(now - ACTIVE_WINDOW)
                changed[rule.tag] = await self.store.run(
                    self.store.members.retag_active, rule.tag, since, int(rule.value))
        if any(changed.values()):
            await self.load()
        return changed

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="member-tags")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.refresh()
                if any(r.when in ("silent_days", "active_messages") for r in self.rules) \
                        and loop.time() >= self._periodic_due:
                    self._periodic_due = loop.time() + PERIODIC_SECONDS
                    await self.recompute_periodic()
            except Exception:
                log.exception("member tags refresh failed")
            await asyncio.sleep(POLL_SECONDS)


def _answered_by(outcome: Outcome, when: str, value: str) -> bool:
    stage = "intents" if when == "faq_entry" else "keywords"
    key = "entry_id" if when == "faq_entry" else "rule_id"
    for d in outcome.decisions:
        if (d.stage == stage and d.outcome in ("answered", "cooldown") and isinstance(d.detail, dict)
                and str(d.detail.get(key, "")) == value):
            return True
    return False


def rule_tags(rules: Sequence[Any]) -> list[str]:
    return sorted({r.tag for r in rules})
