"""Console users, their login sessions, the audit log and small key/value state."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, parse_iso, reads, utcnow

ROLES = ("admin", "manager", "moderator")

# The users table itself is in schema "core". A session lives as long as its row: logging out
# or changing the password deletes rows, so a copied cookie dies with them. Only a hash of the
# session id is stored, so a leaked database does not hand out live sessions.
ACCOUNTS_V1 = """
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions(user);
ALTER TABLE users ADD COLUMN last_failed_at TEXT
"""


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class AccountRepo(Repo):
    COMPONENT = "accounts"
    MIGRATIONS = (ACCOUNTS_V1,)

    def add_user(self, name: str, password_hash: str, role: str) -> bool:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO users(name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                (name, password_hash, role, iso(utcnow())),
            )
            return cur.rowcount == 1

    def set_password(self, name: str, password_hash: str, keep_session: str | None = None) -> bool:
        """New password; every session of the user ends except `keep_session` (the one that
        changed its own password)."""
        with self.tx() as conn:
            cur = conn.execute(
                "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE name = ?",
                (password_hash, name),
            )
            conn.execute("DELETE FROM console_sessions WHERE user = ? AND id_hash != ?",
                         (name, session_hash(keep_session) if keep_session else ""))
            return cur.rowcount == 1

    def set_role(self, name: str, role: str) -> bool:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.tx() as conn:
            return conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name)).rowcount == 1

    def set_disabled(self, name: str, disabled: bool) -> bool:
        with self.tx() as conn:
            if disabled:
                conn.execute("DELETE FROM console_sessions WHERE user = ?", (name,))
            return conn.execute(
                "UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name)
            ).rowcount == 1

    # -- sessions ----------------------------------------------------------------------------

    def add_session(self, session_id: str, name: str, now: datetime, expires: datetime) -> None:
        """Store a new session (and drop everyone's expired ones, so the table stays small)."""
        with self.tx() as conn:
            conn.execute("DELETE FROM console_sessions WHERE expires_at < ?", (iso(now),))
            conn.execute(
                "INSERT INTO console_sessions(id_hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (session_hash(session_id), name, iso(now), iso(expires)),
            )

    @reads
    def session_user(self, session_id: str, now: datetime) -> dict[str, Any] | None:
        """The enabled user of a live session, or None (logged out, revoked, expired, disabled)."""
        return self.query_one(
            "SELECT u.* FROM console_sessions s JOIN users u ON u.name = s.user"
            " WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = 0",
            (session_hash(session_id), iso(now)),
        )

    def end_session(self, session_id: str) -> None:
        with self.tx() as conn:
            conn.execute("DELETE FROM console_sessions WHERE id_hash = ?", (session_hash(session_id),))

    def count_sessions(self, name: str) -> int:
        return self.scalar("SELECT count(*) FROM console_sessions WHERE user = ?", (name,))

    @reads
    def get_user(self, name: str) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM users WHERE name = ?", (name,))

    @reads
    def list_users(self) -> list[dict[str, Any]]:
        return self.query("SELECT name, role, disabled, created_at, last_login_at FROM users ORDER BY name")

    def count_users(self) -> int:
        return self.scalar("SELECT count(*) FROM users")

    def login_failed(self, name: str, now: datetime, limit: int, quiet: timedelta, lock: timedelta) -> bool:
        """Count a failed login; failures older than `quiet` are forgotten first. The account
        is locked for `lock` when the count reaches `limit` (and again at each failure until
        a quiet period has passed); returns whether it now is."""
        with self.tx() as conn:
            row = conn.execute("SELECT failed_logins, last_failed_at FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            last = parse_iso(row[1])
            count = (row[0] if last is not None and now - last < quiet else 0) + 1
            locked = count >= limit
            conn.execute(
                "UPDATE users SET failed_logins = ?, last_failed_at = ?, locked_until = ? WHERE name = ?",
                (count, iso(now), iso(now + lock) if locked else None, name),
            )
            return locked

    def login_succeeded(self, name: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "UPDATE users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL, last_login_at = ?"
                " WHERE name = ?",
                (iso(utcnow()), name),
            )

    def audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO audit_log(time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (iso(utcnow()), actor, action, target, dumps(detail or {})),
            )

    @reads
    def audit_entries(
        self, limit: int = 200, actor: str | None = None, action: str | None = None, *,
        since: str | None = None, until: str | None = None, offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Newest first; `action` is a prefix, `since`/`until` ISO times (UTC), `until` exclusive."""
        sql, params = "SELECT * FROM audit_log WHERE 1=1", []
        if actor:
            sql += " AND actor = ?"
            params.append(actor)
        if action:
            sql += " AND action LIKE ? ESCAPE '\\'"
            params.append(action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if since:
            sql += " AND time >= ?"
            params.append(since)
        if until:
            sql += " AND time < ?"
            params.append(until)
        rows = self.query(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, max(0, offset)])
        for r in rows:
            r["detail"] = loads(r["detail"], {})
        return rows

    @reads
    def audit_facets(self) -> dict[str, list[str]]:
        """The actors and action codes present, for the audit page's filters."""
        return {
            "actors": [r["actor"] for r in self.query("SELECT DISTINCT actor FROM audit_log ORDER BY actor")],
            "actions": [r["action"] for r in self.query("SELECT DISTINCT action FROM audit_log")],
        }

    def get_value(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM kv WHERE key = ?", (key,))

    def set_value(self, key: str, value: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
