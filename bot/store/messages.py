"""Messages (in and out) and the decisions each pipeline stage took about them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.kernel.events import ChatKind, Decision, Event, EventType
from bot.store.base import Repo, dumps, execute_rows, iso, loads, parse_iso, reads, utcnow

_OUTGOING = (
    "INSERT OR IGNORE INTO messages(uid, platform, message_id, chat_id, chat_kind, direction,"
    " sender_id, sender_name, time, text, status, raw) VALUES "
)


def _outgoing_row(uid: str, platform: str, chat_id: str, chat_kind: str, sender_id: str, sender_name: str,
                  text: str, time: datetime, raw: dict[str, Any] | None = None) -> tuple[Any, ...]:
    return (uid, platform, uid, chat_id, chat_kind, "out", sender_id, sender_name, iso(time), text, "sent",
            dumps(raw or {}))


# the status column of a message_row
STATUS = 13


def message_row(e: Event, status: str, truncated: bool) -> tuple[Any, ...]:
    """One messages row of an inbound event."""
    return (e.uid, e.platform, e.message_id, e.chat_id, str(e.chat_kind), str(e.type), e.sender_id,
            e.sender_name, iso(e.time), e.text, int(truncated), dumps(e.mentions) if e.mentions else "[]",
            dumps(e.attachments) if e.attachments else "[]", status, dumps(e.raw) if e.raw else "{}",
            int(e.to_me))


def trace_row(uid: str, decisions: list[Decision], status: str, now: str) -> tuple[Any, ...]:
    """One decisions row: the whole trace as JSON, the deciding (last) stage in columns."""
    last = decisions[-1] if decisions else None
    return (
        uid, now, status, last.stage if last else "", last.outcome if last else "", last.reason if last else "",
        dumps([[d.stage, d.outcome, d.reason, d.detail, round(d.elapsed_ms, 3)] for d in decisions]),
    )


class MessageRepo(Repo):
    def record_batch(
        self,
        messages: Iterable[tuple[Event, str, bool]],
        traces: Iterable[tuple[str, list[Decision], str]],
    ) -> None:
        """Write (event, status, truncated) rows and one trace row per (uid, decisions, status).

        A trace is one row, not one per stage: recording must not bound throughput. Its
        `stage`/`outcome` columns name the deciding (last) stage, for reports.
        """
        now = iso(utcnow())
        self.insert_batch([message_row(e, status, truncated) for e, status, truncated in messages],
                          [trace_row(uid, decisions, status, now) for uid, decisions, status in traces])

    def insert_batch(self, msg_rows: list[tuple[Any, ...]], trace_rows: list[tuple[Any, ...]]) -> None:
        """`record_batch` with the rows already encoded (`message_row`, `trace_row`: by the
        recorder as messages and decisions arrive, so the writer thread spends its time in SQLite)."""
        with self.tx() as conn:
            execute_rows(
                conn,
                "INSERT OR IGNORE INTO messages(uid, platform, message_id, chat_id, chat_kind, type,"
                " sender_id, sender_name, time, text, truncated, mentions, attachments, status, raw, to_me) VALUES ",
                msg_rows,
            )
            execute_rows(
                conn, "INSERT INTO decisions(message_uid, time, status, stage, outcome, reason, trace) VALUES ",
                trace_rows,
            )

    def set_status(self, uids: Iterable[tuple[str, str]]) -> None:
        """(uid, status) pairs; for a uid listed twice, the last one wins."""
        latest = list(dict(uids).items())
        with self.tx() as conn:
            execute_rows(
                conn, "UPDATE messages SET status = v.column2 FROM (VALUES ", latest,
                ") AS v WHERE messages.uid = v.column1",
            )

    def record_outgoing_many(self, messages: list[dict[str, Any]]) -> None:
        """Record what the bot said, in one statement: dicts of uid, platform, chat_id,
        chat_kind, sender_id, sender_name, text, time and raw (optional). A uid already
        recorded is left as it is, so a resend after a crash is a no-op."""
        rows = [_outgoing_row(**m) for m in messages]
        with self.tx() as conn:
            execute_rows(conn, _OUTGOING, rows)

    def delete_platform(self, platform: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "DELETE FROM decisions WHERE message_uid IN (SELECT uid FROM messages WHERE platform = ?)",
                (platform,),
            )
            conn.execute("DELETE FROM messages WHERE platform = ?", (platform,))

    def recent_uids(self, limit: int) -> list[str]:
        rows = self.query("SELECT uid FROM messages WHERE direction = 'in' ORDER BY rowid DESC LIMIT ?", (limit,))
        return [r["uid"] for r in rows]

    def exists(self, uid: str) -> bool:
        return self.scalar("SELECT 1 FROM messages WHERE uid = ?", (uid,)) is not None

    def get(self, uid: str) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM messages WHERE uid = ?", (uid,))
        return _message(row) if row else None

    def get_event(self, uid: str) -> Event | None:
        """An inbound message as the Event it was recorded from (to run it again)."""
        row = self.get(uid)
        if row is None or row["direction"] != "in":
            return None
        return _event(row)

    def unhandled(self, since: datetime, limit: int) -> list[Event]:
        """Inbound messages recorded since `since` that the pipeline never finished, oldest first.

        A handled message's status is written with its decisions in one transaction, so
        "received" means recorded (and acknowledged) but not handled: a crash came between.
        """
        # "+rowid": walk the time index over the window, not the whole table in rowid order
        rows = self.query(
            "SELECT * FROM messages WHERE time >= ? AND status = 'received' AND direction = 'in'"
            " ORDER BY +rowid LIMIT ?", (iso(since), limit),
        )
        return [_event(_message(r)) for r in rows]

    @reads
    def find(self, message_id: str) -> list[dict[str, Any]]:
        """By full uid ("sim:123") or by the platform's message id alone."""
        rows = self.query(
            "SELECT * FROM messages WHERE uid = ? OR message_id = ? ORDER BY time DESC LIMIT 20",
            (message_id, message_id),
        )
        return [_message(r) for r in rows]

    @reads
    def decisions(self, uid: str) -> list[dict[str, Any]]:
        """Every stage decision recorded for a message, in order (a retried copy adds more)."""
        out: list[dict[str, Any]] = []
        for row in self.query("SELECT time, trace FROM decisions WHERE message_uid = ? ORDER BY id", (uid,)):
            for stage, outcome, reason, detail, elapsed in loads(row["trace"], []):
                out.append({"stage": stage, "outcome": outcome, "reason": reason, "detail": detail,
                            "elapsed_ms": elapsed, "time": row["time"]})
        return out

    @reads
    def chat_messages(
        self, platform: str, chat_id: str, *, after_rowid: int = 0, limit: int = 100,
    ) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT rowid AS rowid_, * FROM messages WHERE platform = ? AND chat_id = ? AND rowid > ?"
            " ORDER BY rowid DESC LIMIT ?",
            (platform, chat_id, after_rowid, limit),
        )
        return [_message(r) for r in reversed(rows)]

    @reads
    def system_notices(
        self, platform: str, chat_id: str, limit: int = 500, *, member_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """A chat's latest platform notices (mute, kick, ...), oldest first: the simulator's member states.
        With `member_id`, only the notices about that member (however many others came since)."""
        where = "platform = ? AND chat_id = ? AND sender_id = 'system'"
        params: list[Any] = [platform, chat_id]
        if member_id is not None:
            where += " AND json_extract(raw, '$.action.member_id') = ?"
            params.append(member_id)
        rows = self.query(
            f"SELECT rowid AS rowid_, * FROM messages WHERE {where} ORDER BY time DESC, rowid DESC LIMIT ?",
            (*params, limit),
        )
        return [_message(r) for r in reversed(rows)]

    @reads
    def private_chats(self, platform: str, limit: int = 200) -> list[dict[str, Any]]:
        """One-to-one chats on a platform (chat id = the member's id), latest first."""
        return self.query(
            "SELECT chat_id, max(time) AS last_time, count(*) AS n FROM messages"
            " WHERE platform = ? AND chat_kind = 'private' GROUP BY chat_id ORDER BY last_time DESC LIMIT ?",
            (platform, limit),
        )

    def count(self, direction: str | None = None) -> int:
        if direction:
            return self.scalar("SELECT count(*) FROM messages WHERE direction = ?", (direction,))
        return self.scalar("SELECT count(*) FROM messages")

    @reads
    def overview(self, since: str | None = None) -> dict[str, Any]:
        """Headline counts for the console's overview page."""
        since = since or iso(utcnow().replace(hour=0, minute=0, second=0, microsecond=0))
        row = self.query_one(_overview_sql(), (since, since)) or {}
        row["by_outcome"] = {
            f"{r['stage']}:{r['outcome']}": r["n"]
            for r in self.query(
                "SELECT stage, outcome, count(*) AS n FROM decisions WHERE time >= ?"
                " GROUP BY stage, outcome", (since,),
            )
        }
        return row

    @reads
    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return [_message(r) for r in self.query("SELECT * FROM messages ORDER BY time DESC LIMIT ?", (limit,))]

    # -- context for the moderation review page --------------------------------------

    @reads
    def member_messages(self, platform: str, chat_id: str, member_id: str, limit: int = 10) -> list[dict[str, Any]]:
        return self.query(
            "SELECT uid, time, text, status FROM messages WHERE platform = ? AND chat_id = ? AND sender_id = ?"
            " AND direction = 'in' ORDER BY time DESC LIMIT ?", (platform, chat_id, member_id, limit),
        )

    @reads
    def chat_context(self, platform: str, chat_id: str, time: str, around: int = 5) -> list[dict[str, Any]]:
        before = self.query(
            "SELECT uid, time, sender_name, sender_id, text, direction FROM messages"
            " WHERE platform = ? AND chat_id = ? AND time <= ? ORDER BY time DESC, rowid DESC LIMIT ?",
            (platform, chat_id, time, around + 1),
        )
        after = self.query(
            "SELECT uid, time, sender_name, sender_id, text, direction FROM messages"
            " WHERE platform = ? AND chat_id = ? AND time > ? ORDER BY time, rowid LIMIT ?",
            (platform, chat_id, time, around),
        )
        return [*reversed(before), *after]


def _message(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for key in ("mentions", "attachments"):
        row[key] = loads(row.get(key), [])
    row["raw"] = loads(row.get("raw"), {})
    return row


def _event(row: dict[str, Any]) -> Event:
    return Event(
        platform=row["platform"], chat_id=row["chat_id"], chat_kind=ChatKind(row["chat_kind"]),
        sender_id=row["sender_id"], sender_name=row["sender_name"], message_id=row["message_id"],
        time=parse_iso(row["time"]), text=row["text"], mentions=row["mentions"],
        attachments=row["attachments"], type=EventType(row["type"]), to_me=bool(row.get("to_me")),
        raw=row["raw"],
    )


def _overview_sql() -> str:
    return (
        "SELECT"
        " (SELECT count(*) FROM messages WHERE direction = 'in') AS messages_in,"
        " (SELECT count(*) FROM messages WHERE direction = 'out') AS messages_out,"
        " (SELECT count(*) FROM messages WHERE direction = 'in' AND time >= ?) AS messages_today,"
        " (SELECT count(DISTINCT sender_id) FROM messages WHERE direction = 'in' AND time >= ?) AS active_today,"
        " (SELECT count(*) FROM chats) AS chats,"
        " (SELECT count(*) FROM members WHERE left_at IS NULL) AS members"
    )
