"""Moderation flags (the review queue) and strikes; the lexicon is in lexicon.py, the schema in schema_moderation.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, execute_rows, iso, loads, next_id, reads

FLAG_COLUMNS = (
    "message_uid", "platform", "chat_id", "chat_name", "member_id", "member_name", "text", "time",
    "rule", "category", "word", "action", "status",
)
_FLAG_INSERT = f"INSERT INTO moderation_flags(id, {', '.join(FLAG_COLUMNS)}, hits, detail) VALUES "
_STRIKE_INSERT = (
    "INSERT INTO moderation_strikes(platform, chat_id, member_id, time, expires_at, step, reason,"
    " flag_id, source, actor) VALUES "
)


def _strike_row(platform: str, chat_id: str, member_id: str, *, time: datetime, expires_at: datetime, step: str,
                reason: str, flag_id: int | None = None, source: str = "auto", actor: str = "") -> tuple[Any, ...]:
    return (platform, chat_id, member_id, iso(time), iso(expires_at), step, reason, flag_id, source, actor)


def _flag_row(flag: dict[str, Any]) -> tuple[Any, ...]:
    values = [iso(flag[c]) if c == "time" else flag.get(c, "") for c in FLAG_COLUMNS]
    return (*values, dumps(flag.get("hits", [])), dumps(flag.get("detail", {})))


class ModerationRepo(Repo):
    """Flags and strikes of members (tables created by schema_moderation.py)."""

    # -- flags (review queue and history) -------------------------------------------------

    def add_flags(self, flags: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        """(flag, strike or None) pairs from the hot path: the flags in one statement, then the
        strikes, each pointing at its flag."""
        with self.tx() as conn:
            # numbered here (the write lock is held), so the strikes need not read the ids back
            first = next_id(conn, "moderation_flags")
            execute_rows(conn, _FLAG_INSERT,
                         [(first + i, *_flag_row(f)) for i, (f, _) in enumerate(flags)])
            strikes = [
                _strike_row(f["platform"], f["chat_id"], f["member_id"], flag_id=first + i, **st)
                for i, (f, st) in enumerate(flags) if st is not None
            ]
            execute_rows(conn, _STRIKE_INSERT, strikes)

    def get_flag(self, flag_id: int) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM moderation_flags WHERE id = ?", (flag_id,))
        return _flag(row) if row else None

    @reads
    def list_flags(self, *, status: str | None = "pending", chat_id: str | None = None,
                   category: str | None = None, since: datetime | None = None,
                   before: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT * FROM moderation_flags WHERE 1=1"
        params: list[Any] = []
        for column, value in (("status", status), ("chat_id", chat_id), ("category", category)):
            if value:
                sql += f" AND {column} = ?"
                params.append(value)
        if since:
            sql += " AND time >= ?"
            params.append(iso(since))
        if before:
            sql += " AND time < ?"
            params.append(iso(before))
        return [_flag(r) for r in self.query(sql + " ORDER BY time DESC, id DESC LIMIT ?", [*params, limit])]

    @reads
    def flag_facets(self) -> dict[str, list[str]]:
        chats = self.query("SELECT DISTINCT chat_id, chat_name FROM moderation_flags ORDER BY chat_name")
        cats = self.query("SELECT DISTINCT category FROM moderation_flags ORDER BY category")
        return {"chats": chats, "categories": [r["category"] for r in cats]}

    @reads
    def count_flags(self, status: str = "pending") -> int:
        return self.scalar("SELECT count(*) FROM moderation_flags WHERE status = ?", (status,))

    def decide_flag(self, flag_id: int, status: str, actor: str, at: datetime, note: str = "") -> bool:
        """Close a pending flag; False when it was already decided (two moderators at once)."""
        with self.tx() as conn:
            cur = conn.execute(
                "UPDATE moderation_flags SET status = ?, decided_by = ?, decided_at = ?, note = ?"
                " WHERE id = ? AND status = 'pending'",
                (status, actor, iso(at), note, flag_id),
            )
            return cur.rowcount == 1

    def member_flags(self, platform: str, chat_id: str, member_id: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM moderation_flags WHERE platform = ? AND chat_id = ? AND member_id = ?"
            " ORDER BY time DESC LIMIT ?", (platform, chat_id, member_id, limit),
        )
        return [_flag(r) for r in rows]

    # -- strikes ----------------------------------------------------------------------------

    def add_strike(self, platform: str, chat_id: str, member_id: str, *, time: datetime, expires_at: datetime,
                   step: str, reason: str, flag_id: int | None = None, source: str = "auto",
                   actor: str = "") -> int:
        row = _strike_row(platform, chat_id, member_id, time=time, expires_at=expires_at, step=step,
                          reason=reason, flag_id=flag_id, source=source, actor=actor)
        with self.tx() as conn:
            return int(execute_rows(conn, _STRIKE_INSERT, [row], " RETURNING id")[0][0])

    def active_strikes(self, platform: str, chat_id: str, member_id: str, now: datetime) -> int:
        return self.scalar(
            "SELECT count(*) FROM moderation_strikes WHERE platform = ? AND chat_id = ? AND member_id = ?"
            " AND revoked = 0 AND expires_at > ?", (platform, chat_id, member_id, iso(now)),
        )

    def strike_expiries(self, platform: str, chat_id: str, member_id: str, now: datetime) -> list[datetime]:
        rows = self.query(
            "SELECT expires_at FROM moderation_strikes WHERE platform = ? AND chat_id = ? AND member_id = ?"
            " AND revoked = 0 AND expires_at > ?", (platform, chat_id, member_id, iso(now)),
        )
        return [datetime.fromisoformat(r["expires_at"]) for r in rows]

    def all_strike_expiries(self, now: datetime) -> dict[tuple[str, str, str], list[datetime]]:
        """Every member's active strikes (loaded once at start-up, then kept in memory)."""
        out: dict[tuple[str, str, str], list[datetime]] = {}
        for r in self.query(
            "SELECT platform, chat_id, member_id, expires_at FROM moderation_strikes"
            " WHERE revoked = 0 AND expires_at > ?", (iso(now),),
        ):
            out.setdefault((r["platform"], r["chat_id"], r["member_id"]), []).append(
                datetime.fromisoformat(r["expires_at"]))
        return out

    def recent_joins(self, since: datetime) -> dict[tuple[str, str, str], datetime]:
        """Members who joined after `since` (members table of the core schema)."""
        rows = self.query(
            "SELECT platform, chat_id, member_id, joined_at FROM members WHERE joined_at > ?", (iso(since),),
        )
        return {(r["platform"], r["chat_id"], r["member_id"]): datetime.fromisoformat(r["joined_at"]) for r in rows}

    def strikes(self, platform: str, chat_id: str, member_id: str, limit: int = 50) -> list[dict[str, Any]]:
        return self.query(
            "SELECT * FROM moderation_strikes WHERE platform = ? AND chat_id = ? AND member_id = ?"
            " ORDER BY time DESC LIMIT ?", (platform, chat_id, member_id, limit),
        )

    def revoke_strikes(self, platform: str, chat_id: str, member_id: str) -> int:
        with self.tx() as conn:
            return conn.execute(
                "UPDATE moderation_strikes SET revoked = 1 WHERE platform = ? AND chat_id = ? AND member_id = ?"
                " AND revoked = 0", (platform, chat_id, member_id),
            ).rowcount

    # -- moderators (members.is_moderator, written by the chats repository) --------------------

    def moderators(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return [tuple(r) for r in self.conn.execute(
                "SELECT platform, chat_id, member_id FROM members WHERE is_moderator = 1")]



def _flag(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["hits"] = loads(row.get("hits"), [])
    row["detail"] = loads(row.get("detail"), {})
    return row
