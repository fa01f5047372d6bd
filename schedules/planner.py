"""From a job and an occurrence to what is sent where: targets, rendered text, ledger keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.kernel.priorities import BROADCAST_PRIORITY, BULK_KEY
from bot.kernel.templates import clean_value, render, time_values
from bot.store.outbound import OutboundItem
from schedules.config import CampaignConfig
from schedules.jobs import Job
from schedules.templates import CAMPAIGN_CONTEXT, campaign_values
from schedules.timeline import SALE_KINDS, Occurrence, campaign_bounds, occurrence_key, occurrences
from schedules.wecom_contact_plan import OWNER_CONFIRMS, CustomerGroupQuota, is_customer_group, owner_items

if TYPE_CHECKING:
    from bot.services import DomainSettings

# recurring posts go to groups with no particular member
POST_CONTEXT = "group"
TEMPLATE_KEYS = {
    "announce": "announce_text", "start": "start_text", "remind": "remind_text",
    "last_call": "last_call_text", "end": "end_text",
}


@dataclass(frozen=True)
class Target:
    platform: str
    chat_id: str
    kind: str = "group"
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.chat_id


@dataclass
class Planned:
    """One occurrence of one job, ready to hand to the outbox."""

    job: Job
    occ: Occurrence
    template: str
    context: str
    values: dict[str, str]
    targets: list[Target]
    missing: list[str] = field(default_factory=list)
    not_after: datetime | None = None
    # WeCom customer groups refused at planning time (beyond the corp's 企业群发 limit…), with why
    refused: list[tuple[Target, str]] = field(default_factory=list)
    # owners of customer groups and their use of the limit; customer groups need it to be sent
    quota: CustomerGroupQuota | None = None

    @property
    def source(self) -> str:
        return self.job.source(self.occ.kind)

    @property
    def key(self) -> str:
        return occurrence_key(self.occ.time)

    def text_for(self, target: Target | None) -> str:
        """The text as that chat receives it: `{group}` is its name (the defect was a literal `{group}`)."""
        group = clean_value(target.label) if target is not None else ""
        return render(self.template, self.context, {**self.values, "group": group})

    @property
    def text(self) -> str:
        """The text for the first target: what run records and previews without a chat show."""
        return self.text_for(self.targets[0] if self.targets else None)

    def admit(self, quota: CustomerGroupQuota) -> None:
        """Apply the corp's per-group 企业群发 limit: groups beyond it move to `refused`."""
        self.quota = quota
        self.targets, refused = quota.admit(self.targets, self.occ.time)
        self.refused.extend(refused)

    def items(self) -> list[OutboundItem]:
        """One row per chat; customer groups one row per owner (a 企业群发 task)."""
        plain = [t for t in self.targets if not is_customer_group(t)]
        groups = [t for t in self.targets if is_customer_group(t)]
        return [
            OutboundItem(
                source=self.source, occurrence=self.key, platform=t.platform, chat_id=t.chat_id,
                chat_kind=t.kind, payload={"text": self.text_for(t), "kind": "text", BULK_KEY: True},
                priority=BROADCAST_PRIORITY, not_after=self.not_after,
            )
            for t in plain
        ] + (owner_items(groups, self.quota, source=self.source, occurrence=self.key, text=self.text,
                         not_after=self.not_after) if groups and self.quota else [])


def known_chats(chats: Iterable[dict[str, Any]], settings: DomainSettings | None = None) -> list[dict[str, Any]]:
    """Chats of the store plus groups declared in config.toml that the store has not seen yet."""
    out = [dict(c) for c in chats]
    seen = {(c["platform"], c["chat_id"]) for c in out}
    for g in settings.groups if settings else ():
        if (g.platform, g.id) not in seen:
            out.append({"platform": g.platform, "chat_id": g.id, "kind": "group", "name": g.name,
                        "tags": list(g.tags)})
    return out


