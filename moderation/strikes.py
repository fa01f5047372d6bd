"""The strike ladder per member per group: warn → mute 1d → 7d → 15d → remove, strikes expire.

Strikes live in the store; which ladder step a new violation gets depends on how many of the
member's strikes in that group are still active (not expired, not revoked) at the injected time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import Clock
from bot.store.base import iso
from moderation.actions import ladder_step
from moderation.config import ModerationSettings

if TYPE_CHECKING:
    from bot.store import Store


class StrikeBook:
    """Counts and records strikes with the bot's clock (a FakeClock in tests)."""

    def __init__(self, settings: ModerationSettings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    def active(self, platform: str, chat_id: str, member_id: str) -> int:
        return self.store.moderation.active_strikes(platform, chat_id, member_id, self.clock.now())

    def next_step(self, platform: str, chat_id: str, member_id: str) -> tuple[str, float]:
        return ladder_step(self.settings, self.active(platform, chat_id, member_id))

    def record(self, platform: str, chat_id: str, member_id: str, step: str, reason: str, *,
               flag_id: int | None = None, source: str = "auto", actor: str = "") -> int:
        now = self.clock.now()
        return self.store.moderation.add_strike(
            platform, chat_id, member_id, time=now,
            expires_at=now + timedelta(seconds=float(self.settings.strike_expiry)),
            step=step, reason=reason, flag_id=flag_id, source=source, actor=actor,
        )

    def history(self, platform: str, chat_id: str, member_id: str) -> list[dict[str, Any]]:
        now = iso(self.clock.now())
        rows = self.store.moderation.strikes(platform, chat_id, member_id)
        for r in rows:
            r["active"] = not r["revoked"] and r["expires_at"] > now
        return rows
