"""Campaign keywords ("秒杀", "链接") as rules of the keyword engine, active only during the sale.

The sale period is expressed with the keyword engine's own `dates` and `active` windows, so a
member asking "链接呢" during the sale gets the campaign's link through the normal keyword
stage (priority, cooldowns, scope, decision records). A sale spanning several days becomes up to
three rules per keyword: first day from the start time, the whole days between, last day until
the end time. Rules are stored with source "campaign" and replaced whenever a campaign changes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.kernel.templates import escape
from schedules.config import CampaignConfig
from schedules.jobs import CAMPAIGN, Job
from schedules.templates import KEYWORD_REPLY_CONTEXT, campaign_values, render
from schedules.timeline import campaign_bounds

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("qunbot.schedules")

SOURCE = "campaign"
PRIORITY = 100


def _segments(start: datetime, end: datetime) -> list[tuple[str, str]]:
    """(dates, active) pairs covering [start, end) in local time, minute precision."""
    d0, d1 = start.date(), end.date()
    if end.hour == 0 and end.minute == 0 and d1 > d0:
        d1 -= timedelta(days=1)
        last_until = "24:00"
    else:
        last_until = f"{end:%H:%M}"
    if d0 == d1:
        return [(f"{d0}..{d0}", f"{start:%H:%M}-{last_until}")]
    out = [(f"{d0}..{d0}", f"{start:%H:%M}-24:00")]
    if (d1 - d0).days > 1:
        out.append((f"{d0 + timedelta(days=1)}..{d1 - timedelta(days=1)}", ""))
    out.append((f"{d1}..{d1}", f"00:00-{last_until}"))
    return [(dates, "" if active == "00:00-24:00" else active) for dates, active in out]


def campaign_rule_specs(job: Job, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The keyword rules of one campaign (enabled only while the campaign is active)."""
    spec = job.spec
    if not isinstance(spec, CampaignConfig) or not spec.keywords or not spec.keyword_reply:
        return []
    start, end = campaign_bounds(spec, tz)
    # the reply becomes a keyword rule's template: values are escaped so a brace in an item name
    # stays literal when the keyword engine renders it again
    values = {k: escape(v) for k, v in campaign_values(spec, start, "start", tz, start, end).items()}
    reply = render(spec.keyword_reply, values, KEYWORD_REPLY_CONTEXT)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    rules = []
    for i, keyword in enumerate(spec.keywords):
        for j, (dates, active) in enumerate(_segments(local_start, local_end)):
            rules.append({
                "id": f"campaign:{job.id}:{i}:{j}", "keyword": keyword, "match": "contains", "reply": reply,
                "groups": list(spec.groups), "tags": list(spec.tags), "priority": PRIORITY,
                "dates": dates, "active": active, "enabled": job.status == "active",
            })
    return rules


def sync_campaign_rules(store: Store, jobs: list[Job], tz: ZoneInfo) -> dict[str, int]:
    """Make the keyword store's campaign rules match the campaigns (blocking; store thread)."""
    try:
        from keywords.rules import RuleError, clean_rule
    except ImportError:  # the keywords capability is not installed
        return {"saved": 0, "removed": 0}
    desired: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.kind != CAMPAIGN or job.status == "archived":
            continue
        for raw in campaign_rule_specs(job, tz):
            try:
                desired[raw["id"]] = clean_rule(raw)
            except RuleError as exc:
                log.warning("campaign %s: keyword rule %s is invalid: %s", job.name, raw["keyword"], exc.errors)
    existing = {r["name"]: r for r in store.keywords.list_rules() if r["source"] == SOURCE}
    stale = [r["id"] for name, r in existing.items() if name not in desired]
    changed = [s for name, s in desired.items() if name not in existing or existing[name]["spec"] != s]
    with store.keywords.tx():
        for rowid in stale:
            store.keywords.delete_rule(rowid)
        if changed:
            store.keywords.save_rules(changed, source=SOURCE, actor="schedules")
    return {"saved": len(changed), "removed": len(stale)}
