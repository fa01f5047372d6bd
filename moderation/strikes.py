"""The strike ladder per member per group: warn → mute 1d → 7d → 15d → remove, strikes expire.

Strikes live in the store; which ladder step a new violation gets depends on how many of the
member's strikes in that group are still active (not expired, not revoked) at the injected time.
The stage keeps each violator's expiry times in memory, so a burst of violations escalates at once
even though the strike rows are written behind, in the recorder's next batch.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.kernel.clock import Clock
from bot.store.base import iso
from moderation.config import ModerationSettings

if TYPE_CHECKING:
    from bot.store import Store


class StrikeBook:
    """Counts and records strikes with the bot's clock (a FakeClock in tests)."""

    def __init__(self, settings: ModerationSettings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._expiries: dict[tuple[str, str, str], list[datetime]] = {}
        self._preloaded = False

    def preload(self) -> None:
        """Read every active strike once (start-up); afterwards the hot path never waits for SQLite."""
        self._expiries = self.store.moderation.all_strike_expiries(self.clock.now())
        self._preloaded = True

    async def active_cached(self, platform: str, chat_id: str, member_id: str) -> int:
        """Active strikes of a member, from memory (read from the store if not preloaded)."""
        key = (platform, chat_id, member_id)
        expiries = self._expiries.get(key)
        if expiries is None:
            loaded = [] if self._preloaded else await self.store.run(
                self.store.moderation.strike_expiries, *key, self.clock.now())
            expiries = self._expiries.setdefault(key, loaded)
        now = self.clock.now()
        if expiries and expiries[0] <= now:
            expiries[:] = [e for e in expiries if e > now]
        return len(expiries)

    def expires_at(self) -> datetime:
        return self.clock.now() + timedelta(seconds=float(self.settings.strike_expiry))

    def note(self, platform: str, chat_id: str, member_id: str, expires_at: datetime) -> None:
        """Count a strike whose row is still on its way to the store."""
        key = (platform, chat_id, member_id)
        expiries = self._expiries.get(key)
        if expiries is not None:
            expiries.append(expires_at)
        elif self._preloaded:
            self._expiries[key] = [expires_at]

    def forget(self, platform: str, chat_id: str, member_id: str) -> None:
        """A strike was revoked: the member's count is read again from the store."""
        self._expiries.pop((platform, chat_id, member_id), None)
        if self._preloaded:
            self._expiries[(platform, chat_id, member_id)] = self.store.moderation.strike_expiries(
                platform, chat_id, member_id, self.clock.now())

    def active(self, platform: str, chat_id: str, member_id: str) -> int:
        return self.store.moderation.active_strikes(platform, chat_id, member_id, self.clock.now())

    def record(self, platform: str, chat_id: str, member_id: str, step: str, reason: str, *,
               flag_id: int | None = None, source: str = "auto", actor: str = "") -> int:
        expires_at = self.expires_at()
        strike_id = self.store.moderation.add_strike(
            platform, chat_id, member_id, time=self.clock.now(), expires_at=expires_at,
            step=step, reason=reason, flag_id=flag_id, source=source, actor=actor,
        )
        self.note(platform, chat_id, member_id, expires_at)
        return strike_id

    def history(self, platform: str, chat_id: str, member_id: str) -> list[dict[str, Any]]:
        now = iso(self.clock.now())
        rows = self.store.moderation.strikes(platform, chat_id, member_id)
        for r in rows:
            r["active"] = not r["revoked"] and r["expires_at"] > now
            r["step_label"] = step_label(r["step"])
        return rows


def step_label(step: str) -> str:
    """"mute:86400s" as 禁言 1 天: what the console shows (never seconds)."""
    from moderation.actions import ACTION_LABELS, human_duration

    name, _, rest = step.partition(":")
    if name == "mute" and rest.rstrip("s").isdigit():
        return f"禁言 {human_duration(float(rest.rstrip('s')))}"
    return ACTION_LABELS.get(name, step)
