"""Changes to posts and campaigns from the console and the CLI, and what they read.

Every change first settles the occurrences due so far (`Scheduler.run_due`), then writes the
store under the scheduler's lock, then lets the scheduler re-time the job (`Scheduler.changed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from schedules.jobs import CAMPAIGN, POST, Job, parse_spec, to_raw
from schedules.planner import plan_one, preview_rows
from schedules.scheduler import Scheduler
from schedules.timeline import campaign_plan, occurrence_key
from schedules.wecom_contact_plan import CustomerGroupQuota

RetryFn = Callable[[str, str | None], Awaitable[int]]


class ScheduleError(ValueError):
    """A lifecycle change that is not allowed (zh-CN message for the manager)."""


class ScheduleService:
    """Create, edit, preview and change the status of stored jobs; the scheduler fires them."""

    def __init__(self, scheduler: Scheduler, *, retry_failed: RetryFn | None = None,
                 cancel_pending: RetryFn | None = None) -> None:
        self.scheduler = scheduler
        self.settings = scheduler.settings
        self.store = scheduler.store
        self.clock = scheduler.clock
        self.tz = scheduler.tz
        self.retry_failed_fn = retry_failed
        self.cancel_pending_fn = cancel_pending

    # -- reading ------------------------------------------------------------------------

    async def jobs(self, statuses: tuple[str, ...] | None = None, kind: str | None = None) -> list[Job]:
        return await self.scheduler.jobs(statuses, kind)

    async def job(self, job_id: int) -> Job:
        row = await self.store.run(self.store.schedules.get_job, job_id)
        if row is None:
            raise ScheduleError(f"任务 {job_id} 不存在")
        return Job.from_row(row)

    async def chats(self) -> list[dict[str, Any]]:
        return await self.scheduler.chats()

    def next_run(self, job_id: int) -> datetime | None:
        return self.scheduler.next_run(job_id)

    async def preview(self, days: float = 7, job_ids: set[int] | None = None, *,
                      include_drafts: bool = False) -> list[dict[str, Any]]:
        """Every occurrence in the next `days`, per target chat, rendered; nothing is sent."""
        now = self.clock.now()
        statuses = ("active", "draft") if include_drafts else ("active",)
        jobs = [j for j in await self.jobs(statuses) if job_ids is None or j.id in job_ids]
        quota = await self.store.run(CustomerGroupQuota.from_store, self.store, self.settings, now)
        return preview_rows(jobs, now, now + timedelta(days=days), self.tz, await self.chats(),
                            notes=self.settings.adapters.send_notes(), quota=quota)

    def timeline(self, job: Job) -> list[dict[str, Any]]:
        """A campaign's whole sequence (past and future), rendered, for the console."""
        now = self.clock.now()
        if job.kind != CAMPAIGN:
            return []
        return [
            {"time": o.time.astimezone(self.tz), "kind": o.kind, "key": occurrence_key(o.time),
             "past": o.time <= (job.last_considered or now), "text": plan_one(job, o, self.tz, []).text}
            for o in campaign_plan(job.spec, self.tz)  # type: ignore[arg-type]
        ]

    # -- changes from the console / CLI ----------------------------------------------------

    async def create(self, kind: str, raw: dict[str, Any], *, status: str | None = None) -> Job:
        """Validate and store a new post (active) or campaign (draft); raises ConfigError."""
        spec = parse_spec(kind, raw)
        status = status or ("draft" if kind == CAMPAIGN else "active")
        async with self.scheduler.lock:
            existing = await self.store.run(self.store.schedules.find_job, spec.name, kind)
            if existing is not None and existing["name"] == spec.name:
                raise ScheduleError(f"名称“{spec.name}”已被使用")
            job_id = await self.store.run(self.store.schedules.create_job, kind, spec.name, to_raw(spec),
                                          status, last_considered=self.clock.now())
        await self.scheduler.changed({job_id})
        return await self.job(job_id)

    async def update(self, job_id: int, raw: dict[str, Any]) -> Job:
        """Replace a definition. Occurrences already due keep their old text; none repeats."""
        job = await self.job(job_id)
        if job.origin == "config":
            raise ScheduleError("此任务来自 config.toml，请在配置文件中修改")
        spec = parse_spec(job.kind, raw)
        await self.scheduler.run_due(job_ids={job_id})
        async with self.scheduler.lock:
            other = await self.store.run(self.store.schedules.find_job, spec.name, job.kind)
            if other is not None and other["id"] != job_id and other["name"] == spec.name:
                raise ScheduleError(f"名称“{spec.name}”已被使用")
            status = "active" if job.status == "ended" and job.kind == CAMPAIGN else None
            await self.store.run(self.store.schedules.update_job, job_id, name=spec.name, spec=to_raw(spec),
                                 status=status)
        await self.scheduler.changed({job_id})
        return await self.job(job_id)

    _TRANSITIONS: ClassVar[dict[str, tuple[set[str], str]]] = {
        "activate": ({"draft"}, "active"),
        "pause": ({"active"}, "paused"),
        "resume": ({"paused"}, "active"),
        "cancel": ({"draft", "active", "paused"}, "cancelled"),
        "archive": ({"draft", "active", "paused", "cancelled", "ended"}, "archived"),
    }

    async def transition(self, job_id: int, action: str) -> Job:
        """activate / pause / resume / cancel / archive, with the occurrences due so far settled first."""
        allowed, target = self._TRANSITIONS[action]
        job = await self.job(job_id)
        if job.status not in allowed:
            raise ScheduleError(f"当前状态（{job.status}）不能执行此操作")
        await self.scheduler.run_due(job_ids={job_id})
        async with self.scheduler.lock:
            await self.store.run(self.store.schedules.update_job, job_id, status=target)
            if target == "active":
                # nothing from before activation (or from a pause already settled) is sent
                await self.store.run(self.store.schedules.advance, job_id, self.clock.now())
        if target == "cancelled" and self.cancel_pending_fn is not None:
            # posts already handed to the outbox but not yet sent are withdrawn too
            for source in self._sources(job):
                await self.cancel_pending_fn(source, None)
        await self.scheduler.changed({job_id})
        return await self.job(job_id)

    async def retry(self, job_id: int, occurrence: str | None = None) -> int:
        """Put the failed targets of a job (one occurrence or all) back into the outbox."""
        job = await self.job(job_id)
        if self.retry_failed_fn is None:
            raise ScheduleError("机器人未运行，无法重试")
        return sum([await self.retry_failed_fn(s, occurrence) for s in self._sources(job)])

    @staticmethod
    def _sources(job: Job) -> list[str]:
        if job.kind == POST:
            return [job.source()]
        return [job.source(k) for k in ("announce", "start", "remind", "last_call", "end")]
