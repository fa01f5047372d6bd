"""The running bot: pipeline, recorder, outbox and adapters wired together."""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.actions import action_item, audit_outcomes
from bot.adapters.base import Adapter, RecordingUnavailable
from bot.config import Settings
from bot.kernel.clock import Clock
from bot.kernel.commands import CommandStage
from bot.kernel.events import Event, EventType
from bot.kernel.pipeline import Context, Outcome, Pipeline
from bot.kernel.priorities import REPLY_PRIORITY
from bot.kernel.tasks import cancel_and_wait
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.recorder import Recorder
from bot.recovery import RECOVERY_LIMIT, RECOVERY_WINDOW, requeue_unhandled, too_late
from bot.reports.daily import DailySummary
from bot.sending import SendingGuard, platform_info
from bot.services import Services
from bot.stages import Deduper, RecordStage
from bot.store import Store
from bot.store.outbound import OutboundItem
from broadcasts.compose import PlatformInfo
from broadcasts.runner import BroadcastRunner, apply_cancels_offline
from intents.stage import FaqStage
from keywords.stage import KeywordStage
from members.tagbook import MemberTagBook
from moderation.stage import ModerationStage
from schedules.scheduler import Scheduler
from schedules.service import ScheduleService

log = logging.getLogger("qunbot.bot")
GC_THRESHOLDS = (50_000, 20, 10)
# how long Bot.perform waits for a platform action's outcome before saying "not confirmed"
ACTION_WAIT_SECONDS = 15.0
# events that change a chat's member list (a join request does not: the person is not in yet)
MEMBERSHIP = (EventType.MEMBER_JOIN, EventType.MEMBER_LEAVE)


