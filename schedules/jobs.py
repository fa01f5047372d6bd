"""Job definitions as kept in the store: a post or campaign spec plus its state.

A spec is stored as the same table a manager writes in config.toml (`[[posts]]` /
`[[campaigns]]`), so the console, the CLI and the config file share one validator.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.kernel.durations import Duration, format_duration
from bot.settings_loader import ConfigError, load_section
from schedules.config import CampaignConfig, PostConfig

if TYPE_CHECKING:
    from bot.services import DomainSettings
    from bot.store import Store

log = logging.getLogger("qunbot.schedules")

POST, CAMPAIGN = "post", "campaign"
SPEC_TYPES: dict[str, type] = {POST: PostConfig, CAMPAIGN: CampaignConfig}
# campaign: draft → active ⇄ paused → cancelled | ended; posts: active ⇄ paused; both may be archived
LIVE_STATUSES = ("active", "paused")
STATUS_LABELS = {
    "draft": "草稿", "active": "进行中", "paused": "已暂停", "cancelled": "已取消",
    "ended": "已结束", "archived": "已归档",
}
# state columns, not part of the definition
_STATE_KEYS = ("status", "enabled")


@dataclass
class Job:
    """A stored post or campaign: its validated spec and where its schedule stands."""

    id: int
    kind: str
    name: str
    origin: str
    status: str
    spec: PostConfig | CampaignConfig
    version: int = 1
    last_considered: datetime | None = None
    rotation: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(
            id=row["id"], kind=row["kind"], name=row["name"], origin=row["origin"], status=row["status"],
            spec=parse_spec(row["kind"], {"name": row["name"], **row["spec"]}),
            version=row["version"], last_considered=row["last_considered"], rotation=row["rotation"],
        )

    def source(self, kind: str = "post") -> str:
        """The outbox source of this job's messages of one kind."""
        return f"post:{self.id}" if self.kind == POST else f"campaign:{self.id}:{kind}"

    @property
    def source_prefix(self) -> str:
        return f"post:{self.id}" if self.kind == POST else f"campaign:{self.id}:"

    def grace(self, settings: DomainSettings) -> float:
        if self.spec.misfire_grace is not None:
            return float(self.spec.misfire_grace)
        sched = settings.schedule
        return float(sched.misfire_grace if self.kind == CAMPAIGN else sched.post_misfire_grace)


def parse_spec(kind: str, raw: dict[str, Any], key: str = "") -> PostConfig | CampaignConfig:
    """Validate a post/campaign table; raises ConfigError naming the key."""
    if kind not in SPEC_TYPES:
        raise ValueError(f"unknown job kind {kind!r}")
    return load_section(SPEC_TYPES[kind], raw, key, None)


def _raw_value(value: Any) -> Any:
    if isinstance(value, Duration):
        return format_duration(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_raw_value(v) for v in value]
    return value


def to_raw(spec: PostConfig | CampaignConfig) -> dict[str, Any]:
    """The table form of a spec (what config.toml would say), without default values."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        if f.name in _STATE_KEYS:
            continue
        value = getattr(spec, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        if value == default and f.name != "name":
            continue
        out[f.name] = _raw_value(value)
    return out


def config_status(spec: PostConfig | CampaignConfig) -> str:
    if isinstance(spec, PostConfig):
        return "active" if spec.enabled else "paused"
    return spec.status


def config_specs(settings: DomainSettings) -> list[tuple[str, PostConfig | CampaignConfig]]:
    return [(POST, p) for p in settings.posts] + [(CAMPAIGN, c) for c in settings.campaigns]


def sync_config(store: Store, settings: DomainSettings, now: datetime) -> list[str]:
    """Make the stored config-origin jobs match config.toml; returns warnings.

    A definition always follows the file. A status set in the console (pause, cancel) is kept
    across restarts until the file's own `status`/`enabled` value changes.
    """
    repo = store.schedules
    warnings: list[str] = []
    seen: set[tuple[str, str]] = set()
    for kind, spec in config_specs(settings):
        seen.add((kind, spec.name))
        raw, wanted = to_raw(spec), config_status(spec)
        row = repo.find_job(spec.name, kind)
        if row is not None and row["name"] != spec.name:
            row = None  # matched by numeric id, not by name
        if row is None:
            repo.create_job(kind, spec.name, raw, wanted, origin="config", last_considered=now,
                            config_status=wanted)
            continue
        if row["origin"] != "config":
            warnings.append(f"{kind} {spec.name!r} in config.toml has the name of a console job; ignored")
            continue
        status = None
        revived = row["status"] == "archived" or (row["status"] == "ended" and raw != row["spec"])
        if row["config_status"] != wanted or revived:
            status = wanted
        if raw != row["spec"] or status:
            repo.update_job(row["id"], spec=raw, status=status, config_status=wanted)
        if status == "active" and row["status"] != "active":
            repo.advance(row["id"], now)
    for row in repo.list_jobs():
        if row["origin"] == "config" and (row["kind"], row["name"]) not in seen and row["status"] != "archived":
            repo.update_job(row["id"], status="archived")
    for w in warnings:
        log.warning(w)
    return warnings


def effective_jobs(store: Store, settings: DomainSettings, now: datetime) -> list[Job]:
    """Stored jobs with config.toml applied in memory, for read-only tools (preview)."""
    jobs: dict[tuple[str, str], Job] = {}
    for row in store.schedules.list_jobs():
        try:
            jobs[(row["kind"], row["name"])] = Job.from_row(row)
        except (ConfigError, ValueError) as exc:
            log.warning("stored %s %r is invalid: %s", row["kind"], row["name"], exc)
    for kind, spec in config_specs(settings):
        job = jobs.get((kind, spec.name))
        if job is None:
            jobs[(kind, spec.name)] = Job(id=0, kind=kind, name=spec.name, origin="config",
                                          status=config_status(spec), spec=spec, last_considered=now)
        elif job.origin == "config":
            job.spec = spec
    return list(jobs.values())
