"""Cooldowns per (rule, chat) and per (rule, chat, member), on the injected monotonic clock."""

from __future__ import annotations

from collections.abc import Hashable

from bot.kernel.clock import Clock

PRUNE_EVERY = 10_000


class Cooldowns:
    """Remembers until when each key is cooling down; forgets expired keys as it goes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._until: dict[Hashable, float] = {}
        self._writes = 0

    def remaining(self, key: Hashable) -> float:
        until = self._until.get(key)
        if until is None:
            return 0.0
        return max(0.0, until - self.clock.monotonic())

    def start(self, key: Hashable, seconds: float) -> None:
        if seconds <= 0:
            return
        self._until[key] = self.clock.monotonic() + seconds
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            now = self.clock.monotonic()
            self._until = {k: v for k, v in self._until.items() if v > now}

    def clear(self) -> None:
        self._until.clear()

    def __len__(self) -> int:
        return len(self._until)
