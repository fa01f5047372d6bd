"""Console pages: campaigns and recurring posts, their timelines, delivery progress and retries."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.settings_loader import ConfigError
from bot.store.base import parse_iso
from bot.targets import unknown_targets
from bot.web.auth import audit, flash, require_role
from bot.web.keys import BOT
from schedules.forms import (
    CAMPAIGN_LABELS,
    POST_LABELS,
    FormError,
    campaign_from_form,
    config_error_field,
    form_values,
    post_from_form,
)
from schedules.jobs import CAMPAIGN, POST, STATUS_LABELS, Job
from schedules.planner import plan, resolve_targets
from schedules.service import ScheduleError, ScheduleService
from schedules.templates import PLACEHOLDERS
from schedules.timeline import KIND_LABELS, next_occurrence
from schedules.views_sop import NAV as SOP_NAV
from schedules.views_sop import routes as sop_routes

log = logging.getLogger("qunbot.schedules")
job_routes = web.RouteTableDef()

# (label shown in the navigation, path, minimum role)
NAV: list[tuple[str, str, str]] = [("活动与定时消息", "/schedules", "manager"), *SOP_NAV]

ACTION_LABELS = {"activate": "启用", "pause": "暂停", "resume": "恢复", "cancel": "取消活动", "archive": "归档"}
PREVIEW_PAGE = 100  # grouped occurrences per page of the send preview
COMMON = {"status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS, "action_labels": ACTION_LABELS}


def _scheduler(request: web.Request) -> ScheduleService:
    return request.app[BOT].schedules


def _job_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def _load(request: web.Request) -> Job:
    try:
        return await _scheduler(request).job(_job_id(request))
    except ScheduleError:
        raise web.HTTPNotFound(text="任务不存在") from None
    except ConfigError as exc:
        # saved before a check existed (e.g. a javascript: link): never shown, never sent
        log.warning("stored job %s is invalid: %s", request.match_info["id"], exc)
        raise web.HTTPConflict(text=f"该任务保存的内容无效，已停止执行：{exc.reason}") from None


def _totals(progress: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(p[k] or 0 for p in progress) for k in ("total", "sent", "pending", "failed", "skipped")}


@job_routes.get("/schedules")
@require_role("manager")
@aiohttp_jinja2.template("schedules/index.html")
async def index(request: web.Request) -> dict[str, Any]:
    sched = _scheduler(request)
    store = sched.store
    now = sched.clock.now()
    show_archived = request.query.get("archived") == "1"
    rows: list[dict[str, Any]] = []
    for job in await sched.jobs():
        if job.status == "archived" and not show_archived:
            continue
        nxt = next_occurrence(job.spec, max(job.last_considered or now, now), sched.tz) \
            if job.status == "active" else None
        progress = await store.run(store.schedules.delivery_progress, job.source_prefix)
        if job.kind == POST:
            progress = [p for p in progress if p["source"] == job.source_prefix]
        rows.append({"job": job, "next": nxt, "totals": _totals(progress)})
    return {**COMMON, "campaigns": [r for r in rows if r["job"].kind == CAMPAIGN],
            "posts": [r for r in rows if r["job"].kind == POST], "show_archived": show_archived}


@job_routes.get("/schedules/preview")
@require_role("manager")
@aiohttp_jinja2.template("schedules/preview.html")
async def preview(request: web.Request) -> dict[str, Any]:
    sched = _scheduler(request)
    try:
        days = min(60.0, max(0.1, float(request.query.get("days", sched.settings.schedule.preview_days))))
    except ValueError:
        days = float(sched.settings.schedule.preview_days)
    groups: dict[tuple, dict[str, Any]] = {}
    for row in await sched.preview(days):
        key = (row["time"], row["job"], row["kind"], row["text"])
        entry = groups.setdefault(key, {**row, "chats": [], "notes": [], "refused": []})
        if row["chat"] and row.get("refused"):
            # WeCom customer groups beyond the corp's 企业群发 limit: listed with why, never sent
            entry["refused"].append(f"{row['chat_name'] or row['chat']}（{row['refused']}）")
        elif row["chat"]:
            entry["chats"].append(row["chat_name"] or row["chat"])
        if row.get("note") and row["note"] not in entry["notes"]:
            entry["notes"].append(row["note"])
    # one page of the grouped occurrences: an every-minute post is 10,000 rows a week
    occurrences = list(groups.values())
    pages = max(1, -(-len(occurrences) // PREVIEW_PAGE))
    page = min(pages, max(1, int(q_page))) if (q_page := request.query.get("page", "1")).isdigit() else 1
    start = (page - 1) * PREVIEW_PAGE
    return {**COMMON, "days": days, "occurrences": occurrences[start:start + PREVIEW_PAGE],
            "total": len(occurrences), "page": page, "pages": pages, "page_size": PREVIEW_PAGE}


@job_routes.get(r"/schedules/{id:\d+}")
@require_role("manager")
@aiohttp_jinja2.template("schedules/job.html")
async def job_page(request: web.Request) -> dict[str, Any]:
    sched = _scheduler(request)
    store = sched.store
    job = await _load(request)
    now = sched.clock.now()
    chats = await sched.chats()
    targets, missing = resolve_targets(job.spec.groups, job.spec.tags, chats)
    progress = await store.run(store.schedules.delivery_progress, job.source_prefix)
    if job.kind == POST:
        progress = [p for p in progress if p["source"] == job.source_prefix]
    by_key = {(p["source"], p["occurrence"]): p for p in progress}
    runs = await store.run(store.schedules.runs, job.id, limit=300)
    run_by_time = {(r["kind"], parse_iso(r["scheduled_at"])): r for r in runs}
    if job.kind == CAMPAIGN:
        timeline = sched.timeline(job)
        for entry in timeline:
            entry["run"] = run_by_time.get((entry["kind"], entry["time"]))
            entry["progress"] = by_key.get((job.source(entry["kind"]), entry["key"]))
    else:
        timeline = [
            {"time": p.occ.time.astimezone(sched.tz), "kind": "post", "key": p.key, "past": False,
             "text": p.text, "run": None, "progress": None}
            for p in plan(job, now, now + timedelta(days=7), sched.tz, chats, limit=30)
        ]
    failed = [p for p in progress if p["failed"]]
    return {
        **COMMON, "job": job, "targets": targets, "missing": missing, "timeline": timeline,
        "progress": progress, "failed": failed, "totals": _totals(progress),
        "skipped": [r for r in runs if r["status"] == "skipped"][:50],
        "actions": _actions(job), "next_run": sched.next_run(job.id),
    }


def _actions(job: Job) -> list[str]:
    by_status = {
        "draft": ["activate", "cancel"], "active": ["pause", "cancel"] if job.kind == CAMPAIGN else ["pause"],
        "paused": ["resume", "cancel"] if job.kind == CAMPAIGN else ["resume"],
        "cancelled": ["archive"], "ended": ["archive"],
    }
    actions = by_status.get(job.status, [])
    if job.kind == POST and job.status in ("active", "paused") and job.origin != "config":
        actions = [*actions, "archive"]
    return actions


def _form_page(kind: str, values: dict[str, str], job: Job | None = None, error: str = "",
               field: str = "") -> dict[str, Any]:
    labels = CAMPAIGN_LABELS if kind == CAMPAIGN else POST_LABELS
    return {**COMMON, "kind": kind, "v": values, "job": job, "error": error, "error_field": field,
            "labels": labels, "placeholders": PLACEHOLDERS}


def _template(kind: str) -> str:
    return "schedules/campaign_form.html" if kind == CAMPAIGN else "schedules/post_form.html"


@job_routes.get("/schedules/campaigns/new")
@job_routes.get("/schedules/posts/new")
@require_role("manager")
async def new_form(request: web.Request) -> web.Response:
    kind = CAMPAIGN if "/campaigns/" in request.path else POST
    return aiohttp_jinja2.render_template(_template(kind), request, _form_page(kind, form_values(None, kind)))


async def _save(request: web.Request, kind: str, job: Job | None) -> web.StreamResponse:
    form = await request.post()
    sched = _scheduler(request)
    values = {k: str(v) for k, v in form.items()}
    try:
        raw = campaign_from_form(form) if kind == CAMPAIGN else post_from_form(form)
        if kind == CAMPAIGN:
            _refuse_past(raw, sched, creating=job is None)
        if not form.get("targets_later"):
            problems = unknown_targets(raw.get("groups") or [], raw.get("tags") or [], await sched.chats())
            if problems:
                field = next(iter(problems))
                raise FormError(field, "；".join(problems.values()) + "。如果群稍后才会添加，请勾选“群稍后添加”")
        # a new post or campaign goes live only when the manager ticks 启用 (default: a draft)
        status = "active" if form.get("enable") else "draft"
        saved = await (sched.update(job.id, raw) if job else sched.create(kind, raw, status=status))
    except FormError as exc:
        return _form_error(request, kind, values, job, exc.message, exc.field)
    except ConfigError as exc:
        field = config_error_field(exc)
        label = (CAMPAIGN_LABELS if kind == CAMPAIGN else POST_LABELS).get(field, field)
        return _form_error(request, kind, values, job, f"{label}：{exc.reason}" if label else exc.reason, field)
    except ScheduleError as exc:
        return _form_error(request, kind, values, job, str(exc), "name")
    await audit(request, f"schedules.{'update' if job else 'create'}", f"{kind}:{saved.id}",
                {"name": saved.name, "spec": raw})
    if saved.status == "draft":
        flash(request, "已保存为草稿，尚未启用：预览后点“启用”开始发送", "ok")
    else:
        flash(request, "已保存" + ("并启用" if job is None and saved.status == "active" else ""), "ok")
    raise web.HTTPFound(f"/schedules/{saved.id}")


def _refuse_past(raw: dict[str, Any], sched: ScheduleService, *, creating: bool) -> None:
    """A campaign that has already ended (or, new, already started) would never be posted as written."""
    now = sched.clock.now()
    for key, label in (("end", "结束时间"), ("start", "开始时间")):
        if key == "start" and not creating:
            continue  # a running campaign's start is in the past by design
        try:
            moment = datetime.fromisoformat(str(raw.get(key, "")))
        except ValueError:
            continue  # the campaign's own validation names the bad format
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=sched.tz)
        if moment <= now:
            local = moment.astimezone(sched.tz).strftime("%Y-%m-%d %H:%M")
            raise FormError(key, f"{label} {local} 已经过去，请填写将来的时间")


def _form_error(request: web.Request, kind: str, values: dict[str, str], job: Job | None, error: str,
                field: str) -> web.Response:
    return aiohttp_jinja2.render_template(_template(kind), request, _form_page(kind, values, job, error, field),
                                          status=400)


@job_routes.post("/schedules/campaigns/new")
@require_role("manager")
async def create_campaign(request: web.Request) -> web.StreamResponse:
    return await _save(request, CAMPAIGN, None)


@job_routes.post("/schedules/posts/new")
@require_role("manager")
async def create_post(request: web.Request) -> web.StreamResponse:
    return await _save(request, POST, None)


@job_routes.get(r"/schedules/{id:\d+}/edit")
@require_role("manager")
async def edit_form(request: web.Request) -> web.Response:
    job = await _load(request)
    return aiohttp_jinja2.render_template(_template(job.kind), request,
                                          _form_page(job.kind, form_values(job.spec, job.kind), job))


@job_routes.post(r"/schedules/{id:\d+}/edit")
@require_role("manager")
async def edit_submit(request: web.Request) -> web.StreamResponse:
    job = await _load(request)
    return await _save(request, job.kind, job)


@job_routes.post(r"/schedules/{id:\d+}/action")
@require_role("manager")
async def change_status(request: web.Request) -> web.StreamResponse:
    job = await _load(request)
    action = str((await request.post()).get("action", ""))
    if action not in ACTION_LABELS:
        raise web.HTTPBadRequest(text="未知操作")
    try:
        updated = await _scheduler(request).transition(job.id, action)
    except ScheduleError as exc:
        flash(request, str(exc), "error")
        raise web.HTTPFound(f"/schedules/{job.id}") from None
    await audit(request, f"schedules.{action}", f"{job.kind}:{job.id}",
                {"name": job.name, "before": job.status, "after": updated.status})
    flash(request, f"已{ACTION_LABELS[action]}「{job.name}」", "ok")
    raise web.HTTPFound(f"/schedules/{job.id}")


@job_routes.post(r"/schedules/{id:\d+}/retry")
@require_role("manager")
async def retry(request: web.Request) -> web.StreamResponse:
    job = await _load(request)
    occurrence = str((await request.post()).get("occurrence", "")) or None
    try:
        count = await _scheduler(request).retry(job.id, occurrence)
    except ScheduleError as exc:
        flash(request, str(exc), "error")
        raise web.HTTPFound(f"/schedules/{job.id}") from None
    await audit(request, "schedules.retry", f"{job.kind}:{job.id}", {"occurrence": occurrence, "requeued": count})
    flash(request, f"已重新排队 {count} 个失败的目标" if count else "没有需要重试的目标", "ok")
    raise web.HTTPFound(f"/schedules/{job.id}")


# the 群SOP pages share this package's route table
routes = [*job_routes, *sop_routes]