def resolve_targets(groups: list[str], tags: list[str], chats: list[dict[str, Any]]) -> tuple[list[Target], list[str]]:
    """Groups by chat id, name or "platform:chat_id", plus every chat carrying one of the tags."""
    found: dict[tuple[str, str], Target] = {}
    missing: list[str] = []

    def add(c: dict[str, Any]) -> None:
        key = (c["platform"], c["chat_id"])
        if key not in found:
            found[key] = Target(c["platform"], c["chat_id"], c.get("kind") or "group", c.get("name") or "")

    by_id: dict[str, list[dict[str, Any]]] = {}
    for c in chats:
        by_id.setdefault(c["chat_id"], []).append(c)
        by_id.setdefault(f"{c['platform']}:{c['chat_id']}", []).append(c)
        if c.get("name"):
            by_id.setdefault(c["name"], []).append(c)
    for g in groups:
        hits = by_id.get(g)
        if not hits:
            missing.append(g)
        for c in hits or ():
            add(c)
    wanted = set(tags)
    if wanted:
        for c in chats:
            if wanted.intersection(c.get("tags") or ()):
                add(c)
    return list(found.values()), missing


def template_of(job: Job, occ: Occurrence, tz: ZoneInfo, rotation: int = 0) -> tuple[str, str, dict[str, str]]:
    """(template, context, values without `{group}`) of one occurrence; the group is filled per target."""
    spec = job.spec
    values = time_values(occ.time.astimezone(tz))
    if isinstance(spec, CampaignConfig):
        start, end = campaign_bounds(spec, tz)
        template = getattr(spec, TEMPLATE_KEYS[occ.kind])
        return template, CAMPAIGN_CONTEXT, {**values, **campaign_values(spec, occ.time, occ.kind, tz, start, end)}
    text = spec.texts[rotation % len(spec.texts)] if spec.texts else spec.text
    return text, POST_CONTEXT, values


def render_text(job: Job, occ: Occurrence, tz: ZoneInfo, rotation: int = 0, group: str = "") -> str:
    template, context, values = template_of(job, occ, tz, rotation)
    return render(template, context, {**values, "group": group})


def plan_one(job: Job, occ: Occurrence, tz: ZoneInfo, chats: list[dict[str, Any]], rotation: int = 0) -> Planned:
    spec = job.spec
    targets, missing = resolve_targets(spec.groups, spec.tags, chats)
    not_after = None
    if isinstance(spec, CampaignConfig) and occ.kind in SALE_KINDS:
        not_after = campaign_bounds(spec, tz)[1]
    template, context, values = template_of(job, occ, tz, rotation)
    return Planned(job, occ, template, context, values, targets, missing, not_after)


def plan(job: Job, after: datetime, until: datetime, tz: ZoneInfo, chats: list[dict[str, Any]],
         limit: int = 10_000) -> list[Planned]:
    """Every occurrence of a job in (after, until], with rotation continuing from the job's counter."""
    return [plan_one(job, occ, tz, chats, job.rotation + i)
            for i, occ in enumerate(occurrences(job.spec, after, until, tz, limit))]


def preview_rows(jobs: Iterable[Job], after: datetime, until: datetime, tz: ZoneInfo,
                 chats: list[dict[str, Any]], limit: int = 10_000,
                 notes: Mapping[str, str] | None = None,
                 quota: CustomerGroupQuota | None = None) -> list[dict[str, Any]]:
    """One row per (occurrence, target chat), sorted by time: what `schedule preview` prints.
    `notes` (per platform, from the adapters' settings) says what a target's platform limits.
    With `quota`, WeCom customer groups beyond the corp's limit are rows with `refused`."""
    notes = notes or {}
    rows: list[dict[str, Any]] = []
    planned = [p for job in jobs for p in plan(job, after, until, tz, chats, limit)]
    if quota is not None:
        # the limit is counted in time order across every job
        planned.sort(key=lambda p: p.occ.time)
        for p in planned:
            p.admit(quota)
    for p in planned:
        job = p.job
        base = {
            "time": p.occ.time.astimezone(tz).isoformat(), "job": job.name, "job_kind": job.kind,
            "kind": p.occ.kind, "source": p.source if job.id else None, "occurrence": p.key,
        }
        if not p.targets and not p.refused:
            rows.append({**base, "chat": None, "chat_name": "", "platform": None, "text": p.text,
                         "missing": p.missing})
        for t in p.targets:
            row = {**base, "chat": t.chat_id, "chat_name": t.name, "platform": t.platform,
                   "text": p.text_for(t)}
            if is_customer_group(t):
                row["note"] = OWNER_CONFIRMS
            elif t.platform in notes:
                row["note"] = notes[t.platform]
            rows.append(row)
        for t, why in p.refused:
            rows.append({**base, "chat": t.chat_id, "chat_name": t.name, "platform": t.platform,
                         "text": p.text_for(t), "refused": why})
    rows.sort(key=lambda r: (r["time"], r["job"], r["chat"] or ""))
    return rows
