"""Batched recording: the hot path appends, one background flush writes many rows at once.

Messages, their decisions and the domains' deferred writes (`defer`, `defer_row`) of a few
milliseconds go to the store's writer thread as one transaction (group commit). A deferred
write that fails on its own is isolated by a savepoint and set aside after DEFERRED_ATTEMPTS
batches; a database failure (full, locked) fails the batch, which is kept and retried.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.kernel.events import Decision, Event, EventType
from bot.kernel.tasks import cancel_and_wait
from bot.store.base import iso, utcnow
from bot.store.messages import STATUS, message_row, trace_row

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("qunbot.recorder")

# a deferred write that failed this many times (each in its own batch) is set aside
DEFERRED_ATTEMPTS = 3
# how many members' last written names the recorder remembers (then it starts again)
NAMES_REMEMBERED = 200_000
# SQLite primary result codes that mean the database failed, not one write: the whole batch
# fails and is kept for retry (a full disk must never make the recorder drop writes)
DATABASE_FAILURES = frozenset({
    sqlite3.SQLITE_PERM, sqlite3.SQLITE_ABORT, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
    sqlite3.SQLITE_NOTADB,
})


class _Deferred:
    """One deferred write: `fn(*args)`; `rows` when args is `(list of rows,)` from defer_row."""

    __slots__ = ("args", "failures", "fn", "rows")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], rows: bool = False, failures: int = 0) -> None:
        self.fn = fn
        self.args = args
        self.rows = rows
        self.failures = failures

    def name(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))


class Recorder:
    """Buffers messages and decisions and writes them in one transaction per batch."""

    def __init__(
        self, store: Store, *, interval: float = 0.05, max_batch: int = 1000, commit_delay: float = 0.005,
    ) -> None:
        self.store = store
        self.commit_delay = commit_delay
        self.interval = interval
        self.max_batch = max_batch
        # rows encoded as they arrive (message_row, trace_row): the writer thread then spends
        # its time in SQLite, not in Python competing with the event loop for the GIL
        self._messages: list[tuple[Any, ...]] = []
        self._decisions: list[tuple[Any, ...]] = []
        self._statuses: list[tuple[str, str]] = []
        self._chats: list[tuple[str, str, str, str]] = []
        # other hot-path writes (FAQ answers, flags, hit counters) ride in the same transaction
        self._deferred: list[_Deferred] = []
        # rows for a writer that takes many (`defer_row`): fn -> the rows of this batch
        self._rows: dict[Callable[[list[Any]], Any], list[Any]] = {}
        self._row_count = 0
        self._known_chats: set[tuple[str, str]] = set()
        self._waiters: list[asyncio.Future] = []
        self._commit_soon: asyncio.TimerHandle | None = None
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.flushed_messages = 0
        self.last_error: str | None = None
        # deferred writes that failed DEFERRED_ATTEMPTS times and were set aside (/metrics)
        self.deferred_dropped = 0
        # the member directory: (platform, chat, sender) -> [name, messages, first, last] seen
        # since the last write, summed here and written every `members_interval` seconds (one
        # upsert per member seen, not one per message; a crash loses at most that many
        # seconds of counts, never a message)
        self._seen: dict[tuple[str, str, str], list[Any]] = {}
        self.members_interval = 2.0
        self._members_due = 0.0
        # the name last written per (platform, chat, sender): an unchanged name is not
        # written again (the name history's upsert is a third of the member write)
        self._names_written: dict[tuple[str, str, str], str] = {}

    def add_message(self, event: Event, *, truncated: bool = False) -> None:
        """Queue a message for the next batch (not yet durable)."""
        key = (event.platform, event.chat_id)
        if key not in self._known_chats:
            self._known_chats.add(key)
            self._chats.append((event.platform, event.chat_id, str(event.chat_kind), event.chat_name))
        row = message_row(event, "received", truncated)
        self._messages.append(row)
        if event.sender_id and event.type is EventType.MESSAGE:
            member = (event.platform, event.chat_id, event.sender_id)
            seen = self._seen.get(member)
            if seen is None:
                self._seen[member] = [event.sender_name, 1, row[8], row[8]]
            else:
                seen[1] += 1
                if row[8] >= seen[3]:
                    seen[3] = row[8]
                    if event.sender_name:
                        seen[0] = event.sender_name
        if len(self._messages) >= self.max_batch:
            self._wake.set()

    def durable(self) -> asyncio.Future:
        """A future resolved once everything queued so far is committed (group commit, ~5 ms)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiters.append(future)
        if self._commit_soon is None:
            self._commit_soon = loop.call_later(self.commit_delay, self._wake.set)
        return future

    def add_decisions(self, uid: str, decisions: list[Decision], status: str) -> None:
        self._decisions.append(trace_row(uid, decisions, status, iso(utcnow())))
        if status != "received":
            self._statuses.append((uid, status))

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a store write in the next batch's transaction instead of awaiting it now."""
        self._deferred.append(_Deferred(fn, args))
        if len(self._deferred) >= self.max_batch:
            self._wake.set()

    def defer_row(self, fn: Callable[[list[Any]], Any], row: Any) -> None:
        """Queue `row` for `fn(rows)`: the rows queued for one `fn` until the next batch go in
        one call, in their order, where the first was queued. For writes that come one per
        message (FAQ log, outbox marks, flags): one statement per batch, not per message."""
        rows = self._rows.get(fn)
        if rows is None:
            rows = self._rows[fn] = []
            self._deferred.append(_Deferred(fn, (rows,), rows=True))
        rows.append(row)
        self._row_count += 1
        if self._row_count >= self.max_batch:
            self._wake.set()

    def pending(self) -> int:
        return len(self._messages) + len(self._decisions)

    async def flush(self) -> int:
        """Write everything queued so far in one transaction; returns the messages written.

        Once a batch has left the buffers it is written or put back whatever happens to the
        caller: the write runs in its own task, shielded from the caller's cancellation (a
        shutdown, a timeout), and any failure, CancelledError included, puts the batch back.
        """
        task = asyncio.ensure_future(self._flush())
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _flush(self) -> int:
        async with self._flush_lock:
            waiters, self._waiters = self._waiters, []
            if self._commit_soon is not None:
                self._commit_soon.cancel()
                self._commit_soon = None
            members_due = bool(self._seen) and time.monotonic() >= self._members_due
            if not (self._messages or self._decisions or self._statuses or self._deferred or members_due):
                _resolve(waiters)
                return 0
            if members_due:
                # a deferred write: its own savepoint, retried and set aside like the others
                seen, self._seen = self._seen, {}
                self._members_due = time.monotonic() + self.members_interval
                self._deferred.append(_Deferred(self.store.members.record_seen, (self._seen_rows(seen),)))
            messages, self._messages = self._messages, []
            decisions, self._decisions = self._decisions, []
            statuses, self._statuses = self._statuses, []
            chats, self._chats = self._chats, []
            deferred, self._deferred = self._deferred, []
            self._rows, self._row_count = {}, 0
            rows, later = _fold_statuses(messages, statuses) if statuses and messages else (messages, statuses)
            try:
                failed = await self.store.run(self._write, chats, rows, decisions, later, deferred)
            except BaseException as exc:
                # keep the rows and the waiters: retried on the next flush, nothing is lost silently
                self.last_error = str(exc) or type(exc).__name__
                log.error("recording %d messages failed, will retry: %s", len(messages), self.last_error)
                self._messages[:0] = messages
                self._decisions[:0] = decisions
                self._statuses[:0] = statuses
                self._chats[:0] = chats
                self._deferred[:0] = deferred
                self._waiters[:0] = waiters
                raise
            self.last_error = None
            self.flushed_messages += len(messages)
            _resolve(waiters)
            if failed:
                self._set_aside(failed)
            return len(messages)

    def _seen_rows(self, seen: dict[tuple[str, str, str], list[Any]]) -> list[tuple[Any, ...]]:
        written = self._names_written
        if len(written) > NAMES_REMEMBERED:
            written.clear()
        rows = []
        for key, (name, count, first, last) in seen.items():
            if name and written.get(key) == name:
                name = ""  # unchanged: the stored name stays
            elif name:
                written[key] = name
            rows.append((*key, name, count, first, last))
        return rows

    def _set_aside(self, failed: list[tuple[_Deferred, Exception]]) -> None:
        """Deferred writes that failed on their own: retried with the next batch, dropped
        (logged once, with the traceback, and counted) after DEFERRED_ATTEMPTS failures."""
        retry: list[_Deferred] = []
        for item, exc in failed:
            item.failures += 1
            if item.failures < DEFERRED_ATTEMPTS:
                retry.append(item)
                continue
            self.deferred_dropped += 1
            log.error("deferred write %s failed %d times, set aside (the batch was recorded): %.300r",
                      item.name(), item.failures, item.args, exc_info=exc)
        if retry:
            self._deferred[:0] = retry
            self._wake.set()

    def _write(self, chats, messages, decisions, statuses, deferred) -> list[tuple[_Deferred, Exception]]:
        """One transaction on the writer thread; returns the deferred writes that failed."""
        store = self.store
        failed: list[tuple[_Deferred, Exception]] = []
        with store.messages.tx() as conn:
            if chats:
                store.chats.ensure_chats(chats)
            store.messages.insert_batch(messages, decisions)
            if statuses:
                store.messages.set_status(statuses)
            if deferred:
                _run_deferred(conn, deferred, failed)
        return failed

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="recorder")

    async def stop(self) -> None:
        """Stop the background flushes and drain: a flush in progress finishes (its task is
        shielded), then one final flush writes what is still queued."""
        await cancel_and_wait(self._task)
        self._task = None
        self._members_due = 0.0
        await self.flush()

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                await asyncio.sleep(1.0)


