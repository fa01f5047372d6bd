"""The one storage module: every SQL statement of qunbot lives in this package.

`Store` opens the SQLite file (WAL, foreign keys, busy timeout), applies migrations and
exposes one repository per domain. Code on the event loop calls `await store.run(fn)`,
which executes on the store's single writer thread, so SQLite never blocks the loop.
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
from bot.store.base import Repo, StoreError, apply_migrations, open_database
from bot.store.chats import ChatRepo
from bot.store.faq import FaqRepo
from bot.store.keywords import KeywordRepo
from bot.store.messages import MessageRepo
from bot.store.moderation import ModerationRepo
from bot.store.outbound import OutboundItem, OutboundRepo
from bot.store.reports import ReportRepo
from bot.store.schedules import ScheduleRepo
from bot.store.schema_core import CoreSchema

__all__ = ["OutboundItem", "Store", "StoreError"]

T = TypeVar("T")

# Order matters: a component may reference tables of the ones before it.
SCHEMAS: list[type[Repo]] = [CoreSchema, KeywordRepo, FaqRepo, ModerationRepo, ScheduleRepo]


class Store:
    """The SQLite database of one bot, with a repository per domain."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.db = open_database(path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        self.lock = threading.RLock()
        try:
            self.applied_migrations = apply_migrations(self.db, SCHEMAS)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot migrate database {path}: {exc}") from exc
        args = (self.db, self.lock)
        self.chats = ChatRepo(*args)
        self.messages = MessageRepo(*args)
        self.outbound = OutboundRepo(*args)
        self.accounts = AccountRepo(*args)
        self.keywords = KeywordRepo(*args)
        self.faq = FaqRepo(*args)
        self.moderation = ModerationRepo(*args)
        self.schedules = ScheduleRepo(*args)
        self.reports = ReportRepo(*args)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._closed = False
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()

    def start_background_checkpoints(self, interval: float = 1.0) -> None:
        """Move WAL checkpoints off the writer: a commit that crosses the auto-checkpoint size
        would otherwise copy the WAL into the database while accepted messages wait."""
        if self._checkpointer is not None or str(self.path) == ":memory:":
            return
        with self.lock:
            self.db.conn.execute("PRAGMA wal_autocheckpoint = 0")

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
        """Run blocking store work on the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def scalar_ping(self) -> int:
        """A trivial read, for health checks."""
        with self.lock:
            return self.db.conn.execute("SELECT 1").fetchone()[0]

    def schema_versions(self) -> dict[str, int]:
        rows = self.db.conn.execute("SELECT component, version FROM schema_version").fetchall()
        return dict(rows)

    def backup(self, target: Path | str) -> None:
        """Copy the live database with SQLite's online backup API."""
        dest = sqlite3.connect(str(target))
        try:
            with self.lock:
                self.db.conn.backup(dest)
        finally:
            dest.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self._executor.shutdown(wait=True)
        with self.lock:
            try:
                self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
