"""Tables of the schedules capability: job definitions and what happened to each occurrence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, parse_iso, reads, utcnow

MIGRATIONS_V1 = """
CREATE TABLE schedule_jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'console',
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    config_status TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    last_considered TEXT,
    rotation INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, name)
);
CREATE TABLE schedule_runs (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES schedule_jobs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    targets INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1,
    decided_at TEXT NOT NULL,
    UNIQUE (job_id, kind, scheduled_at)
);
CREATE INDEX schedule_runs_job ON schedule_runs(job_id, scheduled_at)
"""


class ScheduleRepo(Repo):
    COMPONENT = "schedules"
    MIGRATIONS = (MIGRATIONS_V1,)

    # -- jobs -----------------------------------------------------------------------

    @reads
    def list_jobs(self, kind: str | None = None, statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM schedule_jobs WHERE 1=1", []
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        return [_job(r) for r in self.query(sql + " ORDER BY kind, id", params)]

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM schedule_jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    def find_job(self, name_or_id: str, kind: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT * FROM schedule_jobs WHERE (name = ? OR CAST(id AS TEXT) = ?)"
        params: list[Any] = [name_or_id, name_or_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        row = self.query_one(sql + " ORDER BY CAST(id AS TEXT) = ? DESC LIMIT 1", [*params, name_or_id])
        return _job(row) if row else None

    def create_job(self, kind: str, name: str, spec: dict[str, Any], status: str, *,
                   origin: str = "console", last_considered: datetime | None = None,
                   config_status: str | None = None) -> int:
        now = iso(utcnow())
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT INTO schedule_jobs(kind, name, origin, spec, status, config_status,"
                " last_considered, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, name, origin, dumps(spec), status, config_status, iso(last_considered), now, now),
            )
            assert cur.lastrowid is not None, "an INSERT sets lastrowid"
            return int(cur.lastrowid)

    def update_job(self, job_id: int, *, name: str | None = None, spec: dict[str, Any] | None = None,
                   status: str | None = None, config_status: str | None = None) -> None:
        """Change a definition (the version goes up when the spec changes) or a status."""
        with self.tx() as conn:
            conn.execute(
                "UPDATE schedule_jobs SET name = COALESCE(?, name),"
                " version = version + (CASE WHEN ? IS NOT NULL AND ? != spec THEN 1 ELSE 0 END),"
                " spec = COALESCE(?, spec), status = COALESCE(?, status),"
                " config_status = COALESCE(?, config_status), updated_at = ? WHERE id = ?",
                (name, None if spec is None else 1, None if spec is None else dumps(spec),
                 None if spec is None else dumps(spec), status, config_status, iso(utcnow()), job_id),
            )

    def advance(self, job_id: int, to: datetime) -> None:
        """Occurrences up to `to` have been considered (fired, skipped or left behind)."""
        with self.tx() as conn:
            conn.execute(
                "UPDATE schedule_jobs SET last_considered = ? WHERE id = ?"
                " AND (last_considered IS NULL OR last_considered < ?)",
                (iso(to), job_id, iso(to)),
            )

    # -- occurrences ----------------------------------------------------------------

    def record_run(self, job_id: int, kind: str, scheduled_at: datetime, status: str, *,
                   reason: str = "", targets: int = 0, text: str = "", version: int = 1,
                   rotate: bool = False) -> bool:
        """Record one occurrence's outcome and move the job's marker past it, atomically.

        Returns False when the occurrence was already recorded (nothing changes then)."""
        when = iso(scheduled_at)
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO schedule_runs(job_id, kind, scheduled_at, status, reason, targets,"
                " text, version, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, kind, when, status, reason, targets, text, version, iso(utcnow())),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "UPDATE schedule_jobs SET rotation = rotation + ?,"
                " last_considered = CASE WHEN last_considered IS NULL OR last_considered < ?"
                "  THEN ? ELSE last_considered END WHERE id = ?",
                (1 if rotate else 0, when, when, job_id),
            )
            return True

    @reads
    def runs(self, job_id: int | None = None, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql = "SELECT * FROM schedule_runs WHERE 1=1"
        params: list[Any] = []
        if job_id is not None:
            sql += " AND job_id = ?"
            params.append(job_id)
        if status:
            sql += " AND status = ?"
            params.append(status)
        return self.query(sql + " ORDER BY scheduled_at DESC, id DESC LIMIT ?", [*params, limit])

    def submitted(self, source: str, occurrence: str) -> int:
        """How many ledger rows an occurrence already has (it was handed to the outbox)."""
        return int(self.scalar(
            "SELECT count(*) FROM outbound WHERE source = ? AND occurrence = ?", (source, occurrence)) or 0)

    @reads
    def delivery_progress(self, source_prefix: str, limit: int = 200) -> list[dict[str, Any]]:
        """sent / pending / failed / skipped per (source, occurrence) for sources starting with a prefix."""
        pattern = source_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self.query(
            "SELECT source, occurrence, count(*) AS total, sum(status = 'sent') AS sent,"
            " sum(status IN ('pending', 'sending')) AS pending,"
            " sum(status IN ('failed', 'uncertain')) AS failed, sum(status = 'skipped') AS skipped,"
            " min(created_at) AS created_at, max(sent_at) AS last_sent_at"
            " FROM outbound WHERE source LIKE ? ESCAPE '\\'"
            " GROUP BY source, occurrence ORDER BY occurrence DESC LIMIT ?",
            (pattern, limit),
        )

    def failed_targets(self, source: str, occurrence: str) -> list[dict[str, Any]]:
        return self.query(
            "SELECT id, platform, chat_id, status, error, attempts FROM outbound"
            " WHERE source = ? AND occurrence = ? AND status IN ('failed', 'uncertain') ORDER BY id",
            (source, occurrence),
        )


def _job(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["spec"] = loads(row["spec"], {})
    row["last_considered"] = parse_iso(row["last_considered"])
    return row
