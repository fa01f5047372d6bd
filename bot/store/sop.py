"""Tables of 群SOP sequences: definitions, who is enrolled in which, and what each step did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, parse_iso, reads, utcnow

SOP_V1 = """
CREATE TABLE sop_sequences (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL DEFAULT 'console',
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    config_enabled INTEGER,
    since TEXT NOT NULL,
    baseline_done INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE sop_enrollments (
    id INTEGER PRIMARY KEY,
    seq_id TEXT NOT NULL REFERENCES sop_sequences(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    member_id TEXT NOT NULL DEFAULT '',
    member_name TEXT NOT NULL DEFAULT '',
    anchor_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    reason TEXT NOT NULL DEFAULT '',
    next_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (seq_id, platform, chat_id, member_id)
);
CREATE INDEX sop_enrollments_due ON sop_enrollments(status, next_at);
CREATE INDEX sop_enrollments_member ON sop_enrollments(member_id, platform);
CREATE TABLE sop_steps (
    enrollment_id INTEGER NOT NULL REFERENCES sop_enrollments(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    targets INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL,
    PRIMARY KEY (enrollment_id, step)
);
CREATE INDEX IF NOT EXISTS members_joined_at ON members(joined_at) WHERE joined_at IS NOT NULL
"""


# The last index lets each run find new members by their join time. It is partial: the rows
# the recorder's member sums create for speakers have no join time and never enter it, so
# recording pays nothing for it; only join events do.


class SopRepo(Repo):
    COMPONENT = "sop"
    MIGRATIONS = (SOP_V1,)

    # -- sequences -------------------------------------------------------------------

    @reads
    def list_sequences(self, statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM sop_sequences WHERE 1=1", list[Any]()
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        return [_sequence(r) for r in self.query(sql + " ORDER BY created_at, id", params)]

    def get_sequence(self, seq_id: str) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM sop_sequences WHERE id = ?", (seq_id,))
        return _sequence(row) if row else None

    def create_sequence(self, seq_id: str, spec: dict[str, Any], *, origin: str, status: str,
                        since: datetime, config_enabled: bool | None = None) -> None:
        now = iso(utcnow())
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO sop_sequences(id, origin, spec, status, config_enabled, since, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq_id, origin, dumps(spec), status, config_enabled, iso(since), now, now),
            )

    def update_sequence(self, seq_id: str, *, spec: dict[str, Any] | None = None, status: str | None = None,
                        config_enabled: bool | None = None, origin: str | None = None) -> None:
        """Change a definition (the version goes up when it changes) or a status."""
        new = None if spec is None else dumps(spec)
        with self.tx() as conn:
            conn.execute(
                "UPDATE sop_sequences"
                " SET version = version + (CASE WHEN ? IS NOT NULL AND ? != spec THEN 1 ELSE 0 END),"
                " spec = COALESCE(?, spec), status = COALESCE(?, status),"
                " config_enabled = COALESCE(?, config_enabled), origin = COALESCE(?, origin), updated_at = ?"
                " WHERE id = ?",
                (new, new, new, status, config_enabled, origin, iso(utcnow()), seq_id),
            )
            # a changed definition re-times the pending steps of everyone enrolled
            if new is not None:
                conn.execute("UPDATE sop_enrollments SET next_at = anchor_at WHERE seq_id = ? AND status = 'active'",
                             (seq_id,))

    def mark_baseline(self, seq_id: str) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE sop_sequences SET baseline_done = 1 WHERE id = ?", (seq_id,))

    # -- enrollment ------------------------------------------------------------------

    def joined_since(self, seq_id: str, since: datetime) -> list[dict[str, Any]]:
        """Members present now who joined at or after `since` and are not enrolled in the
        sequence yet (with their chat's name and tags)."""
        rows = self.query(
            "SELECT m.platform, m.chat_id, m.member_id, m.name, m.joined_at, c.name AS chat_name, c.tags"
            " FROM members m JOIN chats c ON c.platform = m.platform AND c.chat_id = m.chat_id"
            " WHERE m.joined_at >= ? AND m.left_at IS NULL AND c.kind = 'group' AND NOT EXISTS ("
            "  SELECT 1 FROM sop_enrollments e WHERE e.seq_id = ? AND e.platform = m.platform"
            "  AND e.chat_id = m.chat_id AND e.member_id = m.member_id) ORDER BY m.joined_at",
            (iso(since), seq_id),
        )
        for r in rows:
            r["tags"] = loads(r["tags"], [])
            r["joined_at"] = parse_iso(r["joined_at"])
        return rows

    def enrolled_keys(self, seq_id: str) -> set[tuple[str, str, str]]:
        return {(r["platform"], r["chat_id"], r["member_id"]) for r in self.query(
            "SELECT platform, chat_id, member_id FROM sop_enrollments WHERE seq_id = ?", (seq_id,))}

    def enroll(self, seq_id: str, rows: list[tuple[str, str, str, str, datetime]], status: str = "active") -> int:
        """(platform, chat_id, member_id or '', name, anchor) rows; existing keys are kept. Returns how many new."""
        now = iso(utcnow())
        with self.tx() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO sop_enrollments(seq_id, platform, chat_id, member_id, member_name, anchor_at,"
                " status, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(seq_id, p, c, m, n, iso(a), status, iso(a) if status == "active" else None, now)
                 for p, c, m, n, a in rows],
            )
            return conn.total_changes - before

    def due(self, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Active enrollments whose next step is due (or whose steps must be re-timed)."""
        rows = self.query(
            "SELECT * FROM sop_enrollments WHERE status = 'active' AND next_at <= ? ORDER BY next_at LIMIT ?",
            (iso(now), limit),
        )
        return [_enrollment(r) for r in rows]

    def steps_of(self, enrollment_ids: list[int]) -> dict[int, dict[int, dict[str, Any]]]:
        out: dict[int, dict[int, dict[str, Any]]] = {}
        for r in self.query("SELECT * FROM sop_steps WHERE enrollment_id IN (SELECT value FROM json_each(?))",
                            (dumps(enrollment_ids),)):
            out.setdefault(r["enrollment_id"], {})[r["step"]] = r
        return out

    def record_step(self, enrollment_id: int, step: int, due_at: datetime, status: str, *, reason: str = "",
                    targets: int = 0, text: str = "") -> bool:
        """Record one step's outcome; False when it was already recorded (nothing changes then)."""
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO sop_steps(enrollment_id, step, due_at, status, reason, targets, text,"
                " decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (enrollment_id, step, iso(due_at), status, reason, targets, text, iso(utcnow())),
            )
            return cur.rowcount == 1

    def set_next(self, enrollment_id: int, next_at: datetime | None) -> None:
        """The next step's time; None: every step is decided and the enrollment is done."""
        with self.tx() as conn:
            conn.execute(
                "UPDATE sop_enrollments SET next_at = ?, status = CASE WHEN ? IS NULL THEN 'done' ELSE status END"
                " WHERE id = ? AND status = 'active'",
                (iso(next_at), iso(next_at), enrollment_id),
            )

    def stop(self, enrollment_id: int, reason: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "UPDATE sop_enrollments SET status = 'stopped', reason = ?, next_at = NULL WHERE id = ?",
                (reason, enrollment_id),
            )

    # -- reading ---------------------------------------------------------------------

    @reads
    def member_enrollments(self, member_id: str, platform: str | None = None) -> list[dict[str, Any]]:
        """A member's own enrollments and those of the groups they are in (group_tagged)."""
        sql = (
            "SELECT * FROM sop_enrollments WHERE (member_id = ? {p}) OR (member_id = '' AND EXISTS ("
            " SELECT 1 FROM members m WHERE m.platform = sop_enrollments.platform"
            " AND m.chat_id = sop_enrollments.chat_id AND m.member_id = ? {mp})) ORDER BY anchor_at, id"
        )
        if platform:
            rows = self.query(sql.format(p="AND platform = ?", mp="AND m.platform = ?"),
                              (member_id, platform, member_id, platform))
        else:
            rows = self.query(sql.format(p="", mp=""), (member_id, member_id))
        enrollments = [_enrollment(r) for r in rows]
        steps = self.steps_of([e["id"] for e in enrollments]) if enrollments else {}
        for e in enrollments:
            e["steps"] = steps.get(e["id"], {})
        return enrollments

    @reads
    def find_members(self, ref: str) -> list[dict[str, Any]]:
        """Memberships matching a member id, "platform:member_id" or an exact nickname."""
        platform, sep, member = ref.partition(":")
        if sep:
            rows = self.query("SELECT * FROM members WHERE platform = ? AND member_id = ?", (platform, member))
            if rows:
                return rows
        return self.query("SELECT * FROM members WHERE member_id = ? OR name = ? ORDER BY platform, chat_id",
                          (ref, ref))

    @reads
    def totals(self) -> dict[str, dict[str, int]]:
        """Per sequence: enrolled (active / done / stopped) and steps submitted / skipped."""
        out: dict[str, dict[str, int]] = {}
        for r in self.query("SELECT seq_id, status, count(*) AS n FROM sop_enrollments GROUP BY seq_id, status"):
            out.setdefault(r["seq_id"], {})[r["status"]] = r["n"]
        for r in self.query(
            "SELECT e.seq_id, s.status, count(*) AS n FROM sop_steps s JOIN sop_enrollments e"
            " ON e.id = s.enrollment_id GROUP BY e.seq_id, s.status"
        ):
            out.setdefault(r["seq_id"], {})["steps_" + r["status"]] = r["n"]
        return out

    @reads
    def recent(self, seq_id: str, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM sop_enrollments WHERE seq_id = ? AND status != 'baseline'"
            " ORDER BY anchor_at DESC, id DESC LIMIT ?", (seq_id, limit))
        enrollments = [_enrollment(r) for r in rows]
        steps = self.steps_of([e["id"] for e in enrollments]) if enrollments else {}
        for e in enrollments:
            e["steps"] = steps.get(e["id"], {})
        return enrollments

    def deliveries(self, source: str, occurrence: str) -> list[dict[str, Any]]:
        """The ledger rows of one step for one member (or group)."""
        return self.query("SELECT chat_id, status, error FROM outbound WHERE source = ? AND occurrence = ?",
                          (source, occurrence))

    def blacklisted(self, platform: str, member_id: str) -> bool:
        """On the blacklist (the guard's table, when it exists), as "platform:id" or bare id."""
        if self.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blacklist'") is None:
            return False
        return self.scalar("SELECT 1 FROM blacklist WHERE ref IN (?, ?) LIMIT 1",
                           (member_id, f"{platform}:{member_id}")) is not None

    def member_left(self, platform: str, chat_id: str, member_id: str) -> bool:
        return self.scalar(
            "SELECT left_at IS NOT NULL FROM members WHERE platform = ? AND chat_id = ? AND member_id = ?",
            (platform, chat_id, member_id),
        ) == 1


def _sequence(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["spec"] = loads(row["spec"], {})
    row["since"] = parse_iso(row["since"])
    return row


def _enrollment(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["anchor_at"] = parse_iso(row["anchor_at"])
    row["next_at"] = parse_iso(row["next_at"])
    return row
