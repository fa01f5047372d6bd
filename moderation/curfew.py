"""Curfew (全员禁言) windows: which edge (on / off) a group is past, in the bot's timezone.

The running bot asks every few seconds for each group with curfew windows what its latest
edge is and hands `whole_ban` to the outbox keyed by that edge (`curfew:<platform>:<chat>`,
occurrence "2026-12-04T23:00:on"): the ledger does each edge once, also across restarts, and
a bot that was down during an edge applies the state it missed as soon as it is back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.kernel.actions import WHOLE_BAN
from moderation.guard import action_row
from moderation.policy import PolicySettings, parse_window, policy_for

if TYPE_CHECKING:
    from bot.services import Services
    from bot.store.outbound import OutboundItem

log = logging.getLogger("qunbot.moderation")


def latest_edge(windows: list[str], now: datetime) -> tuple[datetime, bool] | None:
    """(time of the latest edge at or before `now`, whether it turns curfew on); `now` is local."""
    best: tuple[datetime, bool] | None = None
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for window in windows:
        start, end = parse_window(window)
        for days_back in (0, 1, 2):
            base = day - timedelta(days=days_back)
            on = base + timedelta(minutes=start)
            off = base + timedelta(minutes=end) + (timedelta(days=1) if end < start else timedelta())
            for edge, enable in ((on, True), (off, False)):
                if edge <= now and (best is None or edge > best[0]):
                    best = (edge, enable)
    return best


def occurrence(edge: datetime, enable: bool) -> str:
    return f"{edge:%Y-%m-%dT%H:%M}:{'on' if enable else 'off'}"


class CurfewClock:
    """Hands each group's due curfew edge to the outbox (once per edge, by the ledger's key)."""

    def __init__(self, services: Services, policies: list[PolicySettings]) -> None:
        self.services = services
        self.policies = [p for p in policies if p.curfew]
        self._said_unsupported: set[tuple[str, str]] = set()

    async def tick(self) -> list[OutboundItem]:
        """Submit the latest edge of every curfew group; returns the rows that were new."""
        if not self.policies or self.services.submit is None:
            return []
        store = self.services.store
        chats = await store.run(store.chats.list_chats, None, "group")
        now = self.services.clock.now().astimezone(self.services.settings.tz)
        items = []
        for chat in chats:
            policy = policy_for(self.policies, chat["chat_id"], chat["name"], chat["tags"])
            if policy is None:
                continue
            edge = latest_edge(policy.curfew, now)
            if edge is None:
                continue
            key = (chat["platform"], chat["chat_id"])
            if WHOLE_BAN not in self.services.capabilities(chat["platform"]):
                if key not in self._said_unsupported:
                    self._said_unsupported.add(key)
                    log.warning("curfew for %s:%s skipped: the adapter cannot mute a whole group", *key)
                    await store.run(store.accounts.audit, "bot", "curfew.unsupported", f"{key[0]}:{key[1]}",
                                    {"reason": "平台不支持全员禁言"})
                continue
            when, enable = edge
            items.append(action_row(chat["platform"], {"action": "whole_ban", "chat_id": chat["chat_id"],
                                                       "enable": enable, "member_name": chat["name"]},
                                    source=f"curfew:{key[0]}:{key[1]}", occurrence=occurrence(when, enable)))
        return await self.services.submit(items) if items else []
