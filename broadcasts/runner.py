"""The running bot's side of broadcasts: hands due ones to the outbox, applies cancel and retry.

It looks at the store every `[broadcast] poll_seconds`, so a broadcast created, approved or
cancelled from a shell (`qunbot broadcast ...`) is acted on within seconds, exactly like one from
the console (which also wakes it at once). Exactly once per (broadcast, chat, part): the ledger
key is ("broadcast:<id>", "part<n>", platform, chat); a crash between handing over and marking the
broadcast "sending" hands it over again at the next start, and the ledger ignores the repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.kernel.clock import Clock
from bot.kernel.priorities import BROADCAST_PRIORITY
from bot.kernel.tasks import cancel_and_wait
from bot.store.broadcasts import source_of
from bot.store.outbound import OutboundItem
from broadcasts import customer_groups
from broadcasts.compose import is_customer_group

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("qunbot.broadcasts")


def items_of(store: Store, row: dict[str, Any], settings: Any = None,
             now: datetime | None = None) -> list[OutboundItem]:
    """The broadcast's deliveries: one per (chat, part); WeCom customer groups one 企业群发 task
    per owner, planned (and checked against the corp's limit) now, once: a broadcast already in
    the ledger (handed over before a crash) is not planned again."""
    source = source_of(row["id"])
    items = []
    targets = store.broadcasts.targets(row["id"])
    if not store.broadcasts.counts(row["id"]):
        items += customer_groups.owner_items(store, settings, row["id"], source, targets, now or Clock().now())
    for t in targets:
        if is_customer_group(t):
            continue
        for i, part in enumerate(t["parts"]):
            items.append(OutboundItem(
                source=source, occurrence=f"part{i + 1}", platform=t["platform"], chat_id=t["chat_id"],
                chat_kind=t["chat_kind"], payload=part, priority=BROADCAST_PRIORITY,
            ))
    return items


def apply_cancels_offline(store: Store) -> int:
    """At start, before the outbox loads the ledger: withdraw what cancelled broadcasts left pending."""
    count = 0
    for row in store.broadcasts.work(Clock().now())["requests"]:
        if row["cancel_requested"]:
            count += len(store.outbound.cancel_pending(source_of(row["id"])))
            store.broadcasts.clear_request(row["id"], "cancel")
    return count


class BroadcastRunner:
    """Polls the store and acts through the outbox's submit / cancel / retry."""

    def __init__(self, store: Store, clock: Clock, poll_seconds: float,
                 submit: Callable[[list[OutboundItem]], Awaitable[list[OutboundItem]]],
                 cancel: Callable[[str], Awaitable[int]], retry: Callable[[str], Awaitable[int]],
                 settings: Any = None) -> None:
        self.store = store
        # [adapters.wecom] group_msg_limit, for broadcasts to customer groups
        self.settings = settings
        self.clock = clock
        self.poll = poll_seconds
        self.submit = submit
        self.cancel = cancel
        self.retry = retry
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """After the outbox started (the bot applied offline cancels before it loaded the ledger)."""
        self._task = asyncio.create_task(self._loop(), name="broadcasts")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast runner step failed; trying again")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
            except TimeoutError:
                pass

    async def run_once(self) -> dict[str, int]:
        store = self.store
        work = await store.run(store.broadcasts.work, self.clock.now())
        done = {"submitted": 0, "cancelled": 0, "retried": 0, "finished": 0}
        for row in work["requests"]:
            source = source_of(row["id"])
            if row["cancel_requested"]:
                done["cancelled"] += await self.cancel(source)
                await store.run(store.broadcasts.clear_request, row["id"], "cancel")
            if row["retry_requested"]:
                done["retried"] += await self.retry(source)
                await store.run(store.broadcasts.clear_request, row["id"], "retry")
        for row in work["due"]:
            items = await store.run(items_of, store, row, self.settings, self.clock.now())
            created = await self.submit(items)
            await store.run(store.broadcasts.set_status, row["id"], "sending", submitted_at=self.clock.now())
            log.info("broadcast %s handed to the outbox: %d deliveries (%d new)", row["id"], len(items), len(created))
            done["submitted"] += len(created)
        for row in work["finished"]:
            await store.run(store.broadcasts.set_status, row["id"], "done")
            done["finished"] += 1
        return done
