"""Deliveries waiting for their adapter to connect, each until its own deadline."""

from __future__ import annotations

import heapq
import itertools

from bot.store.outbound import OutboundItem


class WaitingRoom:
    """Per adapter, a heap of deliveries by `not_after`: the outbox puts a delivery here when
    its adapter has no connection (no attempt used) and takes them all back on reconnect."""

    def __init__(self) -> None:
        self._rooms: dict[str, list[tuple[float, int, OutboundItem]]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return sum(len(room) for room in self._rooms.values())

    def count(self, platform: str) -> int:
        return len(self._rooms.get(platform, ()))

    def park(self, item: OutboundItem) -> None:
        deadline = item.not_after.timestamp() if item.not_after is not None else float("inf")
        heapq.heappush(self._rooms.setdefault(item.platform, []), (deadline, next(self._seq), item))

    def release(self, platform: str) -> list[OutboundItem]:
        """Everything that waited for `platform`, in deadline order."""
        return [item for _, _, item in sorted(self._rooms.pop(platform, []))]

    def expired(self, now_ts: float) -> list[OutboundItem]:
        """Take out the deliveries whose deadline passed while they waited."""
        out: list[OutboundItem] = []
        for room in self._rooms.values():
            while room and room[0][0] < now_ts:
                out.append(heapq.heappop(room)[2])
        return out
