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
        # slots taken by sends that were dispatched but have not reached the platform yet
        self._reserved: dict[Hashable, int] = {}

    def wait_time(self, key: Hashable) -> float:
        """Seconds until one more hit is allowed (0 when allowed now)."""
        hits = self._hits.get(key)
        reserved = self._reserved.get(key, 0)
        if not hits:
            return 0.0 if reserved < self.count else 0.01
        now = self.clock()
        while hits and hits[0] <= now - self.period:
            hits.popleft()
        if len(hits) + reserved < self.count:
            return 0.0
        if not hits:
            return 0.01
        return max(0.001, hits[0] + self.period - now)

    def reserve(self, key: Hashable) -> None:
        """Take a slot now; `commit` stamps it when the send really happens."""
        self._reserved[key] = self._reserved.get(key, 0) + 1

    def commit(self, key: Hashable) -> None:
        self._release(key)
        self.hit(key)

    def release(self, key: Hashable) -> None:
        """Give back a reserved slot that was not used (expired or cancelled delivery)."""
        self._release(key)

    def _release(self, key: Hashable) -> None:
        left = self._reserved.get(key, 0) - 1
        if left > 0:
            self._reserved[key] = left
        else:
            self._reserved.pop(key, None)

    def hit(self, key: Hashable) -> None:
        self._hits.setdefault(key, deque()).append(self.clock())

    def forget_idle(self) -> None:
        now = self.clock()
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.period]:
            del self._hits[key]
