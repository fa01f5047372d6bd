"""Sliding-window rate limits keyed by anything hashable."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindow:
    """At most `count` hits per `period` seconds for each key."""

    def __init__(self, count: int, period: float, clock: Callable[[], float]) -> None:
        self.count = count
        self.period = period
        self.clock = clock
        self._hits: dict[Hashable, deque[float]] = {}

    def wait_time(self, key: Hashable) -> float:
        """Seconds until one more hit is allowed (0 when allowed now)."""
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        now = self.clock()
        while hits and hits[0] <= now - self.period:
            hits.popleft()
        if len(hits) < self.count:
            return 0.0
        return max(0.0, hits[0] + self.period - now)

    def hit(self, key: Hashable) -> None:
        self._hits.setdefault(key, deque()).append(self.clock())

    def forget_idle(self) -> None:
        now = self.clock()
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.period]:
            del self._hits[key]
