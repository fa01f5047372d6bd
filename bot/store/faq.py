"""Tables of the faq capability: entries, answers given, unanswered questions, dictionary."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, execute_rows, iso, loads, utcnow

_V1 = """
CREATE TABLE faq_entries (
    id TEXT PRIMARY KEY,
    answer TEXT NOT NULL,
    questions TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    groups TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    hits INTEGER NOT NULL DEFAULT 0,
    unhelpful INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE faq_answers (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL,
    message_uid TEXT,
    platform TEXT,
    chat_id TEXT,
    sender_id TEXT,
    question TEXT,
    score REAL,
    via TEXT NOT NULL DEFAULT 'answer',
    unhelpful INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL
);
CREATE INDEX faq_answers_entry ON faq_answers(entry_id, at);
CREATE TABLE faq_unanswered (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    platform TEXT,
    chat_id TEXT,
    sender_id TEXT,
    outcome TEXT NOT NULL,
    score REAL,
    best_entry TEXT,
    at TEXT NOT NULL,
    resolved_entry TEXT,
    resolved_at TEXT
);
CREATE INDEX faq_unanswered_open ON faq_unanswered(resolved_at, at);
CREATE TABLE faq_dictionary (
    word TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('word', 'stop', 'synonym')),
    target TEXT,
    freq INTEGER,
    created_at TEXT NOT NULL,
    PRIMARY KEY (word, kind)
);
CREATE TABLE faq_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO faq_meta(key, value) VALUES ('revision', 0)
"""

_ENTRY_COLUMNS = "id, answer, questions, tags, groups, enabled, hits, unhelpful, created_at, updated_at"


def decode_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A faq_entries row with its JSON columns decoded."""
    row = dict(row)
    for key in ("questions", "tags", "groups"):
        row[key] = loads(row[key], [])
    row["enabled"] = bool(row["enabled"])
    return row


