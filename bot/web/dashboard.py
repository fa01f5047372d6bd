"""Console overview (群数据报表): live status plus the report figures and charts of a period;
report downloads; and /metrics for Prometheus."""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from bot import metrics
from bot.reports.charts import charts_for
from bot.reports.export import CONTENT_TYPES, FORMATS, export
from bot.reports.figures import METRICS, ReportFilter, compute
from bot.store.base import iso
from bot.web.auth import require_role
from bot.web.keys import BOT, CLOCK, SETTINGS, STORE

log = logging.getLogger("qunbot.http")
routes = web.RouteTableDef()
DEFAULT_DAYS = 7
ERR_DATE = "日期格式应为 YYYY-MM-DD"


def _filter(request: web.Request) -> tuple[ReportFilter, str]:
    """The period and scope from the query string; invalid input falls back with an error text."""
    today = request.app[CLOCK].now().astimezone(request.app[SETTINGS].tz).date()
    q = request.query
    error = ""
    try:
        end = date.fromisoformat(q["to"]) if q.get("to") else today
        start = date.fromisoformat(q["from"]) if q.get("from") else end - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        start, end, error = today - timedelta(days=DEFAULT_DAYS - 1), today, ERR_DATE
    flt = ReportFilter(start, end, group=q.get("group") or None, tag=q.get("tag") or None)
    try:
        flt.validate()
    except ValueError as exc:
        error = str(exc)
        flt = ReportFilter(today - timedelta(days=DEFAULT_DAYS - 1), today)
    return flt, error


async def _report(request: web.Request, flt: ReportFilter):
    store = request.app[STORE]
    # reports read on their own connection: a thread, not the store's writer thread
    return await asyncio.to_thread(compute, store, flt, request.app[SETTINGS].tz)


@routes.get("/")
@require_role("moderator")
@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict:
    store = request.app[STORE]
    bot = request.app[BOT]
    settings = request.app[SETTINGS]
    flt, error = _filter(request)
    try:
        report = await _report(request, flt)
    except ValueError as exc:  # unknown group or tag
        error = str(exc)
        flt = ReportFilter(flt.start, flt.end)
        report = await _report(request, flt)
    local_midnight = datetime.combine(request.app[CLOCK].now().astimezone(settings.tz).date(), time(0),
                                      tzinfo=settings.tz)
    chats = await store.run(store.chats.list_chats)
    query = {k: v for k, v in (("from", flt.start.isoformat()), ("to", flt.end.isoformat()),
                               ("group", flt.group), ("tag", flt.tag)) if v}
    return {
        "report": report, "charts": charts_for(report), "metrics": METRICS, "error": error, "flt": flt,
        "overview": await store.run(store.messages.overview, iso(local_midnight)),
        "outbox": await store.run(store.outbound.count_by_status),
        "queue_depth": bot.queue_depth(),
        "adapters": [a.status() for a in bot.adapters.values()],
        "groups": [c for c in chats if c["kind"] != "private"],
        "tags": sorted({t for c in chats for t in c["tags"]}),
        "export_query": "&".join(f"{k}={quote(v)}" for k, v in query.items()),
    }


@routes.get("/reports/export")
@require_role("moderator")
async def export_report(request: web.Request) -> web.StreamResponse:
    fmt = request.query.get("format", "csv")
    if fmt not in FORMATS:
        raise web.HTTPBadRequest(text="不支持的格式（可选 csv、xlsx、html）")
    flt, error = _filter(request)
    if error:
        raise web.HTTPBadRequest(text=error)
    try:
        report = await _report(request, flt)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    body = await asyncio.to_thread(export, report, fmt)
    name = f"qunbot-report-{flt.start.isoformat()}-{flt.end.isoformat()}.{fmt}"
    return web.Response(body=body, headers={
        "Content-Type": CONTENT_TYPES[fmt], "Content-Disposition": f'attachment; filename="{name}"',
    })


@routes.get("/metrics")
async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus scrape target; no login (see docs/reports.md), off with [console] metrics = false."""
    console = request.app[SETTINGS].console
    if console.metrics_token and not _bearer_matches(request, console.metrics_token):
        log.warning("metrics: missing or wrong bearer token", extra={"remote": request.remote})
        raise web.HTTPUnauthorized(text="需要正确的令牌（Authorization: Bearer …）",
                                   headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if not console.metrics:
        raise web.HTTPNotFound()
    bot = request.app.get(BOT)
    if bot is None:
        raise web.HTTPServiceUnavailable(text="starting")
    store = request.app[STORE]
    gauges = await store.run(store.reports.outbox_gauges)
    text = metrics.render(bot, gauges, request.app[CLOCK].now())
    return web.Response(body=text.encode(), headers={"Content-Type": metrics.CONTENT_TYPE})


def _bearer_matches(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
