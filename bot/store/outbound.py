"""The delivery ledger: one row per (source, occurrence, platform, chat), unique."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, execute_rows, iso, loads, next_id, parse_iso, reads, utcnow

# pending → sending → sent | failed | skipped | uncertain (crashed mid-send on a non-idempotent adapter)
ACTIVE_STATUSES = ("pending", "sending")


@dataclass(slots=True)
class OutboundItem:
    """A message to deliver, keyed so that the same (source, occurrence, target) is sent once."""

    source: str
    occurrence: str
    platform: str
    chat_id: str
    payload: dict[str, Any]
    chat_kind: str = "group"
    priority: int = 0
    not_before: datetime | None = None
    not_after: datetime | None = None
    reply_to: str | None = None
    id: int | None = None
    attempts: int = 0
    status: str = "pending"
    extra: dict[str, Any] = field(default_factory=dict)


class OutboundRepo(Repo):
    def insert(self, items: list[OutboundItem], now: datetime | None = None) -> list[OutboundItem]:
        """Insert new items; returns those that were new (with ids), ignoring existing keys."""
        now = now or utcnow()
        at = iso(now)
        with self.tx() as conn:
            # numbered here (the write lock is held), so the new ids need not be read back
            first = next_id(conn, "outbound")
            rows = [
                (first + i, item.source, item.occurrence, item.platform, item.chat_id, item.chat_kind,
                 dumps(item.payload), item.priority, "pending", iso(item.not_before) if item.not_before else at,
                 iso(item.not_after), item.reply_to, at, at)
                for i, item in enumerate(items)
            ]
            before = conn.total_changes
            execute_rows(
                conn,
                "INSERT OR IGNORE INTO outbound(id, source, occurrence, platform, chat_id, chat_kind,"
                " payload, priority, status, next_attempt_at, not_after, reply_to, created_at, updated_at)"
                " VALUES ",
                rows,
            )
            kept: range | list[int]
            if conn.total_changes - before == len(items):
                kept = range(first, first + len(items))
            else:  # some keys existed already: their numbers went unused
                kept = [row[0] for row in conn.execute("SELECT id FROM outbound WHERE id >= ?", (first,))]
        created: list[OutboundItem] = []
        for row_id in kept:
            item = items[row_id - first]
            item.id = row_id
            created.append(item)
        return created

    def mark(self, item_id: int, status: str, *, error: str = "", attempts: int | None = None,
             next_attempt_at: datetime | None = None, platform_message_id: str | None = None) -> None:
        self.mark_many([(item_id, status, {
            "error": error, "attempts": attempts, "next_attempt_at": next_attempt_at,
            "platform_message_id": platform_message_id,
        })])

    def mark_many(self, marks: list[tuple[int, str, dict[str, Any]]]) -> None:
        """(id, status, mark's keyword arguments) in order, in as few statements as the ids
        allow: an id marked again starts a new statement, so its later mark wins as one by one."""
        now = iso(utcnow())
        with self.tx() as conn:
            run: dict[int, tuple[Any, ...]] = {}
            for item_id, status, fields in marks:
                if item_id in run:
                    _update_marks(conn, list(run.values()))
                    run = {}
                run[item_id] = (
                    item_id, status, fields.get("error") or "", fields.get("attempts"),
                    iso(fields.get("next_attempt_at")), fields.get("platform_message_id"), now,
                )
            if run:
                _update_marks(conn, list(run.values()))

    def exists(self, source: str, occurrence: str) -> bool:
        """Was anything of this source and occurrence ever handed to the outbox?"""
        return self.scalar(
            "SELECT 1 FROM outbound WHERE source = ? AND occurrence = ? LIMIT 1", (source, occurrence),
        ) is not None

    def status_of(self, source: str, occurrence: str, platform: str, chat_id: str) -> str | None:
        return self.scalar(
            "SELECT status FROM outbound WHERE source = ? AND occurrence = ? AND platform = ? AND chat_id = ?",
            (source, occurrence, platform, chat_id),
        )

    def skip(self, ids: list[int], error: str) -> None:
        """Mark many deliveries skipped at once (expired before their turn)."""
        now = iso(utcnow())
        with self.tx() as conn:
            conn.execute(
                "UPDATE outbound SET status = 'skipped', error = ?, updated_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('pending', 'sending')",
                (error, now, dumps(ids)),
            )

    def active(self) -> list[OutboundItem]:
        rows = self.query(
            "SELECT * FROM outbound WHERE status IN ('pending', 'sending') ORDER BY priority, id"
        )
        return [_item(r) for r in rows]

    def get(self, item_id: int) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM outbound WHERE id = ?", (item_id,))
        if row:
            row["payload"] = loads(row["payload"], {})
        return row

    def cancel_pending(self, source: str, occurrence: str | None = None) -> list[int]:
        """Mark the not-yet-sent rows of a source as cancelled; returns their ids."""
        sql = "SELECT id FROM outbound WHERE source = ? AND status = 'pending'"
        params: list[Any] = [source]
        if occurrence is not None:
            sql += " AND occurrence = ?"
            params.append(occurrence)
        ids = [r["id"] for r in self.query(sql, params)]
        now = iso(utcnow())
        with self.tx() as conn:
            conn.executemany(
                "UPDATE outbound SET status = 'cancelled', error = '已取消', updated_at = ?"
                " WHERE id = ? AND status = 'pending'",
                [(now, i) for i in ids],
            )
        return ids

    def retry_failed(
        self, source: str, occurrence: str | None = None, now: datetime | None = None
    ) -> list[OutboundItem]:
        """Put failed/uncertain rows of a source back to pending; returns them."""
        sql = "SELECT * FROM outbound WHERE source = ? AND status IN ('failed', 'uncertain')"
        params: list[Any] = [source]
        if occurrence is not None:
            sql += " AND occurrence = ?"
            params.append(occurrence)
        rows = self.query(sql, params)
        stamp = iso(now or utcnow())
        with self.tx() as conn:
            conn.executemany(
                "UPDATE outbound SET status = 'pending', attempts = 0, error = '', next_attempt_at = ?,"
                " updated_at = ? WHERE id = ?",
                [(stamp, stamp, r["id"]) for r in rows],
            )
        items = [_item(r) for r in rows]
        for item in items:
            item.status, item.attempts, item.not_before = "pending", 0, None
        return items

    @reads
    def progress(self, source: str | None = None) -> list[dict[str, Any]]:
        """Per (source, occurrence): how many targets are sent / pending / failed / skipped."""
        sql = (
            "SELECT source, occurrence, count(*) AS total,"
            " sum(status = 'sent') AS sent, sum(status IN ('pending', 'sending')) AS pending,"
            " sum(status IN ('failed', 'uncertain')) AS failed, sum(status = 'skipped') AS skipped,"
            " min(created_at) AS created_at, max(sent_at) AS last_sent_at"
            " FROM outbound"
        )
        params: list[Any] = []
        if source:
            sql += " WHERE source = ?"
            params.append(source)
        return self.query(sql + " GROUP BY source, occurrence ORDER BY created_at DESC LIMIT 500", params)

    @reads
    def list(self, *, status: str | None = None, source: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM outbound WHERE 1=1", []
        if status:
            sql += " AND status = ?"
            params.append(status)
        if source:
            sql += " AND source = ?"
            params.append(source)
        rows = self.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        for r in rows:
            r["payload"] = loads(r["payload"], {})
        return rows

    @reads
    def proactive_sent(self, platform: str, chat_id: str, since: datetime) -> int:
        """Messages sent to one chat since `since` that were not replies (`reply:<uid>`): what a
        platform's quota of proactive messages counts (QQ bot: per group / user per month)."""
        return int(self.scalar(
            "SELECT count(*) FROM outbound WHERE platform = ? AND chat_id = ? AND status = 'sent'"
            " AND sent_at >= ? AND source NOT LIKE 'reply:%' AND json_extract(payload, '$.kind') IS NOT 'action'",
            (platform, chat_id, iso(since)),
        ) or 0)

    @reads
    def count_by_status(self) -> dict[str, int]:
        return {r["status"]: r["n"] for r in self.query("SELECT status, count(*) AS n FROM outbound GROUP BY status")}


def _item(row: dict[str, Any]) -> OutboundItem:
    return OutboundItem(
        source=row["source"], occurrence=row["occurrence"], platform=row["platform"],
        chat_id=row["chat_id"], chat_kind=row["chat_kind"], payload=loads(row["payload"], {}),
        priority=row["priority"], not_before=parse_iso(row["next_attempt_at"]),
        not_after=parse_iso(row["not_after"]), reply_to=row["reply_to"], id=row["id"],
        attempts=row["attempts"], status=row["status"],
    )


def _update_marks(conn, rows: list[tuple[Any, ...]]) -> None:
    """rows of (id, status, error, attempts, next_attempt_at, platform_message_id, now);
    a None keeps the column as it was."""
    execute_rows(
        conn,
        "UPDATE outbound SET status = v.column2, error = v.column3, updated_at = v.column7,"
        " attempts = COALESCE(v.column4, attempts), next_attempt_at = COALESCE(v.column5, next_attempt_at),"
        " platform_message_id = COALESCE(v.column6, platform_message_id),"
        " sent_at = CASE WHEN v.column2 = 'sent' THEN v.column7 ELSE sent_at END"
        " FROM (VALUES ",
        rows, ") AS v WHERE outbound.id = v.column1",
    )