class Bot:
    """One bot process: takes Events from adapters, runs the pipeline, sends through the outbox."""

    def __init__(
        self, settings: Settings, store: Store, *, clock: Clock | None = None,
        adapters: dict[str, Adapter] | None = None, workers: int = 4, queue_size: int = 10_000,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or Clock()
        self.adapters: dict[str, Adapter] = adapters or {}
        self.services = Services(
            settings=settings, store=store, clock=self.clock,
            submit=self._submit_items, capabilities=self.capabilities,
        )
        self.recorder = Recorder(store)
        self.services.defer_write = self.recorder.defer
        self.services.defer_row = self.recorder.defer_row
        # pacing of bulk sends per account (bot/kernel/pacing.py): jitter, budget, quiet hours, breaker
        self.sending = SendingGuard(settings.sending, settings.tz, store, self.clock)
        self.outbox = Outbox(store, self.adapters, settings.outbox, clock=self.clock, recorder=self.recorder,
                             pacer=self.sending.pacer)
        self.sending.outbox = self.outbox
        self.outbox.outcomes.hook = audit_outcomes(store, self.recorder, self.clock.now)
        self.services.submit_nowait = self.outbox.submit_nowait
        self.deduper = Deduper()
        # uid -> its recorder commit, while an accepted message is not yet durable
        self._unsaved: dict[str, asyncio.Future] = {}
        # submits in progress, so a stop waits for their events before draining the queues
        self._submitting = 0
        self._no_submits = asyncio.Event()
        self._no_submits.set()
        # stages register their chat commands through this (moderation: /mute, /warn …)
        self.commands = CommandStage(settings.bot.name)
        # the domain stages, which console views, the CLI and metrics reach through the bot
        self.moderation_stage = ModerationStage(self.services, commands=self.commands)
        self.keyword_stage = KeywordStage(self.services)
        self.faq_stage = FaqStage(self.services)
        # member tags in memory (targeting) and the [[member_tags]] rules that give them
        self.member_tags = MemberTagBook(self.services, settings.member_tags)
        self.pipeline = self._build_pipeline()
        # the timers that fire jobs, and the service the console and the CLI change jobs through
        self.scheduler = Scheduler(self.services, reload_keywords=self.keyword_stage.engine.areload)
        self.schedules = ScheduleService(
            self.scheduler, retry_failed=self.outbox.retry_failed, cancel_pending=self.outbox.cancel,
        )
        # one-off broadcasts (群发): created from the console or a shell, sent from here
        self.broadcasts = BroadcastRunner(store, self.clock, settings.broadcast.poll_seconds,
                                          submit=self._submit_items, cancel=self.outbox.cancel,
                                          retry=self.outbox.retry_failed, settings=settings)
        self.metrics = Metrics()
        self.daily_summary = DailySummary(self)
        # dedupe and record run when an adapter hands the event over; the rest in a worker
        self._intake_end = self.pipeline.names.index("record") + 1
        self._chat_info: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self._queues: list[asyncio.Queue[tuple[Event, Context]]] = [
            asyncio.Queue(maxsize=queue_size) for _ in range(workers)
        ]
        self._workers: list[asyncio.Task] = []
        self._guard_task: asyncio.Task | None = None
        self._started = False
        self.handled = 0
        self.durable_timeout = 5.0

    def _build_pipeline(self) -> Pipeline:
        pipeline = Pipeline()
        pipeline.register("dedupe", self.deduper)
        pipeline.register("record", RecordStage(self.recorder, self.settings.bot.max_text_length))
        pipeline.register("moderation", self.moderation_stage)
        pipeline.register("commands", self.commands)
        pipeline.register("keywords", self.keyword_stage)
        pipeline.register("intents", self.faq_stage)
        return pipeline

    def stage(self, name: str) -> Any:
        return dict(self.pipeline.stages)[name]

    def platforms(self) -> dict[str, PlatformInfo]:
        """What broadcasts need to know of each enabled adapter (capabilities, text size limit)."""
        return platform_info(self.adapters)

    def capabilities(self, platform: str) -> frozenset[str]:
        adapter = self.adapters.get(platform)
        return adapter.capabilities if adapter else frozenset()

    @property
    def bot_name(self) -> str:
        return self.settings.bot.name

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Adapters' write-behind (Host port): the recorder's next batch."""
        self.recorder.defer(fn, *args)

    def defer_row(self, fn: Callable[[list[Any]], Any], row: Any) -> None:
        self.recorder.defer_row(fn, row)

    def refresh_chats(self) -> None:
        self._chat_info = {
            (c["platform"], c["chat_id"]): (c["name"], c["tags"]) for c in self.store.chats.list_chats()
        }

    def chat_info(self, platform: str, chat_id: str) -> tuple[str, list[str]]:
        return self._chat_info.get((platform, chat_id), ("", []))

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self.store.start_background_checkpoints()
        await self.store.run(self.refresh_chats)
        await self.member_tags.load()
        self.deduper.seed(await self.store.run(self.store.messages.recent_uids, 100_000))
        await self.recorder.start()
        await self.store.run(self.sending.restore, list(self.adapters))
        # cancels asked for while the bot was down are applied before the outbox loads the ledger
        await self.store.run(apply_cancels_offline, self.store)
        await self.outbox.start()
        self._workers = [asyncio.create_task(self._work(q), name=f"worker-{i}") for i, q in enumerate(self._queues)]
        for adapter in self.adapters.values():
            await adapter.start(self)
        # queued before the web server listens (it starts once start-up is over), so a chat's
        # recovered messages are handled before its new ones; after the adapters, which act
        await self._recover()
        await self.scheduler.start()
        await self.broadcasts.start()
        self.daily_summary.start()
        # blacklist changes from the CLI, curfew edges (moderation/curfew.py)
        self._guard_task = asyncio.create_task(self.moderation_stage.background(), name="moderation-background")
        self.member_tags.start()
        self._started = True
        # The dictionaries, automata and indexes loaded above are millions of long-lived
        # objects; without this every full collection walks them all (100+ ms pauses).
        gc.collect()
        gc.freeze()
        # Messages allocate many short-lived containers that refcounting frees; with the
        # default threshold (700) the collector ran ~200 times a second walking the traces
        # waiting in the recorder's batch: 8% of bench_whole's time, 1% after this.
        gc.set_threshold(*GC_THRESHOLDS)

    async def _recover(self) -> None:
        """Queue the messages acknowledged before a crash but never handled (bot/recovery.py)."""
        since = self.clock.now() - RECOVERY_WINDOW
        events = await self.store.run(self.store.messages.unhandled, since, RECOVERY_LIMIT)
        await requeue_unhandled(events, self.make_context, float(self.settings.outbox.reply_ttl), self._enqueue)

    async def _enqueue(self, event: Event, ctx: Context) -> None:
        """To the worker of the event's chat, so a chat's events keep their order."""
        await self._queues[zlib.crc32(event.session_key.encode()) % len(self._queues)].put((event, ctx))

    async def stop(self) -> None:
        """Finish queued messages, flush records, stop the outbox and adapters."""
        await self.scheduler.stop()
        await self.broadcasts.stop()
        await self.daily_summary.stop()
        await cancel_and_wait(self._guard_task)
        await self.member_tags.stop()
        # events still being taken in (a socket's reader hands them over in the background)
        # are queued before the queues are drained, not recorded and left for the next start
        try:
            await asyncio.wait_for(self._no_submits.wait(), timeout=self.durable_timeout + 1)
        except TimeoutError:
            log.warning("stopping with %d events still being recorded", self._submitting)
        for q in self._queues:
            await q.join()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        # stages holding state in memory (keywords: hit counts, open welcome windows) write it out
        for _, stage in self.pipeline.stages:
            close = getattr(stage, "aclose", None)
            if close is not None:
                await close()
        # in-flight sends finish before the adapters close under them (else they end uncertain);
        # their marks are committed through the recorder, which stops last
        await self.outbox.stop()
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter %s did not stop cleanly", adapter.name)
        await self.recorder.stop()
        self._started = False

    # -- handling -------------------------------------------------------------------

    async def submit(self, event: Event) -> str:
        """Accept an event from an adapter: dedupe and record it durably, then queue the rest.

        When this returns, the message is committed to SQLite (group commit), so the adapter
        may acknowledge the platform: a crash after that loses nothing. Events of one chat keep
        their order. Waits when the queue is full (back-pressure on the platform).
        Returns "duplicate" for a message id seen before, else "accepted". A duplicate of a
        message not yet committed waits for that commit too: nothing is acknowledged before it
        is durable. Raises RecordingUnavailable when the commit takes over `durable_timeout`.
        """
        self._submitting += 1
        self._no_submits.clear()
        try:
            return await self._intake(event)
        finally:
            self._submitting -= 1
            if not self._submitting:
                self._no_submits.set()

    async def _intake(self, event: Event) -> str:
        if event.type in MEMBERSHIP:
            await self._membership_in_time(event)
        ctx = self.make_context(event)
        intake = await self.pipeline.run(event, ctx, end=self._intake_end)
        if intake.status == "duplicate":
            self.recorder.add_decisions(event.uid, intake.decisions, "received")
            self.metrics.count_duplicate()
            unsaved = self._unsaved.get(event.uid)
            if unsaved is not None:
                # the original is still only in memory: acknowledging the retry now would let
                # a crash lose it, so the retry waits for the same commit (503 if it times out)
                await self._until_durable(unsaved)
            return "duplicate"
        saved = self.recorder.durable()
        self._unsaved[event.uid] = saved
        uid = event.uid
        saved.add_done_callback(lambda _: self._unsaved.pop(uid, None))
        try:
            await self._until_durable(saved)
        except RecordingUnavailable:
            # The message stays buffered and is written when the database recovers. It is still
            # handled now; the adapter answers 503 so the platform retries, and each retry
            # waits for this copy's commit before it is acknowledged.
            await self._enqueue(event, ctx)
            raise
        await self._enqueue(event, ctx)
        return "accepted"

    async def _membership_in_time(self, event: Event) -> None:
        """A join or leave updates the member list before it is recorded; when the database
        cannot take that in time it is the same outage as for messages (503), not a 500."""
        write = asyncio.ensure_future(self._track_membership(event))
        try:
            await asyncio.wait_for(asyncio.shield(write), timeout=self.durable_timeout)
        except TimeoutError:
            # finishes when the database recovers (an upsert: the platform's retry repeats it)
            write.add_done_callback(_log_failed_write)
            raise RecordingUnavailable(self.recorder.last_error or "database is slow") from None
        except sqlite3.Error as exc:
            raise RecordingUnavailable(str(exc)) from None

    async def _until_durable(self, saved: asyncio.Future) -> None:
        """Wait for a group commit; RecordingUnavailable when the database cannot take it in time."""
        try:
            await asyncio.wait_for(asyncio.shield(saved), timeout=self.durable_timeout)
        except TimeoutError:
            raise RecordingUnavailable(self.recorder.last_error or "recording is slow") from None
        except Exception as exc:  # the recorder gave up on the batch: still not durable
            raise RecordingUnavailable(str(exc) or "recording failed") from None

    def queue_depth(self) -> int:
        return sum(q.qsize() for q in self._queues)

    async def _work(self, queue: asyncio.Queue) -> None:
        while True:
            event, ctx = await queue.get()
            try:
                await self.handle(event, ctx)
            except Exception:
                log.exception("handling failed", extra={"message_id": event.uid})
            finally:
                queue.task_done()

    def make_context(self, event: Event, *, dry_run: bool = False) -> Context:
        name, tags = self.chat_info(event.platform, event.chat_id)
        if not event.chat_name:
            event.chat_name = name
        return Context(now=self.clock.now(), chat_tags=tags, chat_name=name or event.chat_name, dry_run=dry_run,
                       member_tags=self.member_tags.tags_of(event.platform, event.sender_id))

    async def handle(self, event: Event, ctx: Context | None = None) -> Outcome:
        """Run one event through the pipeline (or the rest of it, after `submit`'s intake),
        record the decisions, send replies, do actions."""
        if ctx is None:
            if event.type in MEMBERSHIP:
                await self._track_membership(event)
            ctx = self.make_context(event)
            outcome = await self.pipeline.run(event, ctx)
        else:
            outcome = await self.pipeline.run(event, ctx, start=self._intake_end)
            if too_late(ctx):
                outcome.replies = []  # recovered after a crash, past reply_ttl: too late to answer
        # a duplicate's decision is added to the original message's trace
        status = outcome.status if outcome.status != "duplicate" else "received"
        self.recorder.add_decisions(event.uid, outcome.decisions, status)
        self.member_tags.observe(event, ctx, outcome)
        self.handled += 1
        self.metrics.observe(outcome)
        await self._carry_out(event, outcome)
        return outcome

    async def resume(self, uid: str, after: str) -> Outcome | None:
        """Run a recorded message through the stages after `after` (a held message a moderator
        approved): its answers are sent and its trace gains the new decisions. None when the
        message is not in the database."""
        event = await self.store.run(self.store.messages.get_event, uid)
        if event is None:
            return None
        ctx = self.make_context(event)
        outcome = await self.pipeline.run(event, ctx, start=self.pipeline.names.index(after) + 1)
        self.recorder.add_decisions(uid, outcome.decisions, outcome.status)
        await self._carry_out(event, outcome, occurrence=f"{after}:")
        return outcome

    async def _carry_out(self, event: Event, outcome: Outcome, occurrence: str = "") -> None:
        """Log the outcome, queue its replies and perform its platform actions."""
        if log.isEnabledFor(logging.INFO):  # skips building the extra dict per message when quiet
            log.info(
                "event handled", extra={
                    "message_id": event.uid, "chat": event.chat_id, "status": outcome.status,
                    "replies": len(outcome.replies),
                },
            )
        if outcome.replies:
            ttl = float(self.settings.outbox.reply_ttl)
            expires = self.clock.now() + timedelta(seconds=ttl) if ttl else None
            self.outbox.submit_nowait([
                OutboundItem(
                    source=f"reply:{event.uid}", occurrence=f"{occurrence}{i}", platform=event.platform,
                    chat_id=event.sender_id if reply.private else event.chat_id,
                    chat_kind="private" if reply.private else str(event.chat_kind),
                    payload=_payload(reply, event), priority=REPLY_PRIORITY, reply_to=event.uid,
                    not_after=expires,
                )
                for i, reply in enumerate(outcome.replies)
            ])
        if outcome.actions:
            # through the outbox, without waiting: the worker goes on to the next message
            not_after = self._action_deadline()
            self.outbox.submit_nowait([
                action_item(event.platform, action, source=f"action:{event.uid}",
                            occurrence=f"{occurrence}{i}:{action.get('action', '')}", reply_to=event.uid,
                            not_after=not_after)
                for i, action in enumerate(outcome.actions)
            ])

    async def try_event(self, event: Event) -> Outcome:
        """Decide without recording, sending or acting: the manager's test bench."""
        ctx = self.make_context(event, dry_run=True)
        return await self.pipeline.run(event, ctx)

    def offline(self, platform: str) -> bool:
        """The platform's adapter exists and has no connection now (its actions wait in the outbox)."""
        adapter = self.adapters.get(platform)
        return adapter is not None and not adapter.connected

    async def perform(
        self, platform: str, action: dict[str, Any], *, source: str | None = None, occurrence: str | None = None,
        wait: bool = True,
    ) -> bool:
        """Do a platform action through the outbox (ledger, retries, limits, audit).

        True once the platform confirmed it (with `wait=False`: once it is queued). False
        when it was refused, impossible, uncertain or not confirmed within
        ACTION_WAIT_SECONDS, and at once when the adapter is offline: the row goes on
        (waiting for the connection) and its outcome reaches the audit log. The same
        (source, occurrence) is done once: asking again reports the first one's state.
        """
        adapter = self.adapters.get(platform)
        if adapter is None:
            return False
        kind = str(action.get("action", ""))
        source = source or f"action:{action.get('message_uid') or uuid.uuid4().hex}"
        occurrence = occurrence or kind
        item = action_item(platform, action, source=source, occurrence=occurrence,
                           reply_to=action.get("message_uid"), not_after=self._action_deadline())
        # a moderator's click need not wait for an adapter that is offline
        wait = wait and adapter.connected
        created = await self.outbox.submit([item], watch=wait)
        if not created:
            status = await self.store.run(self.store.outbound.status_of, source, occurrence, platform, item.chat_id)
            return status == "sent"
        if not wait:
            return adapter.connected
        assert created[0].id is not None, "submit returns stored items"
        status = await self.outbox.outcome(created[0].id, ACTION_WAIT_SECONDS)
        if status != "sent":
            log.warning("action %s on %s not confirmed: %s", kind, platform, status or "still pending")
        return status == "sent"

    def _action_deadline(self) -> datetime | None:
        """An action still waiting after reply_ttl (adapter offline) is dropped, not done late."""
        ttl = float(self.settings.outbox.reply_ttl)
        return self.clock.now() + timedelta(seconds=ttl) if ttl else None

    async def _submit_items(self, items: list[OutboundItem]) -> list[OutboundItem]:
        return await self.outbox.submit(items)

    async def _track_membership(self, event: Event) -> None:
        store = self.store

        def write() -> None:
            store.chats.ensure_chats([(event.platform, event.chat_id, str(event.chat_kind), event.chat_name)])
            # the chat's member row and the member directory's profile and names
            store.members.upsert(
                event.platform, event.chat_id, event.sender_id, event.sender_name,
                joined=event.type is EventType.MEMBER_JOIN, left=event.type is EventType.MEMBER_LEAVE,
                chat_kind=str(event.chat_kind),
            )

        await store.run(write)


def _log_failed_write(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("member list update failed: %s", task.exception())


def _payload(reply, event: Event) -> dict[str, Any]:
    payload: dict[str, Any] = {"text": reply.text, "kind": reply.kind}
    for key in ("url", "title", "image"):
        value = getattr(reply, key)
        if value:
            payload[key] = value
    if reply.mention_sender:
        payload["mention"] = event.sender_id
    return payload
