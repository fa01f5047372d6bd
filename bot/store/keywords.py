"""Tables of the keywords capability: rules (with hit counters) and welcome messages.

A rule's fields are kept as one JSON `spec` (the same names as `[[keywords]]` in config.toml);
a few are copied into columns for listing and filtering. `source` says where a rule came from:
'config' rules are replaced from config.toml at every start and are read-only elsewhere;
'console', 'cli' and 'import' rules are never touched by the config sync.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, reads, utcnow

KEYWORDS_V1 = """
CREATE TABLE keyword_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL DEFAULT 'console',
    keyword TEXT NOT NULL,
    match TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]',
    spec TEXT NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX keyword_rules_keyword ON keyword_rules(keyword);
CREATE TABLE keyword_welcome (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL DEFAULT 'console',
    enabled INTEGER NOT NULL DEFAULT 1,
    spec TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    last_sent_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE keyword_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO keyword_state(id, version) VALUES (1, 0)
"""

# the version bumps on every change to rules or welcomes, so other processes (the CLI, a second
# console) can tell the running bot's engine to reload; hit counts do not bump it
_BUMP = "BEGIN UPDATE keyword_state SET version = version + 1 WHERE id = 1; END"
KEYWORDS_V1_TRIGGERS = [
    f"CREATE TRIGGER {table}_{name} AFTER {event} ON {table} {_BUMP}"
    for table in ("keyword_rules", "keyword_welcome")
    for name, event in (("ins", "INSERT"), ("del", "DELETE"), ("upd", "UPDATE OF name, spec, enabled"))
]


def _v1(conn: sqlite3.Connection) -> None:
    for statement in KEYWORDS_V1.split(";"):
        if statement.strip():
            conn.execute(statement)
    for statement in KEYWORDS_V1_TRIGGERS:
        conn.execute(statement)


RULE_COLUMNS = ("keyword", "match", "priority", "enabled", "tags")


def _rule(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["spec"] = loads(row["spec"], {})
    row["tags"] = loads(row["tags"], [])
    row["enabled"] = bool(row["enabled"])
    return row


class KeywordRepo(Repo):
    COMPONENT = "keywords"
    MIGRATIONS = (_v1,)

    def version(self) -> int:
        """Bumped by triggers on every change to rules or welcomes (not on hit counts)."""
        return self.scalar("SELECT version FROM keyword_state WHERE id = 1") or 0

    # -- rules ------------------------------------------------------------------------------

    def list_rules(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM keyword_rules"
        if enabled_only:
            sql += " WHERE enabled = 1"
        return [_rule(r) for r in self.query(sql + " ORDER BY id")]

    @reads
    def search_rules(
        self, *, text: str = "", match: str = "", tag: str = "", enabled: bool | None = None,
        source: str = "", order: str = "id", limit: int = 200, offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Filtered page of rules and the total count; `text` looks in id, keyword and replies."""
        where = ["1=1"]
        params: list[Any] = []
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(name LIKE ? ESCAPE '\\' OR keyword LIKE ? ESCAPE '\\' OR spec LIKE ? ESCAPE '\\')")
            params += [like, like, like]
        if match:
            where.append("match = ?")
            params.append(match)
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(keyword_rules.tags) WHERE value = ?)")
            params.append(tag)
        if enabled is not None:
            where.append("enabled = ?")
            params.append(int(enabled))
        if source:
            where.append("source = ?")
            params.append(source)
        orders = {
            "id": "id",
            "hits": "hits DESC, id",
            "priority": "priority DESC, id",
            "last_hit": "last_hit_at DESC, id",
        }
        clause = " WHERE " + " AND ".join(where)
        total = self.scalar("SELECT count(*) FROM keyword_rules" + clause, params)
        rows = self.query(
            f"SELECT * FROM keyword_rules{clause} ORDER BY {orders.get(order, 'id')} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_rule(r) for r in rows], total

    def get_rule(self, rowid: int) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM keyword_rules WHERE id = ?", (rowid,))
        return _rule(row) if row else None

    def get_rule_by_name(self, name: str) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM keyword_rules WHERE name = ?", (name,))
        return _rule(row) if row else None

    @reads
    def all_tags(self) -> list[str]:
        rows = self.query("SELECT DISTINCT value FROM keyword_rules, json_each(keyword_rules.tags) ORDER BY value")
        return [r["value"] for r in rows]

    def save_rules(self, specs: Iterable[dict[str, Any]], *, source: str, actor: str = "") -> list[int]:
        """Insert or update rules by `spec["id"]` (a missing id gets the next free "kwN"); one transaction."""
        now = iso(utcnow())
        ids: list[int] = []
        with self.tx() as conn:
            for spec in specs:
                spec = dict(spec)
                if not spec.get("id"):
                    spec["id"] = self._next_name(conn)
                values = (spec["keyword"], spec["match"], spec["priority"], int(spec["enabled"]), dumps(spec["tags"]))
                row = conn.execute("SELECT id FROM keyword_rules WHERE name = ?", (spec["id"],)).fetchone()
                if row:
                    conn.execute(
                        "UPDATE keyword_rules SET source = ?, keyword = ?, match = ?, priority = ?, enabled = ?,"
                        " tags = ?, spec = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                        (source, *values, dumps(spec), now, actor, row[0]),
                    )
                    ids.append(row[0])
                else:
                    cur = conn.execute(
                        "INSERT INTO keyword_rules(name, source, keyword, match, priority, enabled, tags, spec,"
                        " created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (spec["id"], source, *values, dumps(spec), now, now, actor),
                    )
                    assert cur.lastrowid is not None, "an INSERT sets lastrowid"
                    ids.append(cur.lastrowid)
        return ids

    def _next_name(self, conn) -> str:
        n = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM keyword_rules").fetchone()[0]
        while conn.execute("SELECT 1 FROM keyword_rules WHERE name = ?", (f"kw{n}",)).fetchone():
            n += 1
        return f"kw{n}"

    def replace_config_rules(self, specs: list[dict[str, Any]]) -> dict[str, int]:
        """Make the 'config' rules equal `specs` (by id), keeping hit counters of unchanged ids."""
        keep = {s["id"] for s in specs}
        with self.tx() as conn:
            clash = [
                r[0] for r in conn.execute("SELECT name FROM keyword_rules WHERE source != 'config'")
                if r[0] in keep
            ]
            if clash:
                raise ValueError(f"id {clash[0]!r} is already used by a rule made in the console or CLI")
            stale = [
                r[0] for r in conn.execute("SELECT name FROM keyword_rules WHERE source = 'config'") if r[0] not in keep
            ]
            conn.executemany("DELETE FROM keyword_rules WHERE name = ?", [(n,) for n in stale])
            self.save_rules(specs, source="config", actor="config.toml")
        return {"saved": len(specs), "removed": len(stale)}

    def rename_rule(self, rowid: int, name: str) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE keyword_rules SET name = ? WHERE id = ?", (name, rowid))

    def delete_rule(self, rowid: int) -> bool:
        with self.tx() as conn:
            return conn.execute("DELETE FROM keyword_rules WHERE id = ?", (rowid,)).rowcount == 1

    def set_enabled(self, rowid: int, enabled: bool, actor: str = "") -> bool:
        with self.tx() as conn:
            row = conn.execute("SELECT spec FROM keyword_rules WHERE id = ?", (rowid,)).fetchone()
            if not row:
                return False
            spec = loads(row[0], {})
            spec["enabled"] = enabled
            conn.execute(
                "UPDATE keyword_rules SET enabled = ?, spec = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                (int(enabled), dumps(spec), iso(utcnow()), actor, rowid),
            )
            return True

    def add_hits(self, hits: dict[int, tuple[int, str]]) -> None:
        """Add batched counts: rowid → (how many answers, ISO time of the last one)."""
        with self.tx() as conn:
            conn.executemany(
                "UPDATE keyword_rules SET hits = hits + ?,"
                " last_hit_at = CASE WHEN last_hit_at IS NULL OR last_hit_at < ? THEN ? ELSE last_hit_at END"
                " WHERE id = ?",
                [(n, last, last, rowid) for rowid, (n, last) in hits.items()],
            )

    @reads
    def stats(self) -> dict[str, Any]:
        row = self.query_one(
            "SELECT count(*) AS rules, sum(enabled) AS enabled, coalesce(sum(hits), 0) AS hits,"
            " sum(hits = 0) AS never_hit, max(last_hit_at) AS last_hit_at FROM keyword_rules"
        )
        by_match = self.query(
            "SELECT match, count(*) AS n, coalesce(sum(hits), 0) AS hits FROM keyword_rules GROUP BY match"
        )
        top = self.query(
            "SELECT id, name, keyword, match, hits, last_hit_at FROM keyword_rules"
            " WHERE hits > 0 ORDER BY hits DESC LIMIT 20"
        )
        return {**(row or {}), "by_match": by_match, "top": top}

    # -- welcome messages ---------------------------------------------------------------------

    @reads
    def list_welcome(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM keyword_welcome" + (" WHERE enabled = 1" if enabled_only else "")
        rows = self.query(sql + " ORDER BY id")
        for r in rows:
            r["spec"] = loads(r["spec"], {})
            r["enabled"] = bool(r["enabled"])
        return rows

    def get_welcome(self, rowid: int) -> dict[str, Any] | None:
        rows = [r for r in self.list_welcome() if r["id"] == rowid]
        return rows[0] if rows else None

    def save_welcome(self, spec: dict[str, Any], *, source: str) -> int:
        now = iso(utcnow())
        with self.tx() as conn:
            name = spec.get("id") or self._next_welcome_name(conn)
            spec = {**spec, "id": name}
            row = conn.execute("SELECT id FROM keyword_welcome WHERE name = ?", (name,)).fetchone()
            if row:
                conn.execute(
                    "UPDATE keyword_welcome SET source = ?, enabled = ?, spec = ?, updated_at = ? WHERE id = ?",
                    (source, int(spec.get("enabled", True)), dumps(spec), now, row[0]),
                )
                return row[0]
            cur = conn.execute(
                "INSERT INTO keyword_welcome(name, source, enabled, spec, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, source, int(spec.get("enabled", True)), dumps(spec), now, now),
            )
            assert cur.lastrowid is not None, "an INSERT sets lastrowid"
            return cur.lastrowid

    def _next_welcome_name(self, conn) -> str:
        n = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM keyword_welcome").fetchone()[0]
        while conn.execute("SELECT 1 FROM keyword_welcome WHERE name = ?", (f"welcome{n}",)).fetchone():
            n += 1
        return f"welcome{n}"

    def replace_config_welcome(self, specs: list[dict[str, Any]]) -> None:
        keep = {s["id"] for s in specs}
        with self.tx() as conn:
            stale = [
                r[0]
                for r in conn.execute("SELECT name FROM keyword_welcome WHERE source = 'config'")
                if r[0] not in keep
            ]
            conn.executemany("DELETE FROM keyword_welcome WHERE name = ?", [(n,) for n in stale])
            for spec in specs:
                self.save_welcome(spec, source="config")

    def delete_welcome(self, rowid: int) -> bool:
        with self.tx() as conn:
            return conn.execute("DELETE FROM keyword_welcome WHERE id = ?", (rowid,)).rowcount == 1

    def count_welcome_sent(self, rowid: int, when: str) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE keyword_welcome SET sent = sent + 1, last_sent_at = ? WHERE id = ?", (when, rowid))
