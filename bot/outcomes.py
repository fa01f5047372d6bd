"""Where the outbox reports deliveries that reached their final status.

Counts them (for /metrics), wakes whoever waits for one (Bot.perform waits for a platform
action's outcome) and calls a hook (actions' audit entries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.store.outbound import OutboundItem

log = logging.getLogger("qunbot.outbox")


class Outcomes:
    """Final statuses of deliveries: sent, failed, uncertain, skipped, cancelled."""

    def __init__(self) -> None:
        self.counts = {"sent": 0, "failed": 0, "uncertain": 0}
        self._waiters: dict[int, asyncio.Future[str]] = {}
        # called with (item, final status, error)
        self.hook: Callable[[OutboundItem, str, str], None] | None = None

    def watch(self, item_id: int) -> None:
        """Keep the outcome of this delivery for `wait` (call before it can be sent)."""
        self._waiters[item_id] = asyncio.get_running_loop().create_future()

    async def wait(self, item_id: int, timeout: float) -> str | None:
        """The final status of a watched delivery; None when not settled within `timeout`."""
        future = self._waiters.get(item_id)
        if future is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None
        finally:
            if future.done():
                self._waiters.pop(item_id, None)

    def settle(self, item: OutboundItem, status: str, error: str = "") -> None:
        if status in self.counts:
            self.counts[status] += 1
        future = self._waiters.get(item.id) if item.id is not None else None
        if future is not None and not future.done():
            future.set_result(status)
        if self.hook is not None:
            try:
                self.hook(item, status, error)
            except Exception:
                log.exception("outbox settle hook failed for delivery %s", item.id)
