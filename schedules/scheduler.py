"""The running scheduler: APScheduler timers rebuilt from the store, occurrences handed to the outbox.

Changes from the console and the CLI (create, edit, pause, preview…) go through service.py.

Each stored job has a `last_considered` marker. `run_due(now)` takes every occurrence in
(marker, now], decides (send / send late / skip, see misfire.py), hands it to the outbox with
source and occurrence as the ledger key, and records the outcome while moving the marker, in
one transaction. A crash between the hand-over and the record only means the next run hands
the same keys over again, which the ledger ignores: each (occurrence, target) is sent once.
APScheduler only decides *when* `run_due` runs: one date trigger per job at its next
occurrence, plus a periodic tick for pauses, edits and ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from schedules.jobs import CAMPAIGN, LIVE_STATUSES, POST, Job, sync_config
from schedules.keyword_rules import sync_campaign_rules
from schedules.misfire import decide
from schedules.planner import known_chats, plan_one
from schedules.sop_runner import SopRunner
from schedules.sop_service import sync_config as sync_sop_config
from schedules.timeline import (
    campaign_bounds,
    campaign_plan,
    next_occurrence,
    occurrences,
)
from schedules.wecom_contact_plan import CustomerGroupQuota

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("qunbot.schedules")

# occurrences looked at per job and run after a long downtime (the rest are left behind unrecorded)
MAX_CATCHUP = 500
# seconds between two SOP runs (or [schedule] tick when shorter): joins found, due steps sent
SOP_TICK = 5.0

class Scheduler:
    """Fires posts and campaign messages of the stored jobs through the outbox, exactly once."""

    def __init__(self, services: Services, *,
                 reload_keywords: Callable[[], Awaitable[object]] | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.clock = services.clock
        self.tz = services.settings.tz
        # the keyword engine's reload, after campaign keywords changed (None offline)
        self.reload_keywords_fn = reload_keywords
        # held while occurrences are handed over; the service takes it for its store writes too
        self.lock = asyncio.Lock()
        self._aps: Any = None
        self._keywords_dirty = False
        self.fired = 0
        # 群SOP sequences, run on the same tick (schedules/sop_runner.py)
        self.sop = SopRunner(services)

    # -- lifecycle of the scheduler ----------------------------------------------------

    async def start(self) -> None:
        if not self.settings.schedule.enabled:
            log.info("schedules disabled in config")
            return
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        await self.load()
        self._aps = AsyncIOScheduler(timezone=self.tz)
        self._aps.add_job(self._tick, IntervalTrigger(seconds=float(self.settings.schedule.tick)),
                          id="schedules-tick", coalesce=True, max_instances=1, misfire_grace_time=None)
        # 群SOP on its own, shorter tick: a new member's day-0 step goes within seconds of the join
        sop_tick = min(float(self.settings.schedule.tick), SOP_TICK)
        self._aps.add_job(self._sop_tick, IntervalTrigger(seconds=sop_tick), id="sop-tick", coalesce=True,
                          max_instances=1, misfire_grace_time=None)
        self._aps.start()
        await self.rearm()
        await self.sync_keywords()

    async def load(self) -> list[dict[str, Any]]:
        """Sync config.toml jobs into the store and settle what was missed while down."""
        await self.store.run(sync_config, self.store, self.settings, self.clock.now())
        await self.store.run(sync_sop_config, self.store, self.settings, self.clock.now())
        results = await self.run_due()
        await self.sop.run_due()
        return results

    async def stop(self) -> None:
        """Stop the timers and wait for a run in progress to finish its hand-over."""
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        async with self.lock:
            pass
        async with self.sop.lock:
            pass

    async def _sop_tick(self) -> None:
        try:
            await self.sop.run_due()
        except Exception:
            log.exception("SOP tick failed")

    async def _tick(self) -> None:
        try:
            await self.run_due()
            await self.rearm()
            if self._keywords_dirty:
                await self.sync_keywords()
        except Exception:
            log.exception("schedule tick failed")

    async def _fire(self, job_id: int) -> None:
        try:
            await self.run_due(job_ids={job_id})
            await self.rearm({job_id})
        except Exception:
            log.exception("schedule job %s failed", job_id)

    async def rearm(self, job_ids: set[int] | None = None) -> None:
        """(Re)create the APScheduler timer of each live job at its next occurrence."""
        if self._aps is None:
            return
        from apscheduler.triggers.date import DateTrigger

        now = self.clock.now()
        live = await self.jobs(LIVE_STATUSES)
        live_ids = {f"job-{job.id}" for job in live}
        for aps_job in self._aps.get_jobs():
            # timers of cancelled, ended or archived jobs
            if aps_job.id.startswith("job-") and aps_job.id not in live_ids:
                aps_job.remove()
        for job in live:
            if job_ids is not None and job.id not in job_ids:
                continue
            aps_id = f"job-{job.id}"
            nxt = next_occurrence(job.spec, max(job.last_considered or now, now), self.tz) \
                if job.status == "active" else None
            if nxt is None:
                if self._aps.get_job(aps_id):
                    self._aps.remove_job(aps_id)
                continue
            current = self._aps.get_job(aps_id)
            if current is not None and current.next_run_time == nxt.time:
                continue
            self._aps.add_job(self._fire, DateTrigger(run_date=nxt.time), args=[job.id], id=aps_id,
                              replace_existing=True, misfire_grace_time=None, coalesce=True)

    def next_run(self, job_id: int) -> datetime | None:
        aps_job = self._aps.get_job(f"job-{job_id}") if self._aps else None
        return aps_job.next_run_time if aps_job else None

    # -- reading ------------------------------------------------------------------------

    async def jobs(self, statuses: tuple[str, ...] | None = None, kind: str | None = None) -> list[Job]:
        rows = await self.store.run(self.store.schedules.list_jobs, kind, statuses)
        out = []
        for row in rows:
            try:
                out.append(Job.from_row(row))
            except ValueError as exc:
                log.warning("stored %s %r is invalid and is ignored: %s", row["kind"], row["name"], exc)
        return out

    async def chats(self) -> list[dict[str, Any]]:
        return known_chats(await self.store.run(self.store.chats.list_chats), self.settings)

    # -- firing ---------------------------------------------------------------------------

    async def run_due(self, now: datetime | None = None, job_ids: set[int] | None = None) -> list[dict[str, Any]]:
        """Handle every occurrence due up to `now`; safe to call any number of times."""
        async with self.lock:
            return await self._run_due(now or self.clock.now(), job_ids)

    async def _run_due(self, now: datetime, job_ids: set[int] | None) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        chats: list[dict[str, Any]] | None = None
        quota: CustomerGroupQuota | None = None
        for job in await self.jobs(LIVE_STATUSES):
            if job_ids is not None and job.id not in job_ids:
                continue
            after = job.last_considered or now
            if after < now:
                # long-missed occurrences (all skipped) are capped; the recent ones are all handled
                cut = max(after, now - timedelta(seconds=job.grace(self.settings)))
                due = occurrences(job.spec, after, cut, self.tz, MAX_CATCHUP) if cut > after else []
                due += occurrences(job.spec, cut, now, self.tz, MAX_CATCHUP)
                try:
                    for occ in due:
                        if chats is None:
                            chats = await self.chats()
                            # WeCom customer groups: owners and the corp's per-group limit, for this run
                            quota = await self.store.run(CustomerGroupQuota.from_store, self.store,
                                                         self.settings, now)
                        results.append(await self._handle(job, occ, now, chats, quota))
                except Exception:
                    # the marker stays before the failed occurrence: the next run tries it again
                    log.exception("%s %s: handing an occurrence to the outbox failed", job.kind, job.name)
                    continue
                await self.store.run(self.store.schedules.advance, job.id, now)
            if job.kind == CAMPAIGN and job.status == "active":
                # a campaign job's spec is a CampaignConfig (the kind says which; the type cannot)
                plan = campaign_plan(job.spec, self.tz)  # type: ignore[arg-type]
                end = campaign_bounds(job.spec, self.tz)[1]  # type: ignore[arg-type]
                if now >= end and (not plan or plan[-1].time <= now):
                    await self.store.run(self.store.schedules.update_job, job.id, status="ended")
                    self._keywords_dirty = True
                    log.info("campaign %s ended", job.name)
        return results

    async def _handle(self, job: Job, occ, now: datetime, chats: list[dict[str, Any]],
                      quota: CustomerGroupQuota | None = None) -> dict[str, Any]:
        repo = self.store.schedules
        verdict = decide(job, occ, now, job.grace(self.settings), self.tz)
        planned = plan_one(job, occ, self.tz, chats, job.rotation)
        if quota is not None and verdict.send:
            planned.admit(quota)
        result = {"job": job.name, "job_id": job.id, "kind": occ.kind, "time": occ.time,
                  "source": planned.source, "occurrence": planned.key, "status": "skipped",
                  "reason": verdict.reason, "targets": 0}
        if not verdict.send:
            # a crash after the hand-over but before the record: the ledger already has it
            if await self.store.run(repo.submitted, planned.source, planned.key):
                verdict = type(verdict)(True, "重启后确认：此前已提交发送")
            else:
                await self.store.run(repo.record_run, job.id, occ.kind, occ.time, "skipped",
                                     reason=verdict.reason, text=planned.text, version=job.version)
                log.info("skipped %s %s at %s: %s", job.kind, job.name, planned.key, verdict.reason)
                return result
        reason = verdict.reason
        if planned.missing:
            reason = (reason + "；" if reason else "") + "未找到群：" + "、".join(planned.missing)
        if planned.refused:
            reason = (reason + "；" if reason else "") + "未发送到客户群：" + "、".join(
                f"{t.label}（{why}）" for t, why in planned.refused)
        items = planned.items()
        if self.services.submit is not None:
            await self.services.submit(items)
        else:
            await self.store.run(self.store.outbound.insert, items)
        recorded = await self.store.run(
            repo.record_run, job.id, occ.kind, occ.time, "submitted", reason=reason,
            targets=len(items), text=planned.text, version=job.version, rotate=job.kind == POST,
        )
        if recorded and job.kind == POST:
            job.rotation += 1
        self.fired += 1
        log.info("submitted %s %s at %s to %d chats", job.kind, job.name, planned.key, len(items))
        result.update(status="submitted", reason=reason, targets=len(items))
        return result

    async def changed(self, job_ids: set[int]) -> None:
        """A job was created, edited or changed status: re-time it and resync campaign keywords."""
        await self.rearm(job_ids)
        await self.sync_keywords()

    async def sync_keywords(self) -> None:
        """Campaign keywords → keyword engine rules active during each sale; reload the engine."""
        self._keywords_dirty = False
        try:
            jobs = await self.jobs(kind=CAMPAIGN)
            result = await self.store.run(sync_campaign_rules, self.store, jobs, self.tz)
            if (result["saved"] or result["removed"]) and self.reload_keywords_fn is not None:
                await self.reload_keywords_fn()
        except Exception:
            log.exception("campaign keyword rules could not be synchronised")
