"""Read-only queries behind the dashboard, `qunbot report` and /metrics; retention deletes.

Report queries run on a read-only connection (WAL lets it read a consistent snapshot while
the bot writes), so a long report never holds the write lock or delays recording. Periods
are lists of local days given as (day, utc_from, utc_to) ISO bounds, because a "day" is a
day in the configured time zone.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from bot.store.base import Repo, dumps, reads

Days = Sequence[tuple[str, str, str]]
Chats = Sequence[tuple[str, str]] | None

# the detail of the deciding (last) stage of a trace
_LAST = "'$[#-1][3]"

_DAYS_CTE = (
    "days(day, lo, hi) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
    " json_extract(value, '$[2]') FROM json_each(:days)),"
    " sel(platform, chat_id) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
    " FROM json_each(:chats))"
)


def _period_join(alias: str = "m", chats: bool = False) -> str:
    """Messages of the period, day by day (uses messages_time or messages_chat_time_sender)."""
    if chats:
        return (
            f" FROM days CROSS JOIN sel CROSS JOIN messages {alias}"
            f" ON {alias}.platform = sel.platform AND {alias}.chat_id = sel.chat_id"
            f" AND {alias}.time >= days.lo AND {alias}.time < days.hi"
        )
    return f" FROM days CROSS JOIN messages {alias} ON {alias}.time >= days.lo AND {alias}.time < days.hi"


# One pass over the period's messages, each joined to its deciding (last) decision, into a
# temp table; every figure is then aggregated from it (the expensive lookups happen once).
_PERIOD = (
    "CREATE TEMP TABLE pm AS SELECT day, platform, chat_id, type, sender_id, stage, outcome, key,"
    " label, sender_name, requested, hits,"
    " CASE WHEN key = 'unanswered' OR (stage = 'intents' AND outcome = 'suggested')"
    "  THEN text END AS question"
    " FROM (WITH {cte} SELECT days.day AS day, m.platform, m.chat_id, m.type, m.sender_id, m.text,"
    " d.stage, d.outcome,"
    " CASE WHEN d.stage = 'keywords' AND d.outcome = 'answered' THEN json_extract(d.trace, {last}.id')"
    "  WHEN d.stage = 'intents' AND d.outcome = 'answered' THEN json_extract(d.trace, {last}.entry_id')"
    "  WHEN d.stage = 'intents' AND d.outcome = 'pass'"
    "   AND json_type(d.trace, {last}.candidates') IS NOT NULL THEN 'unanswered' END AS key,"
    " CASE WHEN d.stage = 'keywords' AND d.outcome = 'answered'"
    "  THEN json_extract(d.trace, {last}.keyword') END AS label,"
    " CASE WHEN d.stage = 'moderation' THEN m.sender_name END AS sender_name,"
    " CASE WHEN d.stage = 'moderation' THEN json_extract(d.trace, {last}.requested') END AS requested,"
    " CASE WHEN d.stage = 'moderation' THEN json_extract(d.trace, {last}.hits') END AS hits"
    " {period}"
    " LEFT JOIN decisions d ON d.id = (SELECT max(x.id) FROM decisions x"
    "  WHERE x.message_uid = m.uid AND x.stage != 'dedupe')"
    " WHERE m.direction = 'in')"
)
_AGGREGATES = {
    "counts": "SELECT day, platform, chat_id, type, stage, outcome, key, label, count(*) AS n"
              " FROM pm GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
    # distinct counts (per day, group, tag, period) are derived from these rows by the caller
    "senders": "SELECT DISTINCT day, platform, chat_id, sender_id FROM pm WHERE type = 'message'",
    "moderation": "SELECT day, platform, chat_id, sender_id, sender_name, outcome, requested, hits"
                  " FROM pm WHERE stage = 'moderation' AND outcome IN ('blocked', 'held')",
    "unanswered": "SELECT question AS text, count(*) AS n FROM pm WHERE question IS NOT NULL"
                  " GROUP BY question ORDER BY n DESC, text LIMIT :limit",
}


class ReportRepo(Repo):
    """Report figures, metrics gauges and retention; owns no tables."""

    COMPONENT = "reports"
    MIGRATIONS = ()

    # -- reading --------------------------------------------------------------------

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A read transaction on this thread's read-only connection (the write one, under the
        lock, for an in-memory database)."""
        with self._connections.reading(), self.lock:
            conn = self.conn
            if self._connections.current() is None or conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @reads
    def collect(self, days: Days, chats: Chats, *, unanswered_limit: int = 500) -> dict[str, Any]:
        """Every raw figure of a period in one consistent snapshot; `chats=None` means all."""
        params = {"days": dumps([list(d) for d in days]), "chats": dumps([list(c) for c in chats or []]),
                  "limit": unanswered_limit}
        period = _period_join(chats=chats is not None)
        create = _PERIOD.format(cte=_DAYS_CTE, period=period, last=_LAST)
        with self.reader() as conn:
            conn.execute("DROP TABLE IF EXISTS temp.pm")
            conn.execute(create, params)
            try:
                out: dict[str, Any] = {name: _rows(conn, sql, params) for name, sql in _AGGREGATES.items()}
            finally:
                conn.execute("DROP TABLE IF EXISTS temp.pm")
            out["chats"] = _rows(conn, "SELECT platform, chat_id, kind, name, tags FROM chats", {})
            out["faq_titles"] = _faq_titles(conn)
        return out

    # -- gauges for /metrics ----------------------------------------------------------

    @reads
    def outbox_gauges(self) -> dict[str, Any]:
        """Ledger rows by status and the oldest due time of a pending row."""
        by_status = {r["status"]: r["n"] for r in
                     self.query("SELECT status, count(*) AS n FROM outbound GROUP BY status")}
        oldest = self.scalar("SELECT min(next_attempt_at) FROM outbound WHERE status = 'pending'")
        return {"by_status": by_status, "oldest_pending_due": oldest}

    # -- retention --------------------------------------------------------------------

    def prune_messages_batch(self, cutoff: str, batch: int = 2000) -> tuple[int, int]:
        """Delete up to `batch` messages older than `cutoff` with their traces; (messages, decisions)."""
        with self.tx() as conn:
            uids = [(r[0],) for r in conn.execute(
                "SELECT uid FROM messages WHERE time < ? ORDER BY time LIMIT ?", (cutoff, batch))]
            if not uids:
                return 0, 0
            before = conn.total_changes
            conn.executemany("DELETE FROM decisions WHERE message_uid = ?", uids)
            decisions = conn.total_changes - before
            conn.executemany("DELETE FROM messages WHERE uid = ?", uids)
        return len(uids), decisions

    def prune_outbound_batch(self, cutoff: str, batch: int = 2000) -> int:
        """Delete finished delivery rows older than `cutoff`; pending and sending rows are kept."""
        with self.tx() as conn:
            cur = conn.execute(
                "DELETE FROM outbound WHERE id IN (SELECT id FROM outbound"
                " WHERE status IN ('sent', 'skipped', 'failed') AND created_at < ? LIMIT ?)",
                (cutoff, batch),
            )
            return cur.rowcount

    @reads
    def count_older(self, cutoff: str) -> dict[str, int]:
        return {
            "messages": self.scalar("SELECT count(*) FROM messages WHERE time < ?", (cutoff,)),
            "outbound": self.scalar(
                "SELECT count(*) FROM outbound WHERE status IN ('sent', 'skipped', 'failed')"
                " AND created_at < ?", (cutoff,)),
        }


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _faq_titles(conn: sqlite3.Connection) -> dict[str, str]:
    """First phrasing of each FAQ entry, when the FAQ capability's table exists."""
    try:
        rows = conn.execute("SELECT id, json_extract(questions, '$[0]') FROM faq_entries").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {r[0]: r[1] or "" for r in rows}
