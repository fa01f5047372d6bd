"""Shared plumbing of the storage package: connection set-up, migrations, repository base."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, overload

import orjson

# A migration is SQL (run as a script) or a callable taking the write connection.
Migration = str | Callable[[sqlite3.Connection], None]


class StoreError(RuntimeError):
    """The database could not do what was asked (locked, full, corrupt, newer schema)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def iso(dt: datetime) -> str: ...
@overload
def iso(dt: datetime | None) -> str | None: ...
def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is not UTC:  # the usual case (UTC already) skips a conversion per row
        dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds")


@overload
def parse_iso(text: str) -> datetime | None: ...
@overload
def parse_iso(text: None) -> None: ...
def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# orjson: the recorder encodes several values per message, and that CPU is the event loop's too
# (one GIL). The options keep the json module's output (datetimes and dataclasses through str,
# integer keys as strings); what orjson refuses (integers beyond 64 bits) goes to json.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is, anything else through str()."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _ENCODER.encode(value)


def loads(text: str | None, default: Any = None) -> Any:
    if not text:
        return default
    return json.loads(text)


def execute_rows(conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]],
                 tail: str = "") -> list[tuple[Any, ...]]:
    """`head` ("INSERT … VALUES "), then many rows of values, then `tail` (" RETURNING …",
    ") AS v WHERE …"), instead of executemany; returns what the statements return (RETURNING
    rows, in no particular order). Same rows, same order, same conflict handling.

    Why: executemany lets go of the GIL for every row, and the writer thread waits for it
    each time (docs/performance.md). Chunks are powers of two rows long, so each distinct
    statement text stays in the connection's statement cache (arbitrary row counts held
    50 MB there).
    """
    returned: list[tuple[Any, ...]] = []
    if not rows:
        return returned
    width = len(rows[0])
    most = max(1, min(128, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    per = 1 << (most.bit_length() - 1)
    one = "(" + ", ".join("?" * width) + ")"
    i = 0
    while i < len(rows):
        while per > len(rows) - i:
            per >>= 1
        chunk = rows[i:i + per]
        cur = conn.execute(head + ", ".join([one] * per) + tail, [v for row in chunk for v in row])
        returned += cur.fetchall()
        i += per
    return returned


# how long a write waits for another connection's write lock before failing with SQLITE_BUSY
BUSY_TIMEOUT_MS = 10_000


def next_id(conn: sqlite3.Connection, table: str) -> int:
    """The lowest id above every row of `table` (INTEGER PRIMARY KEY `id`), for a batch that
    numbers its own rows inside a write transaction instead of reading them back (each
    returned row costs the writer a GIL handover: docs/performance.md)."""
    return conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0]


ReadFn = TypeVar("ReadFn", bound=Callable[..., Any])


def reads(fn: ReadFn) -> ReadFn:
    """Mark a repository method as a pure query: `Store.run` gives it a read connection on a
    reader thread instead of the writer thread (pages, reports, exports, version polls)."""
    # a marker on the function object (read by Store.run), which typing cannot declare
    fn.reads_only = True  # type: ignore[attr-defined]
    return fn


def open_reader(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to the same file: WAL gives it a consistent snapshot while the
    writer commits, and it never takes the write lock."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                           isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    for pragma in (f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON", "temp_store=MEMORY",
                   "mmap_size=268435456", "cache_size=-32768"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


class _NoLock:
    """Stands in for the write lock on a thread's own read connection."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        pass


NO_LOCK = _NoLock()


class Connections:
    """Which connection a repository call uses: the thread's read-only one inside `reading()`,
    else the write connection under the write lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock, path: Path | str | None) -> None:
        self.write_conn = conn
        self.lock = lock
        self.path = None if path is None or str(path) == ":memory:" else Path(path).resolve()
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()

    def current(self) -> sqlite3.Connection | None:
        """The read connection this thread is reading on, if any."""
        return getattr(self._local, "conn", None)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Repository calls on this thread use its read-only connection until the block ends
        (the write connection for an in-memory database, which has no second connection)."""
        if self.path is None or self.current() is not None:
            yield
            return
        conn = getattr(self._local, "idle", None)
        if conn is None:
            conn = self._local.idle = open_reader(self.path)
            with self._opened_lock:
                self._opened.append(conn)
        self._local.conn = conn
        try:
            yield
        finally:
            self._local.conn = None
            if conn.in_transaction:  # a read transaction left open by an error
                conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


def open_database(path: Path | str) -> sqlite3.Connection:
    """One connection with the pragmas every part of qunbot relies on."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


class Repo:
    """One domain's tables. Subclasses list forward-only MIGRATIONS under a COMPONENT name."""

    COMPONENT: str = ""
    MIGRATIONS: Sequence[Migration] = ()

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock,
                 connections: Connections | None = None) -> None:
        self._connections = connections or Connections(conn, lock, None)

    @property
    def conn(self) -> sqlite3.Connection:
        """The thread's read connection inside `Connections.reading()`, else the write one."""
        return self._connections.current() or self._connections.write_conn

    @property
    def lock(self) -> threading.RLock | _NoLock:
        """The write lock, for the write connection; a thread's read connection needs none."""
        return NO_LOCK if self._connections.current() is not None else self._connections.lock

    def tx(self) -> _Transaction:
        return _Transaction(self.conn, self.lock)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self.lock:
            cur = self.conn.execute(sql, params)
            cols = [c[0] for c in cur.description] if cur.description else []
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        with self.lock:
            row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT under the store lock; rolls back on any exception."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock | _NoLock) -> None:
        self.conn = conn
        self.lock = lock
        self.depth_owner = False

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        if not self.conn.in_transaction:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error:
                self.lock.release()
                raise
            self.depth_owner = True
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.depth_owner:
                if exc_type is None:
                    try:
                        self.conn.execute("COMMIT")
                    except sqlite3.Error:
                        if self.conn.in_transaction:
                            self.conn.execute("ROLLBACK")
                        raise
                elif self.conn.in_transaction:
                    # SQLite already rolled back on some errors (SQLITE_FULL): keep the original error
                    self.conn.execute("ROLLBACK")
        finally:
            self.lock.release()


def apply_migrations(conn: sqlite3.Connection, repos: Sequence[type[Repo]]) -> list[str]:
    """Bring each component's schema to its newest version; returns what was applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied: list[str] = []
    for repo in repos:
        if not repo.MIGRATIONS:
            continue
        row = conn.execute(
            "SELECT version FROM schema_version WHERE component = ?", (repo.COMPONENT,)
        ).fetchone()
        current = row[0] if row else 0
        if current > len(repo.MIGRATIONS):
            raise StoreError(
                f"database schema of {repo.COMPONENT!r} is version {current}, newer than this "
                f"qunbot ({len(repo.MIGRATIONS)}): upgrade qunbot or restore a backup"
            )
        for version in range(current + 1, len(repo.MIGRATIONS) + 1):
            step = repo.MIGRATIONS[version - 1]
            conn.execute("BEGIN IMMEDIATE")
            try:
                if isinstance(step, str):
                    for statement in _split_sql(step):
                        conn.execute(statement)
                else:
                    step(conn)
                conn.execute(
                    "INSERT INTO schema_version(component, version, applied_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(component) DO UPDATE SET version = excluded.version,"
                    " applied_at = excluded.applied_at",
                    (repo.COMPONENT, version, iso(utcnow())),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            applied.append(f"{repo.COMPONENT}:{version}")
    return applied


def _split_sql(script: str) -> list[str]:
    # executescript() would COMMIT our transaction; statements here never contain ';' in literals
    return [s.strip() for s in script.split(";") if s.strip()]
