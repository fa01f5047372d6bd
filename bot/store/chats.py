"""Chats (with tags) and their members."""

from __future__ import annotations

from typing import Any

from bot.store.base import Repo, dumps, iso, loads, reads, utcnow


class ChatRepo(Repo):
    def upsert_chat(
        self, platform: str, chat_id: str, *, kind: str = "group", name: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        now = iso(utcnow())
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO chats(platform, chat_id, kind, name, tags, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(platform, chat_id) DO UPDATE SET"
                "  name = CASE WHEN ? IS NULL THEN chats.name ELSE excluded.name END,"
                "  tags = CASE WHEN ? IS NULL THEN chats.tags ELSE excluded.tags END,"
                "  kind = excluded.kind, updated_at = excluded.updated_at",
                (platform, chat_id, kind, name or "", dumps(tags or []), now, now,
                 name, None if tags is None else 1),
            )

    def ensure_chats(self, rows: list[tuple[str, str, str, str]]) -> None:
        """Create (platform, chat_id, kind, name) rows that do not exist yet; never overwrite."""
        now = iso(utcnow())
        with self.tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO chats(platform, chat_id, kind, name, tags, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, '[]', ?, ?)",
                [(p, c, k, n, now, now) for p, c, k, n in rows],
            )

    def delete_platform(self, platform: str) -> None:
        with self.tx() as conn:
            conn.execute("DELETE FROM members WHERE platform = ?", (platform,))
            conn.execute("DELETE FROM chats WHERE platform = ?", (platform,))

    def set_tags(self, platform: str, chat_id: str, tags: list[str]) -> None:
        with self.tx() as conn:
            conn.execute(
                "UPDATE chats SET tags = ?, updated_at = ? WHERE platform = ? AND chat_id = ?",
                (dumps(sorted(set(tags))), iso(utcnow()), platform, chat_id),
            )

    def get_chat(self, platform: str, chat_id: str) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM chats WHERE platform = ? AND chat_id = ?", (platform, chat_id))
        return _chat(row) if row else None

    def find_chat(self, name_or_id: str, platform: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT * FROM chats WHERE (chat_id = ? OR name = ?)"
        params: list[Any] = [name_or_id, name_or_id]
        if platform:
            sql += " AND platform = ?"
            params.append(platform)
        row = self.query_one(sql + " ORDER BY chat_id = ? DESC LIMIT 1", [*params, name_or_id])
        return _chat(row) if row else None

    @reads
    def list_chats(self, platform: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM chats WHERE 1=1", []
        if platform:
            sql += " AND platform = ?"
            params.append(platform)
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [_chat(r) for r in self.query(sql + " ORDER BY platform, name, chat_id", params)]

    def chat_tags(self) -> dict[tuple[str, str], list[str]]:
        return {(r["platform"], r["chat_id"]): loads(r["tags"], []) for r in
                self.query("SELECT platform, chat_id, tags FROM chats")}

    def upsert_member(
        self, platform: str, chat_id: str, member_id: str, name: str = "", *,
        joined: bool = False, left: bool = False, moderator: bool | None = None,
    ) -> None:
        now = iso(utcnow())
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO members(platform, chat_id, member_id, name, joined_at, left_at, last_seen_at,"
                " is_moderator) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(platform, chat_id, member_id) DO UPDATE SET"
                "  name = CASE WHEN excluded.name = '' THEN members.name ELSE excluded.name END,"
                "  joined_at = COALESCE(excluded.joined_at, members.joined_at),"
                "  left_at = CASE WHEN ? THEN NULL ELSE COALESCE(excluded.left_at, members.left_at) END,"
                "  last_seen_at = excluded.last_seen_at,"
                "  is_moderator = CASE WHEN ? IS NULL THEN members.is_moderator ELSE excluded.is_moderator END",
                (platform, chat_id, member_id, name, now if joined else None, now if left else None,
                 now, int(bool(moderator)), int(joined), moderator),
            )

    def list_members(self, platform: str, chat_id: str, *, present_only: bool = True) -> list[dict[str, Any]]:
        sql = "SELECT * FROM members WHERE platform = ? AND chat_id = ?"
        if present_only:
            sql += " AND left_at IS NULL"
        # ordinary members first: the simulator speaks as the first one by default
        return self.query(sql + " ORDER BY is_moderator, name", (platform, chat_id))

    def get_member(self, platform: str, chat_id: str, member_id: str) -> dict[str, Any] | None:
        return self.query_one(
            "SELECT * FROM members WHERE platform = ? AND chat_id = ? AND member_id = ?",
            (platform, chat_id, member_id),
        )


def _chat(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["tags"] = loads(row["tags"], [])
    return row
