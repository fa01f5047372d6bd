"""The one storage module: every SQL statement of qunbot lives in this package.

`Store` opens the SQLite file (WAL, foreign keys, busy timeout), applies migrations and
exposes one repository per domain.

The write funnel: one writer thread owns the write connection, and the running bot writes
only there, in the order the work was handed over. `await store.run(fn)` runs `fn` on it;
the hot path's rows (messages, decisions, and the domains' small writes queued with
`Services.write_later` / `write_row_later`, i.e. `Recorder.defer` / `defer_row`) wait in
the recorder and reach the writer as one transaction per batch (group commit, each deferred
write in its own savepoint). Reads for pages, reports and exports go to reader threads with
read-only connections (`await store.read(fn)`, or `store.run` of a method marked `@reads`):
WAL gives them a snapshot while the writer commits, so a long report never delays a commit.
The event loop never touches a connection. Synchronous code off the loop (CLI, tests,
start-up) may call repositories directly: it uses the write connection under `store.lock`.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.store.accounts import AccountRepo
from bot.store.base import Connections, Repo, StoreError, apply_migrations, open_database
from bot.store.broadcasts import BroadcastRepo
from bot.store.chats import ChatRepo
from bot.store.faq import FaqRepo
from bot.store.guard import GuardRepo
from bot.store.keywords import KeywordRepo
from bot.store.lexicon import LexiconRepo
from bot.store.members import MemberRepo
from bot.store.messages import MessageRepo
from bot.store.moderation import ModerationRepo
from bot.store.outbound import OutboundItem, OutboundRepo
from bot.store.reports import ReportRepo
from bot.store.schedules import ScheduleRepo
from bot.store.schema_core import CoreSchema
from bot.store.schema_moderation import ModerationSchema
from bot.store.sop import SopRepo
from bot.store.wecom_contact import WecomContactRepo

__all__ = ["OutboundItem", "Store", "StoreError"]

T = TypeVar("T")

# Order matters: a component may reference tables of the ones before it.
SCHEMAS: list[type[Repo]] = [CoreSchema, AccountRepo, KeywordRepo, FaqRepo, ModerationSchema, ScheduleRepo,
                            GuardRepo, BroadcastRepo,
                            MemberRepo, SopRepo, WecomContactRepo]
# reader threads: a report and a page or two at once
READERS = 2


class Store:
    """The SQLite database of one bot, with a repository per domain."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            # the write connection (the writer thread's, or the caller's under `lock` off the loop)
            self.conn = open_database(path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        self.lock = threading.RLock()
        try:
            self.applied_migrations = apply_migrations(self.conn, SCHEMAS)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot migrate database {path}: {exc}") from exc
        self.connections = Connections(self.conn, self.lock, path)
        args = (self.conn, self.lock, self.connections)
        self.chats = ChatRepo(*args)
        self.messages = MessageRepo(*args)
        self.outbound = OutboundRepo(*args)
        self.accounts = AccountRepo(*args)
        self.keywords = KeywordRepo(*args)
        self.faq = FaqRepo(*args)
        self.lexicon = LexiconRepo(*args)
        self.moderation = ModerationRepo(*args)
        self.schedules = ScheduleRepo(*args)
        self.sop = SopRepo(*args)
        self.reports = ReportRepo(*args)
        self.guard = GuardRepo(*args)
        self.broadcasts = BroadcastRepo(*args)
        self.members = MemberRepo(*args)
        self.wecom_contact = WecomContactRepo(*args)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="store-reader")
        self._closed = False
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()

    def start_background_checkpoints(self, interval: float = 1.0) -> None:
        """Move WAL checkpoints off the writer: a commit that crosses the auto-checkpoint size
        would otherwise copy the WAL into the database while accepted messages wait."""
        if self._checkpointer is not None or str(self.path) == ":memory:":
            return
        with self.lock:
            self.conn.execute("PRAGMA wal_autocheckpoint = 0")

        def loop() -> None:
            conn = sqlite3.connect(str(self.path), timeout=1)
            try:
                while not self._stop_checkpoints.wait(interval):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.Error:
                        pass
            finally:
                conn.close()

        self._checkpointer = threading.Thread(target=loop, name="store-checkpoint", daemon=True)
        self._checkpointer.start()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking store work on the writer thread, after the work handed over before it.
        A repository method marked `@reads` goes to a reader thread instead (see `read`)."""
        if getattr(fn, "reads_only", False):
            return await self.read(fn, *args, **kwargs)
        job = functools.partial(fn, *args, **kwargs)
        return await asyncio.wrap_future(self._writer.submit(job))

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn`, which only reads, on a reader thread: repository calls inside it use that
        thread's read-only connection (a write there fails). In-memory databases, which have
        no second connection, read on the writer thread."""
        if self.connections.path is None:
            return await asyncio.wrap_future(self._writer.submit(functools.partial(fn, *args, **kwargs)))
        job = functools.partial(self._read, fn, args, kwargs)
        return await asyncio.wrap_future(self._readers.submit(job))

    def _read(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self.connections.reading():
            return fn(*args, **kwargs)

    def reading(self) -> Any:
        """`with store.reading():` repository calls on this thread read on a read-only connection
        (for blocking code already on a thread of its own, such as a report)."""
        return self.connections.reading()

    def scalar_ping(self) -> int:
        """A trivial read, for health checks."""
        with self.lock:
            return self.conn.execute("SELECT 1").fetchone()[0]

    def schema_versions(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT component, version FROM schema_version").fetchall()
        return dict(rows)

    def backup(self, target: Path | str) -> None:
        """Copy the live database with SQLite's online backup API."""
        dest = sqlite3.connect(str(target))
        try:
            with self.lock:
                self.conn.backup(dest)
        finally:
            dest.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.connections.close()
        with self.lock:
            try:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