def _fold_statuses(messages: list[tuple[Any, ...]], statuses: list[tuple[str, str]]):
    """A message decided before its batch was written is inserted with its final status
    (one row instead of an INSERT and an UPDATE); the other statuses are left to update."""
    index = {row[0]: i for i, row in enumerate(messages)}
    messages = list(messages)
    later: list[tuple[str, str]] = []
    for uid, status in statuses:
        i = index.get(uid)
        if i is None:
            later.append((uid, status))
        else:
            row = messages[i]
            messages[i] = (*row[:STATUS], status, *row[STATUS + 1:])
    return messages, later


def _run_deferred(conn: sqlite3.Connection, deferred: list[_Deferred],
                  failed: list[tuple[_Deferred, Exception]]) -> None:
    """All deferred writes under one savepoint (two statements, not two per write); if one
    fails on its own, they are undone and run again each in its own savepoint."""
    exc = _attempt(conn, _run_all, (deferred,))
    if exc is not None:
        for item in deferred:
            _isolated(conn, item, failed)


def _run_all(deferred: list[_Deferred]) -> None:
    for item in deferred:
        item.fn(*item.args)


def _isolated(conn: sqlite3.Connection, item: _Deferred, failed: list[tuple[_Deferred, Exception]]) -> None:
    """Run a deferred write inside its own savepoint: if it raises, only it is undone and
    noted in `failed`; rows from defer_row are then tried one by one, so one bad row does
    not hold back the others. A database failure (full, locked, I/O) fails the whole batch."""
    exc = _attempt(conn, item.fn, item.args)
    if exc is None:
        return
    rows = item.args[0] if item.rows else None
    if not rows or len(rows) == 1:
        failed.append((item, exc))
        return
    for row in rows:
        one = _Deferred(item.fn, ([row],), rows=True, failures=item.failures)
        exc = _attempt(conn, one.fn, one.args)
        if exc is not None:
            failed.append((one, exc))


def _attempt(conn: sqlite3.Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> Exception | None:
    conn.execute("SAVEPOINT deferred_write")
    try:
        fn(*args)
    except Exception as exc:
        if _environment_failure(exc) or not conn.in_transaction:
            raise
        conn.execute("ROLLBACK TO deferred_write")
        conn.execute("RELEASE deferred_write")
        return exc
    conn.execute("RELEASE deferred_write")
    return None


def _environment_failure(exc: Exception) -> bool:
    """The database or the machine failed (full, locked, I/O, out of memory), not this write."""
    if isinstance(exc, (OSError, MemoryError)):
        return True
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in DATABASE_FAILURES


def _retrieve(task: asyncio.Future) -> None:
    """Its caller may be gone (cancelled): the failure is logged by the flush, not by asyncio."""
    if not task.cancelled():
        task.exception()


def _resolve(waiters: list[asyncio.Future]) -> None:
    for future in waiters:
        if not future.done():
            future.set_result(None)
