"""Tables of the moderation capability: lexicon, allowlists, flags (review queue), strikes, spam samples."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, execute_rows, iso, loads, next_id, reads, utcnow

MODERATION_V1 = """
CREATE TABLE moderation_words (
    id INTEGER PRIMARY KEY,
    word TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL DEFAULT '其他',
    severity INTEGER NOT NULL DEFAULT 2,
    action TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX moderation_words_category ON moderation_words(category);
CREATE TABLE moderation_allow (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (kind, value)
);
CREATE TABLE moderation_flags (
    id INTEGER PRIMARY KEY,
    message_uid TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    chat_name TEXT NOT NULL DEFAULT '',
    member_id TEXT NOT NULL,
    member_name TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    time TEXT NOT NULL,
    rule TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    word TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    hits TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '{}',
    decided_by TEXT,
    decided_at TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX moderation_flags_status ON moderation_flags(status, time);
CREATE INDEX moderation_flags_member ON moderation_flags(platform, chat_id, member_id, time);
CREATE TABLE moderation_strikes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    time TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    step TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    flag_id INTEGER,
    source TEXT NOT NULL DEFAULT 'auto',
    actor TEXT NOT NULL DEFAULT '',
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX moderation_strikes_member ON moderation_strikes(platform, chat_id, member_id, expires_at);
CREATE TABLE moderation_samples (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    label INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
)
"""

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
    COMPONENT = "moderation"
    MIGRATIONS = (MODERATION_V1,)

    # -- lexicon ------------------------------------------------------------------------

    def add_words(self, rows: Iterable[dict[str, Any]], *, replace: bool = False) -> tuple[int, int]:
        """Insert words; existing ones are kept (or updated with replace). Returns (added, updated)."""
        now = iso(utcnow())
        added = updated = 0
        with self.tx() as conn:
            for r in rows:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO moderation_words(word, category, severity, action, source, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (r["word"], r.get("category") or "其他", int(r.get("severity") or 2), r.get("action"),
                     r.get("source", ""), now),
                )
                if cur.rowcount:
                    added += 1
                elif replace:
                    conn.execute(
                        "UPDATE moderation_words SET category = ?, severity = ?, action = ?, enabled = 1"
                        " WHERE word = ?",
                        (r.get("category") or "其他", int(r.get("severity") or 2), r.get("action"), r["word"]),
                    )
                    updated += 1
        return added, updated

    @reads
    def list_words(self, *, enabled_only: bool = False, category: str | None = None, q: str | None = None,
                   limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM moderation_words WHERE 1=1", []
        if enabled_only:
            sql += " AND enabled = 1"
        if category:
            sql += " AND category = ?"
            params.append(category)
        if q:
            sql += " AND word LIKE ?"
            params.append(f"%{q}%")
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return self.query(sql, params)

    def get_word(self, word_id: int) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM moderation_words WHERE id = ?", (word_id,))

    def delete_words(self, ids: Iterable[int]) -> int:
        with self.tx() as conn:
            return sum(conn.execute("DELETE FROM moderation_words WHERE id = ?", (i,)).rowcount for i in ids)

    @reads
    def word_counts(self) -> dict[str, int]:
        rows = self.query("SELECT category, count(*) AS n FROM moderation_words GROUP BY category ORDER BY n DESC")
        return {r["category"]: r["n"] for r in rows}

    # -- allowlists -----------------------------------------------------------------------

    def add_allow(self, kind: str, value: str, note: str = "") -> bool:
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO moderation_allow(kind, value, note, created_at) VALUES (?, ?, ?, ?)",
                (kind, value, note, iso(utcnow())),
            )
            return cur.rowcount == 1

    def remove_allow(self, allow_id: int) -> bool:
        with self.tx() as conn:
            return conn.execute("DELETE FROM moderation_allow WHERE id = ?", (allow_id,)).rowcount == 1

    @reads
    def list_allow(self, kind: str | None = None) -> list[dict[str, Any]]:
        if kind:
            return self.query("SELECT * FROM moderation_allow WHERE kind = ? ORDER BY value", (kind,))
        return self.query("SELECT * FROM moderation_allow ORDER BY kind, value")

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
        sql, params = "SELECT * FROM moderation_flags WHERE 1=1", []
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

    # -- spam samples -------------------------------------------------------------------------

    def add_samples(self, rows: Iterable[tuple[str, bool]], source: str) -> int:
        now = iso(utcnow())
        with self.tx() as conn:
            cur = conn.executemany(
                "INSERT INTO moderation_samples(text, label, source, created_at) VALUES (?, ?, ?, ?)",
                [(t, int(bool(y)), source, now) for t, y in rows],
            )
            return cur.rowcount

    def spam_samples(self) -> list[tuple[str, bool]]:
        with self.lock:
            return [(t, bool(y)) for t, y in self.conn.execute("SELECT text, label FROM moderation_samples")]

    @reads
    def sample_counts(self) -> dict[str, int]:
        rows = self.query("SELECT label, count(*) AS n FROM moderation_samples GROUP BY label")
        return {("spam" if r["label"] else "ham"): r["n"] for r in rows}

    # -- change counter: a running bot reloads when another process (CLI) changed the lists ----

    def bump_version(self) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO kv(key, value) VALUES ('moderation.version', '1') ON CONFLICT(key)"
                " DO UPDATE SET value = CAST(CAST(kv.value AS INTEGER) + 1 AS TEXT)"
            )

    def version(self) -> int:
        value = self.scalar("SELECT value FROM kv WHERE key = 'moderation.version'")
        return int(value) if value else 0

    # -- moderators (members.is_moderator, written by the chats repository) --------------------

    def moderators(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return [tuple(r) for r in self.conn.execute(
                "SELECT platform, chat_id, member_id FROM members WHERE is_moderator = 1")]

    # -- context for the review page ------------------------------------------------------------

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


def _flag(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["hits"] = loads(row.get("hits"), [])
    row["detail"] = loads(row.get("detail"), {})
    return row
