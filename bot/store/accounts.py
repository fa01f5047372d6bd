"""Console users, the audit log and small key/value state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, reads, utcnow

ROLES = ("admin", "manager", "moderator")


class AccountRepo(Repo):
    def add_user(self, name: str, password_hash: str, role: str) -> bool:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO users(name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                (name, password_hash, role, iso(utcnow())),
            )
            return cur.rowcount == 1

    def set_password(self, name: str, password_hash: str) -> bool:
        with self.tx() as conn:
            cur = conn.execute(
                "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE name = ?",
                (password_hash, name),
            )
            return cur.rowcount == 1

    def set_role(self, name: str, role: str) -> bool:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.tx() as conn:
            return conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name)).rowcount == 1

    def set_disabled(self, name: str, disabled: bool) -> bool:
        with self.tx() as conn:
            return conn.execute(
                "UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name)
            ).rowcount == 1

    def get_user(self, name: str) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM users WHERE name = ?", (name,))

    @reads
    def list_users(self) -> list[dict[str, Any]]:
        return self.query("SELECT name, role, disabled, created_at, last_login_at FROM users ORDER BY name")

    def count_users(self) -> int:
        return self.scalar("SELECT count(*) FROM users")

    def login_failed(self, name: str, locked_until: datetime | None) -> None:
        with self.tx() as conn:
            conn.execute(
                "UPDATE users SET failed_logins = failed_logins + 1, locked_until = ? WHERE name = ?",
                (iso(locked_until), name),
            )

    def login_succeeded(self, name: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE name = ?",
                (iso(utcnow()), name),
            )

    def audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO audit_log(time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (iso(utcnow()), actor, action, target, dumps(detail or {})),
            )

    @reads
    def audit_entries(self, limit: int = 200, actor: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM audit_log WHERE 1=1", []
        if actor:
            sql += " AND actor = ?"
            params.append(actor)
        if action:
            sql += " AND action LIKE ?"
            params.append(f"{action}%")
        rows = self.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        for r in rows:
            r["detail"] = loads(r["detail"], {})
        return rows

    def get_value(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM kv WHERE key = ?", (key,))

    def set_value(self, key: str, value: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
