"""The moderation lexicon: sensitive words, allowlists, spam samples and their change counter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.store.base import Repo, iso, reads, utcnow


class LexiconRepo(Repo):
    """What the moderation engine compiles; tables created by schema_moderation.py."""

    # -- words --------------------------------------------------------------------------

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
        sql = "SELECT * FROM moderation_words WHERE 1=1"
        params: list[Any] = []
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
