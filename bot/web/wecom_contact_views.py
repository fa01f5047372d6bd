"""Console page of WeCom customer groups (客户群): synced groups, 企业群发 tasks per group
(waiting for the owner / sent / not sent and why), WeCom's own statistics, sync on demand."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth import audit, flash, require_role
from bot.web.keys import ADAPTERS, CLOCK, STORE

log = logging.getLogger("qunbot.web")
routes = web.RouteTableDef()
NAV = [("企业微信客户群", "/wecom/customer-groups", "manager")]
STATUS_LABELS = {"waiting": "等待群主确认", "sent": "已发送", "not_sent": "未发送"}
# background syncs started from the console (kept so they are not garbage-collected)
_SYNCS: set[asyncio.Task] = set()


def _contact(request: web.Request):
    adapter = request.app[ADAPTERS].get("wecom")
    return getattr(adapter, "contact", None)


@routes.get("/wecom/customer-groups")
@require_role("manager")
@aiohttp_jinja2.template("wecom_contact.html")
async def customer_groups(request: web.Request) -> dict:
    store = request.app[STORE]
    today = request.app[CLOCK].now().date()
    contact = _contact(request)
    return {
        "enabled": contact is not None,
        "status": contact.status() if contact is not None else {},
        "groups": await store.run(store.wecom_contact.groups),
        "targets": await store.run(store.wecom_contact.task_targets, None, 300),
        "stats": await store.run(store.wecom_contact.stats, (today - timedelta(days=7)).isoformat(),
                                 today.isoformat()),
        "labels": STATUS_LABELS,
    }


@routes.post("/wecom/customer-groups/sync")
@require_role("manager")
async def sync_now(request: web.Request) -> web.StreamResponse:
    contact = _contact(request)
    if contact is None:
        raise web.HTTPBadRequest(text="未启用企业微信客户联系（[adapters.wecom] contact_secret）")

    async def run() -> None:
        try:
            await contact.sync()
        except Exception as exc:
            contact.last_error = str(exc)
            log.warning("customer group sync from the console failed: %s", exc)

    task = asyncio.create_task(run())
    _SYNCS.add(task)
    task.add_done_callback(_SYNCS.discard)
    await audit(request, "wecom.sync", "customer_groups")
    flash(request, "已开始同步企业微信客户群，稍后刷新本页查看结果")
    raise web.HTTPFound("/wecom/customer-groups")
