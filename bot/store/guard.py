"""Brand-wide guard state: the blacklist, join requests, mutes and scoped console accounts.

One component ("guard") with its own migrations. `version()` changes on every blacklist or
scope write, so the running bot notices a change made by the CLI within seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, reads, utcnow

GUARD_V1 = """
CREATE TABLE blacklist (
    ref TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    by_user TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE join_requests (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    sub_type TEXT NOT NULL DEFAULT 'add',
    flag TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    time TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at TEXT,
    UNIQUE (platform, flag)
);
CREATE INDEX join_requests_status ON join_requests(status, time);
CREATE INDEX join_requests_member ON join_requests(platform, member_id, status);
CREATE TABLE mutes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    member_name TEXT NOT NULL DEFAULT '',
    since TEXT NOT NULL,
    until TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    lifted_at TEXT,
    lifted_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mutes_active ON mutes(until, lifted_at);
CREATE INDEX mutes_member ON mutes(platform, chat_id, member_id);
CREATE TABLE account_scopes (
    username TEXT PRIMARY KEY,
    groups TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE guard_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO guard_version(id, version) VALUES (1, 0)
"""


class GuardRepo(Repo):
    """Blacklist, join requests, mutes, account scopes."""

    COMPONENT = "guard"
    MIGRATIONS = (GUARD_V1,)

    def version(self) -> int:
        return int(self.scalar("SELECT version FROM guard_version WHERE id = 1") or 0)

    def _bump(self, conn: Any) -> None:
        conn.execute("UPDATE guard_version SET version = version + 1 WHERE id = 1")

    # -- blacklist -------------------------------------------------------------------------

    def blacklist_add(self, ref: str, reason: str, by_user: str) -> bool:
        """False when `ref` was already listed (the first entry is kept)."""
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO blacklist(ref, reason, by_user, created_at) VALUES (?, ?, ?, ?)",
                (ref, reason, by_user, iso(utcnow())),
            )
            self._bump(conn)
            return cur.rowcount == 1

    def blacklist_remove(self, ref: str) -> bool:
        with self.tx() as conn:
            cur = conn.execute("DELETE FROM blacklist WHERE ref = ?", (ref,))
            self._bump(conn)
            return cur.rowcount == 1

    @reads
    def blacklist(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM blacklist ORDER BY created_at DESC, ref")

    def blacklisted(self, ref: str) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM blacklist WHERE ref = ?", (ref,))

    def member_groups(self, platform: str, member_id: str) -> list[str]:
        """Groups the member is in as far as the bot knows: the per-chat member list (not left)
        and the groups they wrote in."""
        rows = self.query(
            # per known group, so the lookup uses the messages_sender index (no table scan)
            "SELECT chat_id FROM members WHERE platform = ? AND member_id = ? AND left_at IS NULL"
            " UNION SELECT c.chat_id FROM chats c WHERE c.platform = ? AND c.kind = 'group' AND EXISTS"
            " (SELECT 1 FROM messages m WHERE m.platform = c.platform AND m.chat_id = c.chat_id"
            " AND m.sender_id = ? AND m.type = 'message')",
            (platform, member_id, platform, member_id),
        )
        return sorted({r["chat_id"] for r in rows})

    def is_staff(self, platform: str, member_id: str) -> bool:
        return bool(self.scalar(
            "SELECT count(*) FROM members WHERE platform = ? AND member_id = ? AND is_moderator = 1",
            (platform, member_id)))

    # -- join requests ---------------------------------------------------------------------

    def add_join_request(self, row: dict[str, Any]) -> int | None:
        """Store a request once per (platform, flag); None when it was seen before."""
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO join_requests(platform, chat_id, member_id, sub_type, flag, comment, time,"
                " status, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row["platform"], row["chat_id"], row["member_id"], row.get("sub_type", "add"), row["flag"],
                 row.get("comment", ""), iso(row["time"]), row["status"], row.get("reason", ""),
                 row.get("decided_by", ""), iso(row.get("decided_at"))),
            )
            return cur.lastrowid if cur.rowcount == 1 else None

    def get_join_request(self, request_id: int) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM join_requests WHERE id = ?", (request_id,))

    @reads
    def join_requests(self, status: str | None = "pending", limit: int = 200) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM join_requests", []
        if status:
            sql += " WHERE status = ?"
            params.append(status)
        return self.query(sql + " ORDER BY time DESC, id DESC LIMIT ?", [*params, limit])

    def pending_requests_of(self, platform: str, member_id: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM join_requests WHERE platform = ? AND member_id = ? AND status = 'pending'",
                          (platform, member_id))

    def decide_join_request(self, request_id: int, status: str, actor: str, at: datetime, reason: str = "") -> bool:
        """Close a pending request once; False when someone else already did."""
        with self.tx() as conn:
            cur = conn.execute(
                "UPDATE join_requests SET status = ?, decided_by = ?, decided_at = ?, reason = ?"
                " WHERE id = ? AND status = 'pending'", (status, actor, iso(at), reason, request_id))
            return cur.rowcount == 1

    # -- mutes -----------------------------------------------------------------------------

    def record_mute(self, platform: str, chat_id: str, member_id: str, member_name: str, since: datetime,
                    until: datetime, reason: str) -> None:
        """A confirmed mute (written when the platform confirmed it); an earlier open one is closed."""
        with self.tx() as conn:
            conn.execute("UPDATE mutes SET lifted_at = ?, lifted_by = 'superseded' WHERE platform = ? AND chat_id = ?"
                         " AND member_id = ? AND lifted_at IS NULL", (iso(since), platform, chat_id, member_id))
            conn.execute(
                "INSERT INTO mutes(platform, chat_id, member_id, member_name, since, until, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (platform, chat_id, member_id, member_name, iso(since), iso(until), reason))

    def lift_mute(self, platform: str, chat_id: str, member_id: str, at: datetime, by: str) -> int:
        with self.tx() as conn:
            return conn.execute(
                "UPDATE mutes SET lifted_at = ?, lifted_by = ? WHERE platform = ? AND chat_id = ? AND member_id = ?"
                " AND lifted_at IS NULL", (iso(at), by, platform, chat_id, member_id)).rowcount

    def lift_mute_from_cli(self, platform: str, chat_id: str, member_id: str, at: datetime) -> list[int]:
        """Lift the open mutes for the running bot to undo on the platform (`cli_lifts`); their ids."""
        with self.tx() as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM mutes WHERE platform = ? AND chat_id = ? AND member_id = ? AND lifted_at IS NULL"
                " AND until > ?", (platform, chat_id, member_id, iso(at)))]
            conn.executemany("UPDATE mutes SET lifted_at = ?, lifted_by = 'cli' WHERE id = ?",
                             [(iso(at), i) for i in ids])
            self._bump(conn)
            return ids

    def cli_lifts(self, since: datetime) -> list[dict[str, Any]]:
        """Mutes the CLI lifted since `since` (the bot unmutes each once, keyed by the mute's id)."""
        return self.query("SELECT * FROM mutes WHERE lifted_by = 'cli' AND lifted_at > ?", (iso(since),))

    @reads
    def active_mutes(self, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        return self.query(
            "SELECT m.*, COALESCE(NULLIF(c.name, ''), m.chat_id) AS chat_name FROM mutes m"
            " LEFT JOIN chats c ON c.platform = m.platform AND c.chat_id = m.chat_id"
            " WHERE m.lifted_at IS NULL AND m.until > ? ORDER BY m.until LIMIT ?", (iso(now), limit))

    def get_mute(self, mute_id: int) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM mutes WHERE id = ?", (mute_id,))

    # -- strikes by id (the member's history with revoke) -------------------------------------

    def revoke_strike(self, strike_id: int) -> dict[str, Any] | None:
        """Revoke one strike; returns it, or None when unknown or already revoked."""
        with self.tx() as conn:
            cur = conn.execute("SELECT * FROM moderation_strikes WHERE id = ? AND revoked = 0", (strike_id,))
            row = cur.fetchone()
            if row is None:
                return None
            conn.execute("UPDATE moderation_strikes SET revoked = 1 WHERE id = ?", (strike_id,))
            return dict(zip([c[0] for c in cur.description], row, strict=True))

    def get_strike(self, strike_id: int) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM moderation_strikes WHERE id = ?", (strike_id,))

    # -- account scopes ----------------------------------------------------------------------

    def set_scope(self, username: str, groups: list[str], tags: list[str]) -> None:
        with self.tx() as conn:
            if groups or tags:
                conn.execute(
                    "INSERT INTO account_scopes(username, groups, tags) VALUES (?, ?, ?) ON CONFLICT(username)"
                    " DO UPDATE SET groups = excluded.groups, tags = excluded.tags",
                    (username, dumps(sorted(set(groups))), dumps(sorted(set(tags)))))
            else:
                conn.execute("DELETE FROM account_scopes WHERE username = ?", (username,))
            self._bump(conn)

    def scope(self, username: str) -> tuple[list[str], list[str]] | None:
        row = self.query_one("SELECT * FROM account_scopes WHERE username = ?", (username,))
        return (loads(row["groups"], []), loads(row["tags"], [])) if row else None