class FaqRepo(Repo):
    COMPONENT = "faq"
    MIGRATIONS = (_V1,)

    # -- entries ----------------------------------------------------------------------

    def revision(self) -> int:
        """Bumped by every change, so another process (CLI import) is noticed by the bot."""
        return int(self.scalar("SELECT value FROM faq_meta WHERE key = 'revision'") or 0)

    def _bump(self) -> None:
        self.conn.execute("UPDATE faq_meta SET value = value + 1 WHERE key = 'revision'")

    def list_entries(self, decode: bool = True) -> list[dict[str, Any]]:
        """Every entry; `decode=False` leaves the JSON columns as text for `decode_entry` elsewhere
        (an index rebuild decodes on its own thread, not the writer's)."""
        rows = self.query(f"SELECT {_ENTRY_COLUMNS} FROM faq_entries ORDER BY id")
        return [decode_entry(r) for r in rows] if decode else [dict(r) for r in rows]

    def get_entry(self, entry_id: str) -> dict[str, Any] | None:
        row = self.query_one(f"SELECT {_ENTRY_COLUMNS} FROM faq_entries WHERE id = ?", (entry_id,))
        return decode_entry(row) if row else None

    def count_entries(self) -> int:
        return int(self.scalar("SELECT count(*) FROM faq_entries") or 0)

    def upsert_entry(self, entry: dict[str, Any], now: datetime | None = None) -> None:
        with self.tx():
            self._upsert(entry, iso(now or utcnow()))
            self._bump()

    def _upsert(self, e: dict[str, Any], at: str | None) -> None:
        self.conn.execute(
            "INSERT INTO faq_entries(id, answer, questions, tags, groups, enabled, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET answer = excluded.answer,"
            " questions = excluded.questions, tags = excluded.tags, groups = excluded.groups,"
            " enabled = excluded.enabled, updated_at = excluded.updated_at",
            (e["id"], e["answer"], dumps(e["questions"]), dumps(e.get("tags") or []),
             dumps(e.get("groups") or []), int(e.get("enabled", True)), at, at),
        )

    def import_entries(self, entries: list[dict[str, Any]], replace: bool,
                       now: datetime | None = None) -> dict[str, int]:
        """Merge (add or update by id) or replace the whole FAQ, in one transaction."""
        at = iso(now or utcnow())
        with self.tx():
            existing = {r[0] for r in self.conn.execute("SELECT id FROM faq_entries")}
            incoming = {e["id"] for e in entries}
            removed = 0
            if replace:
                gone = existing - incoming
                removed = len(gone)
                self.conn.executemany("DELETE FROM faq_entries WHERE id = ?", [(i,) for i in gone])
            for e in entries:
                self._upsert(e, at)
            self._bump()
        return {"added": len(incoming - existing), "updated": len(incoming & existing), "removed": removed}

    def delete_entry(self, entry_id: str) -> bool:
        with self.tx():
            cur = self.conn.execute("DELETE FROM faq_entries WHERE id = ?", (entry_id,))
            self._bump()
        return cur.rowcount > 0

    # -- answers and feedback ---------------------------------------------------------

    def record_answers(self, answers: list[dict[str, Any]]) -> None:
        """Answers given: dicts of entry_id, message_uid, platform, chat_id, sender_id,
        question, score, via and at; one statement for the rows, one for the entries' hits."""
        now = iso(utcnow())
        rows = [
            (a["entry_id"], a["message_uid"], a["platform"], a["chat_id"], a["sender_id"], a["question"],
             a["score"], a["via"], iso(a["at"]) if a.get("at") else now)
            for a in answers
        ]
        hits = Counter(a["entry_id"] for a in answers)
        with self.tx() as conn:
            execute_rows(
                conn, "INSERT INTO faq_answers(entry_id, message_uid, platform, chat_id, sender_id, question,"
                " score, via, at) VALUES ", rows,
            )
            execute_rows(
                conn, "UPDATE faq_entries SET hits = hits + v.column2 FROM (VALUES ", list(hits.items()),
                ") AS v WHERE faq_entries.id = v.column1",
            )

    def mark_unhelpful(self, answer_id: int | str) -> bool:
        """By answer row id, or by the uid of the message that was answered."""
        column = "message_uid" if isinstance(answer_id, str) else "id"
        with self.tx():
            row = self.conn.execute(
                f"SELECT entry_id, unhelpful, id FROM faq_answers WHERE {column} = ? ORDER BY id DESC LIMIT 1",
                (answer_id,)).fetchone()
            if row is None or row[1]:
                return False
            self.conn.execute("UPDATE faq_answers SET unhelpful = 1 WHERE id = ?", (row[2],))
            self.conn.execute("UPDATE faq_entries SET unhelpful = unhelpful + 1 WHERE id = ?", (row[0],))
        return True

    def recent_answers(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM faq_answers ORDER BY id DESC LIMIT ?", (limit,))

    def stats(self, since: datetime | None = None) -> dict[str, Any]:
        where, params = ("WHERE at >= ?", (iso(since),)) if since else ("", ())
        totals = self.query_one(
            f"SELECT count(*) AS answers, coalesce(sum(unhelpful), 0) AS unhelpful,"
            f" coalesce(sum(via = 'suggest'), 0) AS via_suggest FROM faq_answers {where}", params)
        unanswered = self.scalar(f"SELECT count(*) FROM faq_unanswered {where}", params)
        return {**(totals or {}), "unanswered": int(unanswered or 0)}

    # -- unanswered questions ---------------------------------------------------------

    def log_unanswered(self, text: str, *, platform: str, chat_id: str, sender_id: str,
                       outcome: str, score: float, best_entry: str | None,
                       at: datetime | None = None) -> None:
        self.log_unanswered_many([{
            "text": text, "platform": platform, "chat_id": chat_id, "sender_id": sender_id,
            "outcome": outcome, "score": score, "best_entry": best_entry, "at": at,
        }])

    def log_unanswered_many(self, questions: list[dict[str, Any]]) -> None:
        """Questions the FAQ did not answer: dicts of log_unanswered's arguments, one statement."""
        now = iso(utcnow())
        rows = [
            (q["text"], q["platform"], q["chat_id"], q["sender_id"], q["outcome"], q["score"],
             q["best_entry"], iso(q["at"]) if q.get("at") else now)
            for q in questions
        ]
        with self.tx() as conn:
            execute_rows(
                conn, "INSERT INTO faq_unanswered(text, platform, chat_id, sender_id, outcome, score,"
                " best_entry, at) VALUES ", rows,
            )

    def open_unanswered(self, limit: int = 2000) -> list[dict[str, Any]]:
        return self.query(
            "SELECT * FROM faq_unanswered WHERE resolved_at IS NULL ORDER BY id DESC LIMIT ?", (limit,))

    def resolve_unanswered(self, ids: list[int], entry_id: str | None,
                           at: datetime | None = None) -> int:
        """Close questions: turned into / added to `entry_id`, or dismissed (None → '')."""
        with self.tx():
            cur = self.conn.executemany(
                "UPDATE faq_unanswered SET resolved_entry = ?, resolved_at = ? WHERE id = ?",
                [(entry_id or "", iso(at or utcnow()), i) for i in ids],
            )
        return cur.rowcount

    def unanswered_texts(self, ids: list[int]) -> list[str]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [r["text"] for r in self.query(
            f"SELECT text FROM faq_unanswered WHERE id IN ({marks}) ORDER BY id", ids)]

    # -- dictionary -------------------------------------------------------------------

    def dictionary(self) -> list[dict[str, Any]]:
        return self.query("SELECT word, kind, target, freq, created_at FROM faq_dictionary ORDER BY kind, word")

    def add_dictionary(self, word: str, kind: str, target: str | None = None,
                       freq: int | None = None) -> None:
        with self.tx():
            self.conn.execute(
                "INSERT INTO faq_dictionary(word, kind, target, freq, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(word, kind) DO UPDATE SET target = excluded.target, freq = excluded.freq",
                (word, kind, target, freq, iso(utcnow())),
            )
            self._bump()

    def remove_dictionary(self, word: str, kind: str) -> bool:
        with self.tx():
            cur = self.conn.execute("DELETE FROM faq_dictionary WHERE word = ? AND kind = ?", (word, kind))
            self._bump()
        return cur.rowcount > 0
