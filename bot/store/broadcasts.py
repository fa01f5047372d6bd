"""Tables of broadcasts (群发): what was composed, for whom, and the requests the running bot applies.

Per-target delivery status is not kept here: it is the delivery ledger's (`outbound`, source
"broadcast:<id>"), so a restart never sends a (broadcast, chat) twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, reads, utcnow
from bot.store.wecom_contact import CUSTOMER_GROUP, GROUPMSG_TASK

MIGRATIONS_V1 = """
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'text',
    text TEXT NOT NULL,
    media TEXT NOT NULL DEFAULT '{}',
    spec TEXT NOT NULL DEFAULT '{}',
    send_at TEXT,
    created_by TEXT NOT NULL,
    approved_by TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    retry_requested INTEGER NOT NULL DEFAULT 0,
    submitted_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX broadcasts_status ON broadcasts(status);
CREATE TABLE broadcast_targets (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    chat_kind TEXT NOT NULL DEFAULT 'group',
    name TEXT NOT NULL DEFAULT '',
    parts TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    eta TEXT,
    PRIMARY KEY (broadcast_id, platform, chat_id)
)
"""

# the ledger source of a broadcast's deliveries
SOURCE_PREFIX = "broadcast:"


def source_of(broadcast_id: int) -> str:
    return f"{SOURCE_PREFIX}{broadcast_id}"


class BroadcastRepo(Repo):
    COMPONENT = "broadcasts"
    MIGRATIONS = (MIGRATIONS_V1,)

    def create(self, row: dict[str, Any], targets: list[dict[str, Any]]) -> int:
        """A broadcast and its frozen targets (each with its payload parts), in one transaction."""
        now = iso(utcnow())
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT INTO broadcasts(status, kind, text, media, spec, send_at, created_by, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row["status"], row["kind"], row["text"], dumps(row.get("media") or {}), dumps(row.get("spec") or {}),
                 iso(row.get("send_at")), row["created_by"], now, now),
            )
            bid = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO broadcast_targets(broadcast_id, platform, chat_id, chat_kind, name, parts, note, eta)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(bid, t["platform"], t["chat_id"], t.get("chat_kind", "group"), t.get("name", ""),
                  dumps(t["parts"]), t.get("note", ""), iso(t.get("eta"))) for t in targets],
            )
        return bid

    @reads
    def get(self, broadcast_id: int) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return _broadcast(row) if row else None

    @reads
    def all(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT b.*, (SELECT count(*) FROM broadcast_targets t WHERE t.broadcast_id = b.id) AS targets"
            " FROM broadcasts b ORDER BY b.id DESC LIMIT ?", (limit,),
        )
        return [_broadcast(r) for r in rows]

    @reads
    def targets(self, broadcast_id: int) -> list[dict[str, Any]]:
        """Each target with its ledger rows' statuses (one row per part; none before submission)."""
        rows = self.query(
            "SELECT * FROM broadcast_targets WHERE broadcast_id = ? ORDER BY platform, name, chat_id",
            (broadcast_id,),
        )
        ledger: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in self.query(
            "SELECT platform, chat_id, chat_kind, payload, occurrence, status, error, sent_at FROM outbound"
            " WHERE source = ? ORDER BY occurrence", (source_of(broadcast_id),),
        ):
            payload = loads(r.pop("payload"), {})
            # a WeCom 企业群发 task (one row per owner) is each of its customer groups' delivery
            chats = payload.get("chat_id_list") if r.pop("chat_kind") == GROUPMSG_TASK else None
            for chat in chats or [r["chat_id"]]:
                ledger.setdefault((r["platform"], chat), []).append(r)
        for r in rows:
            r["parts"] = loads(r["parts"], [])
            r["deliveries"] = ledger.get((r["platform"], r["chat_id"]), [])
        return rows

    def refuse(self, broadcast_id: int, platform: str, chat_id: str, reason: str) -> None:
        """A target not sent after all (a customer group beyond the corp's limit when sent): no
        parts left, the reason as its note."""
        with self.tx() as conn:
            conn.execute("UPDATE broadcast_targets SET parts = '[]', note = ? WHERE broadcast_id = ? AND platform = ?"
                         " AND chat_id = ?", (reason, broadcast_id, platform, chat_id))

    def set_status(self, broadcast_id: int, status: str, **fields: Any) -> None:
        sets, params = ["status = ?", "updated_at = ?"], [status, iso(utcnow())]
        for key in ("approved_by", "submitted_at"):
            if key in fields:
                sets.append(f"{key} = ?")
                value = fields[key]
                params.append(iso(value) if isinstance(value, datetime) else value)
        with self.tx() as conn:
            conn.execute(f"UPDATE broadcasts SET {', '.join(sets)} WHERE id = ?", (*params, broadcast_id))

    def request(self, broadcast_id: int, what: str) -> None:
        """Ask the running bot to cancel the rest / retry the failed (applied by the runner)."""
        column = {"cancel": "cancel_requested", "retry": "retry_requested"}[what]
        with self.tx() as conn:
            conn.execute(f"UPDATE broadcasts SET {column} = 1, updated_at = ? WHERE id = ?",
                         (iso(utcnow()), broadcast_id))

    def clear_request(self, broadcast_id: int, what: str) -> None:
        column = {"cancel": "cancel_requested", "retry": "retry_requested"}[what]
        with self.tx() as conn:
            conn.execute(f"UPDATE broadcasts SET {column} = 0 WHERE id = ?", (broadcast_id,))

    @reads
    def work(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        """What the runner must do now: due broadcasts, cancel and retry requests, sends to close."""
        due = self.query(
            "SELECT * FROM broadcasts WHERE status = 'scheduled' AND (send_at IS NULL OR send_at <= ?)"
            " AND cancel_requested = 0 ORDER BY id", (iso(now),),
        )
        requests = self.query("SELECT * FROM broadcasts WHERE cancel_requested = 1 OR retry_requested = 1")
        sending = self.query(
            "SELECT b.id FROM broadcasts b WHERE b.status = 'sending' AND NOT EXISTS (SELECT 1 FROM outbound o"
            " WHERE o.source = 'broadcast:' || b.id AND o.status IN ('pending', 'sending'))"
        )
        return {"due": [_broadcast(r) for r in due], "requests": [_broadcast(r) for r in requests],
                "finished": sending}

    @reads
    def waiting_customer_groups(self, since: datetime) -> dict[str, int]:
        """chat_id → broadcasts to that WeCom customer group created or approved but not yet handed
        to the outbox, sent from `since` on: they count against the corp's 企业群发 limit in previews."""
        rows = self.query(
            "SELECT t.chat_id, count(*) AS n FROM broadcast_targets t JOIN broadcasts b ON b.id = t.broadcast_id"
            " WHERE b.status IN ('pending_approval', 'scheduled') AND t.chat_kind = ? AND t.parts != '[]'"
            " AND COALESCE(b.send_at, b.created_at) >= ? GROUP BY t.chat_id", (CUSTOMER_GROUP, iso(since)),
        )
        return {r["chat_id"]: int(r["n"]) for r in rows}

    @reads
    def counts(self, broadcast_id: int) -> dict[str, int]:
        rows = self.query("SELECT status, count(*) AS n FROM outbound WHERE source = ? GROUP BY status",
                          (source_of(broadcast_id),))
        return {r["status"]: r["n"] for r in rows}


def _broadcast(row: dict[str, Any]) -> dict[str, Any]:
    row["media"] = loads(row.get("media"), {})
    row["spec"] = loads(row.get("spec"), {})
    return row
