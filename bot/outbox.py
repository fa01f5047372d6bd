"""The only way out: rate limits per target and per adapter, retries, the delivery ledger.

The ledger (store.outbound) is the truth; this class keeps an in-memory schedule of the
active rows so that rate-limited targets cost nothing while they wait. After a restart the
schedule is rebuilt from the ledger: pending rows are sent, rows caught mid-send are resent
only where the adapter's send is idempotent and are otherwise marked `uncertain`.

One rule decides what happens after an attempt, by what the adapter raised (adapters/base.py):
- sent: `sent`; the rate-limit slot counts from now;
- NotConnected (nothing sent, no connection): the row waits, using no attempt and no slot,
  until the adapter reports it is connected again or the row's `not_after` passes (skipped);
- TransientSendError (not done, try later): retried with backoff until `max_attempts`;
- OutcomeUnknown, or a bare TimeoutError / OSError (the request may have reached the platform):
  `uncertain`, never repeated — like a crash mid-send — unless the adapter's send is idempotent;
- PermanentSendError, ActionNotSupported: `failed`; any other exception is a bug: `failed`
  at once, logged with its traceback.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.adapters.base import (
    ActionNotSupported,
    Adapter,
    Delivery,
    NotConnected,
    OutcomeUnknown,
    PermanentSendError,
    RateLimit,
    TransientSendError,
)
from bot.kernel.actions import ACTION_KIND
from bot.kernel.clock import Clock
from bot.kernel.pacing import Pacer, is_bulk
from bot.outcomes import Outcomes
from bot.ratelimit import SlidingWindow
from bot.store.outbound import OutboundItem
from bot.waiting_room import WaitingRoom

if TYPE_CHECKING:
    from bot.config import OutboxSettings
    from bot.recorder import Recorder
    from bot.store import Store

log = logging.getLogger("qunbot.outbox")

# a send waits this long for its "sending" mark to be committed, then tries again later
RECORD_TIMEOUT = 5.0
RECORD_RETRY_SECONDS = 5.0
EXPIRED = "已过期，未发送"
# an adapter that says it is connected but whose send found no connection is asked again after this
RECONNECT_RECHECK_SECONDS = 1.0
ERR_UNCERTAIN = "已发出但未收到平台确认，无法确认是否已送达；请在控制台确认后重试"
ERR_CRASHED = "进程在发送途中停止，无法确认是否已送达；请在控制台确认后重试"
ERR_BUG = "发送时出现程序错误（详见日志）"


class Outbox:
    """Delivers outbound items exactly once per (source, occurrence, target)."""

    def __init__(
        self, store: Store, adapters: dict[str, Adapter], settings: OutboxSettings,
        clock: Clock | None = None, rng: Callable[[], float] = random.random,
        max_concurrency: int = 16, recorder: Recorder | None = None, pacer: Pacer | None = None,
    ) -> None:
        self.store = store
        # paces bulk sends (payload "bulk": true) per account; replies and actions never wait for it
        self.pacer = pacer
        # write-behind for bookkeeping that a crash may lose safely (idempotent adapters only)
        self.recorder = recorder
        self.adapters = adapters
        self.settings = settings
        self.clock = clock or Clock()
        self.rng = rng
        self._seq = itertools.count()
        # per adapter: heap of (priority, due monotonic time, seq, item)
        self._queues: dict[str, list[tuple[int, float, int, OutboundItem]]] = {}
        self._offline = WaitingRoom()
        self._limits: dict[str, list[tuple[RateLimit, SlidingWindow]]] = {}
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(max_concurrency)
        self._inflight: set[asyncio.Task] = set()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._cancelled: set[int] = set()
        self._incoming: list[OutboundItem] = []
        self._insert_task: asyncio.Task | None = None
        self.outcomes = Outcomes()

    @property
    def sent_count(self) -> int:
        return self.outcomes.counts["sent"]

    @property
    def failed_count(self) -> int:
        return self.outcomes.counts["failed"]

    @property
    def uncertain_count(self) -> int:
        return self.outcomes.counts["uncertain"]

    # -- public API -----------------------------------------------------------------

    async def submit(self, items: list[OutboundItem], *, watch: bool = False) -> list[OutboundItem]:
        """Add to the ledger; items whose key already exists are ignored. Returns the new ones.
        With `watch`, `outcome(item.id)` can wait for how each new one ended."""
        if not items:
            return []
        created = await self.store.run(self.store.outbound.insert, items, self.clock.now())
        for item in created:
            assert item.id is not None, "insert returns stored items"
            if watch:
                self.outcomes.watch(item.id)
            self._schedule(item)
        if created:
            self._wake.set()
        return created

    def submit_nowait(self, items: list[OutboundItem]) -> None:
        """Queue items for the ledger without waiting (replies on the hot path): they are
        inserted in one transaction with whatever else arrives in the same few milliseconds."""
        self._incoming.extend(items)
        if self._insert_task is None or self._insert_task.done():
            self._insert_task = asyncio.create_task(self._insert_incoming(), name="outbox-insert")

    async def _insert_incoming(self) -> None:
        while self._incoming:
            batch, self._incoming = self._incoming, []
            try:
                await self.submit(batch)
            except Exception:
                log.exception("could not add %d replies to the outbox; retrying", len(batch))
                self._incoming[:0] = batch
                await asyncio.sleep(1.0)

    async def outcome(self, item_id: int, timeout: float) -> str | None:
        """The final status of a delivery submitted with `watch`; None if not settled in time."""
        return await self.outcomes.wait(item_id, timeout)

    async def retry_failed(self, source: str, occurrence: str | None = None) -> int:
        items = await self.store.run(self.store.outbound.retry_failed, source, occurrence, self.clock.now())
        for item in items:
            self._schedule(item)
        self._wake.set()
        return len(items)

    async def cancel(self, source: str, occurrence: str | None = None) -> int:
        """Withdraw the not-yet-sent deliveries of a source (a cancelled campaign)."""
        ids = await self.store.run(self.store.outbound.cancel_pending, source, occurrence)
        self._cancelled.update(ids)
        return len(ids)

    def depth(self) -> int:
        queued = sum(len(q) for q in self._queues.values()) + len(self._offline)
        return queued + len(self._inflight) + len(self._incoming)

    def waiting_for_connection(self, platform: str) -> int:
        return self._offline.count(platform)

    def wake(self) -> None:
        """Look at the queues now, not at the next planned wake-up (a test moved its FakeClock)."""
        self._wake.set()

    async def start(self) -> None:
        for adapter in self.adapters.values():
            adapter.on_connection(self._connection_changed)
        active = await self.store.run(self.store.outbound.active)
        resumed = uncertain = 0
        for item in active:
            owner = self.adapters.get(item.platform)
            if item.status == "sending" and not (owner and owner.idempotent_send):
                await self.store.run(self.store.outbound.mark, item.id, "uncertain", error=ERR_CRASHED)
                uncertain += 1
                continue
            self._schedule(item)
            resumed += 1
        if resumed or uncertain:
            log.info("outbox resumed %d pending deliveries, %d uncertain", resumed, uncertain)
        self._task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking new sends, let in-flight ones finish; pending rows stay for the next start."""
        if self._insert_task is not None:
            await asyncio.wait([self._insert_task], timeout=timeout)
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=timeout)

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or in flight (tests and `qunbot try`)."""
        # real time, not self.clock: a test's FakeClock must not make the wait endless
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.depth() or (self._insert_task is not None and not self._insert_task.done()):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.01)
        if self.recorder is not None:
            await self.recorder.flush()
        return True

    # -- scheduling -----------------------------------------------------------------

    def _schedule(self, item: OutboundItem, delay: float | None = None) -> None:
        if delay is None:
            delay = 0.0
            if item.not_before is not None:
                delay = max(0.0, (item.not_before - self.clock.now()).total_seconds())
        due = self.clock.monotonic() + delay
        heapq.heappush(self._queues.setdefault(item.platform, []), (item.priority, due, next(self._seq), item))

    def _windows(self, platform: str) -> list[tuple[RateLimit, SlidingWindow]]:
        if platform not in self._limits:
            adapter = self.adapters.get(platform)
            limits = [
                RateLimit("target", self.settings.per_target_per_minute, 60.0),
                RateLimit("adapter", self.settings.per_adapter_per_minute, 60.0),
                *(adapter.rate_limits if adapter else ()),
            ]
            self._limits[platform] = [
                (lim, SlidingWindow(lim.count, lim.period, self.clock.monotonic)) for lim in limits
            ]
        return self._limits[platform]

    def _connection_changed(self, platform: str, connected: bool) -> None:
        """The adapter's port: a reconnect puts every delivery that waited for it back in line."""
        if not connected:
            return
        waiting = self._offline.release(platform)
        if waiting:
            log.info("adapter %s connected: resuming %d deliveries", platform, len(waiting))
        for item in waiting:
            self._schedule(item)
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            sleep_for = await self._dispatch_ready()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=sleep_for)
            except TimeoutError:
                pass

    async def _dispatch_ready(self) -> float:
        """Start every send that is due and allowed; return seconds until the next one may be."""
        next_wake = 1.0
        now = self.clock.monotonic()
        wall = self.clock.now()
        expired = self._offline.expired(wall.timestamp())
        for platform, queue in self._queues.items():
            adapter = self.adapters.get(platform)
            online = adapter is None or adapter.connected
            windows = self._windows(platform)
            deferred: list[tuple[int, float, int, OutboundItem]] = []
            while queue:
                prio, due, seq, item = queue[0]
                if item.not_after is not None and wall > item.not_after:
                    # dropped without waiting for a rate slot: under a long overload the queue
                    # holds at most reply_ttl's worth of replies
                    heapq.heappop(queue)
                    expired.append(item)
                    continue
                if due > now:
                    # the heap is ordered by priority first; a later-due item may hide behind it
                    heapq.heappop(queue)
                    deferred.append((prio, due, seq, item))
                    next_wake = min(next_wake, due - now)
                    continue
                if not online:
                    heapq.heappop(queue)
                    self._offline.park(item)
                    continue
                bulk = self.pacer is not None and is_bulk(item.payload)
                if bulk:
                    assert self.pacer is not None
                    pace_wait = self.pacer.wait(platform, item.payload.get("text", ""))
                    if pace_wait > 0:
                        # only this item waits: replies behind it in the heap still go now
                        heapq.heappop(queue)
                        deferred.append((prio, now + pace_wait, seq, item))
                        next_wake = min(next_wake, pace_wait)
                        continue
                adapter_wait = max((w.wait_time(platform) for lim, w in windows if lim.scope == "adapter"), default=0.0)
                if adapter_wait > 0:
                    next_wake = min(next_wake, adapter_wait)
                    break
                target_key = (platform, item.chat_id)
                target_wait = max((w.wait_time(target_key) for lim, w in windows if lim.scope == "target"), default=0.0)
                heapq.heappop(queue)
                if target_wait > 0:
                    deferred.append((prio, now + target_wait, seq, item))
                    next_wake = min(next_wake, target_wait)
                    continue
                if self._sem.locked():
                    deferred.append((prio, due, seq, item))
                    next_wake = min(next_wake, 0.01)
                    break
                slots = [(w, platform if lim.scope == "adapter" else target_key) for lim, w in windows]
                for w, key in slots:
                    w.reserve(key)
                if bulk:
                    assert self.pacer is not None
                    self.pacer.reserve(platform, item.payload.get("text", ""))
                await self._sem.acquire()
                task = asyncio.create_task(self._send(item, slots))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            for entry in deferred:
                heapq.heappush(queue, entry)
        if expired:
            await self._skip_expired(expired)
        return max(0.001, next_wake)

    async def _skip_expired(self, items: list[OutboundItem]) -> None:
        ids = [item.id for item in items]
        self._cancelled.difference_update(ids)
        log.info("outbox dropped %d deliveries past their time", len(ids))
        try:
            await self.store.run(self.store.outbound.skip, ids, EXPIRED)
        except Exception:
            log.exception("could not mark %d expired deliveries", len(ids))
        for item in items:
            self.outcomes.settle(item, "skipped", EXPIRED)

    # -- sending --------------------------------------------------------------------

    async def _send(self, item: OutboundItem, slots: Sequence[tuple[SlidingWindow, object]] = ()) -> None:
        assert item.id is not None, "only stored deliveries are sent"
        store = self.store
        # the limit counts what the platform may have seen: sent or uncertain, not refused tries
        counted = False
        # how the attempt ended, for the pacer: sent / failed / uncertain / waiting / retry
        paced = ("retry", "")
        try:
            if item.id in self._cancelled:
                paced = ("waiting", "")  # nothing went out: give the budget back
                self._cancelled.discard(item.id)
                self.outcomes.settle(item, "cancelled")
                return
            adapter = self.adapters.get(item.platform)
            if adapter is None:
                error = f"适配器 {item.platform} 未启用"
                await store.run(store.outbound.mark, item.id, "failed", error=error)
                self.outcomes.settle(item, "failed", error)
                return
            attempts = item.attempts + 1
            # an idempotent adapter may be asked again after a crash, so it needs no durable
            # "sending" mark before the send and its "sent" mark can ride the next batch
            cheap = adapter.idempotent_send and self.recorder is not None
            if not cheap:
                try:
                    await self._mark_durably(item.id, "sending", attempts=attempts)
                except TimeoutError:
                    log.warning("delivery %s waits: the database did not record the send in time", item.id)
                    self._schedule(item, RECORD_RETRY_SECONDS)
                    return
            delivery = Delivery(
                id=item.id, platform=item.platform, chat_id=item.chat_id, chat_kind=item.chat_kind,
                payload=item.payload, source=item.source, occurrence=item.occurrence, attempts=attempts,
            )
            try:
                platform_id = await _deliver(adapter, delivery)
            except NotConnected as exc:
                paced = ("waiting", "")
                await self._wait_for_connection(item, adapter, str(exc), marked=not cheap)
                return
            except (OutcomeUnknown, TimeoutError, OSError) as exc:
                error = str(exc) or type(exc).__name__
                counted = True  # the platform may have seen it
                if adapter.idempotent_send:
                    await self._retry_or_fail(item, attempts, error, None)
                    return
                paced = ("uncertain", error)
                log.warning("delivery %s to %s:%s is uncertain: %s", item.id, item.platform, item.chat_id, error)
                error = f"{ERR_UNCERTAIN}（{error}）"[:500]
                await store.run(store.outbound.mark, item.id, "uncertain", error=error)
                self.outcomes.settle(item, "uncertain", error)
                return
            except TransientSendError as exc:
                error = str(exc) or type(exc).__name__
                paced = ("failed" if attempts >= self.settings.max_attempts else "retry", error)
                await self._retry_or_fail(item, attempts, error, exc.retry_after)
                return
            except (PermanentSendError, ActionNotSupported) as exc:
                log.warning("delivery %s to %s:%s failed: %s", item.id, item.platform, item.chat_id, exc)
                error = (str(exc) if not isinstance(exc, ActionNotSupported) else f"平台不支持该操作：{exc}")[:500]
                paced = ("failed", error)
                await store.run(store.outbound.mark, item.id, "failed", error=error)
                self.outcomes.settle(item, "failed", error)
                return
            except Exception:
                # a bug, not a platform's answer: retrying would only repeat it
                log.exception("delivery %s to %s:%s failed with an unexpected error",
                              item.id, item.platform, item.chat_id)
                await store.run(store.outbound.mark, item.id, "failed", error=ERR_BUG)
                self.outcomes.settle(item, "failed", ERR_BUG)
                return
            counted = True
            paced = ("sent", "")
            if self.recorder is not None:
                # Written behind: until it lands, a crash leaves the row "sending" (not idempotent:
                # marked uncertain, never resent) or "pending" (idempotent: resent harmlessly).
                self.recorder.defer_row(store.outbound.mark_many, (
                    item.id, "sent", {"attempts": attempts, "platform_message_id": platform_id},
                ))
            else:
                await store.run(store.outbound.mark, item.id, "sent", platform_message_id=platform_id)
            self.outcomes.settle(item, "sent")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox bookkeeping failed for delivery %s", item.id)
        finally:
            if self.pacer is not None and is_bulk(item.payload) and paced[0] != "retry":
                self.pacer.result(item.platform, *paced)
            for w, key in slots:
                if counted:
                    w.commit(key)
                else:
                    w.release(key)
            self._sem.release()
            self._wake.set()

    async def _wait_for_connection(self, item: OutboundItem, adapter: Adapter, error: str, marked: bool) -> None:
        """Nothing was sent: undo the "sending" mark (no attempt used) and wait for the adapter."""
        if marked:
            await self.store.run(self.store.outbound.mark, item.id, "pending", error=error[:500],
                                 attempts=item.attempts)
        if adapter.connected:
            # it reconnected meanwhile, or it cannot tell: look again shortly
            self._schedule(item, RECONNECT_RECHECK_SECONDS)
        else:
            log.info("delivery %s waits for adapter %s to connect", item.id, item.platform)
            self._offline.park(item)

    async def _mark_durably(self, item_id: int, status: str, **fields) -> None:
        """Commit a mark before going on; through the recorder's group commit when there is
        one, so a burst of sends costs one transaction, not one each."""
        if self.recorder is None:
            await self.store.run(self.store.outbound.mark, item_id, status, **fields)
            return
        self.recorder.defer_row(self.store.outbound.mark_many, (item_id, status, fields))
        await asyncio.wait_for(asyncio.shield(self.recorder.durable()), timeout=RECORD_TIMEOUT)

    async def _retry_or_fail(self, item: OutboundItem, attempts: int, error: str, retry_after: float | None) -> None:
        if attempts >= self.settings.max_attempts:
            log.warning("delivery %s failed after %d attempts: %s", item.id, attempts, error)
            await self.store.run(self.store.outbound.mark, item.id, "failed", error=error[:500])
            self.outcomes.settle(item, "failed", error[:500])
            return
        backoff = min(self.settings.retry_max, self.settings.retry_base * 2 ** (attempts - 1))
        delay = retry_after if retry_after is not None else backoff * (0.5 + self.rng())
        log.info("delivery %s attempt %d failed (%s); retry in %.1fs", item.id, attempts, error, delay)
        await self.store.run(
            self.store.outbound.mark, item.id, "pending", error=error[:500],
            next_attempt_at=self.clock.now() + timedelta(seconds=delay),
        )
        item.attempts = attempts
        item.status = "pending"
        self._schedule(item, delay)


async def _deliver(adapter: Adapter, delivery: Delivery) -> str | None:
    """A message is sent; a platform action (bot.actions) is performed, with its row's id so
    that an adapter can make a repeat harmless."""
    if delivery.payload.get("kind") == ACTION_KIND:
        await adapter.perform({**delivery.payload["action"], "delivery_id": delivery.id})
        return None
    return await adapter.send(delivery)
