"""Console pages of the keywords capability: rules, "try a message", import/export, welcome messages."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.kernel.events import ChatKind, Event
from bot.kernel.pipeline import Context
from bot.store import Store
from bot.targets import unknown_targets
from bot.web.auth import audit, current_user, flash, require_role
from bot.web.keys import BOT, STORE
from keywords import io as rules_io
from keywords.engine import KeywordEngine
from keywords.forms import form_to_rule, rule_to_form
from keywords.manage import store_rule, validate_rule
from keywords.rules import (
    DEFAULTS,
    KIND_LABELS,
    MATCH_LABELS,
    MATCH_MODES,
    MODE_LABELS,
    SCOPE_LABELS,
    RuleError,
)
from keywords.views_welcome import routes as welcome_routes

rule_routes = web.RouteTableDef()

# (label shown in the navigation, path, minimum role)
NAV: list[tuple[str, str, str]] = [("关键词回复", "/keywords", "manager"), ("入群欢迎语", "/welcome", "manager")]
PAGE_SIZE = 50
LABELS = {"match": MATCH_LABELS, "scope": SCOPE_LABELS, "mode": MODE_LABELS, "kind": KIND_LABELS}
SOURCE_LABELS = {"config": "配置文件", "console": "控制台", "import": "导入", "cli": "命令行", "campaign": "活动"}
# rules a campaign keeps in step with itself (schedules/keyword_rules.py): named campaign:<job id>:<i>:<j>
CAMPAIGN_SOURCE = "campaign"


def campaign_of(row: dict[str, Any]) -> str:
    """The id of the campaign that owns a campaign rule (its page is /schedules/<id>)."""
    parts = str(row["name"]).split(":")
    return parts[1] if len(parts) > 1 and parts[1].isdigit() else ""


def _refuse_campaign_rule(request: web.Request, row: dict[str, Any], verb: str) -> None:
    if row["source"] == CAMPAIGN_SOURCE:
        flash(request, f"规则 {row['name']} 由活动 #{campaign_of(row)} 自动生成，不能在这里{verb}，"
                       "请在活动页面修改", "error")
        raise web.HTTPFound("/keywords")


def engine_of(request: web.Request) -> KeywordEngine:
    return request.app[BOT].keyword_stage.engine


def actor(request: web.Request) -> str:
    user = current_user(request)
    return user["name"] if user else ""


def _rowid(request: web.Request) -> int:
    try:
        return int(request.match_info["rowid"])
    except ValueError:
        raise web.HTTPNotFound(text="规则不存在") from None


# -- list ---------------------------------------------------------------------------------------


@rule_routes.get("/keywords")
@require_role("manager")
@aiohttp_jinja2.template("keywords/list.html")
async def rule_list(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    q = request.query
    enabled = {"1": True, "0": False}.get(q.get("enabled", ""))
    page = max(1, int(q.get("page", "1")) if q.get("page", "1").isdigit() else 1)
    await engine_of(request).aflush_hits()
    rows, total = await store.run(
        lambda: store.keywords.search_rules(
            text=q.get("q", "").strip(), match=q.get("match", "") if q.get("match") in MATCH_MODES else "",
            tag=q.get("tag", ""), enabled=enabled, source=q.get("source", ""), order=q.get("order", "id"),
            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
        )
    )
    return {
        "rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "q": q,
        "tags": await store.run(store.keywords.all_tags), "stats": await store.run(store.keywords.stats),
        "labels": LABELS, "sources": SOURCE_LABELS, "modes": MATCH_MODES, "page_size": PAGE_SIZE,
        "campaign_of": campaign_of,
        "query_base": urlencode([(k, v) for k, v in q.items() if k != "page"]),
    }


# -- create / edit ------------------------------------------------------------------------------


def _form_page(request: web.Request, values: dict[str, Any], errors: dict[str, str], row: dict | None,
               status: int = 200) -> web.Response:
    campaign_id = campaign_of(row) if row is not None and row["source"] == CAMPAIGN_SOURCE else ""
    return aiohttp_jinja2.render_template(
        "keywords/form.html", request,
        {"v": values, "errors": errors, "row": row, "labels": LABELS, "campaign_id": campaign_id},
        status=status,
    )


@rule_routes.get("/keywords/new")
@require_role("manager")
async def rule_new(request: web.Request) -> web.Response:
    return _form_page(request, rule_to_form(DEFAULTS), {}, None)


@rule_routes.get("/keywords/{rowid}/edit")
@require_role("manager")
async def rule_edit(request: web.Request) -> web.Response:
    store = request.app[STORE]
    row = await store.run(store.keywords.get_rule, _rowid(request))
    if row is None:
        raise web.HTTPNotFound(text="规则不存在")
    return _form_page(request, rule_to_form({**row["spec"], "id": row["name"]}), {}, row)


async def _save(request: web.Request, rowid: int | None) -> web.Response:
    store = request.app[STORE]
    form = await request.post()
    data = form_to_rule(form)
    row = await store.run(store.keywords.get_rule, rowid) if rowid is not None else None
    if rowid is not None and row is None:
        raise web.HTTPNotFound(text="规则不存在")
    if row is not None:
        _refuse_campaign_rule(request, row, "修改")
    try:
        spec = await asyncio.to_thread(validate_rule, data)
        await _known_targets(store, spec)
        saved = await store.run(lambda: store_rule(store, spec, source="console", actor=actor(request), rowid=rowid))
    except RuleError as exc:
        return _form_page(request, {**rule_to_form(DEFAULTS), **_raw_values(form)}, exc.errors, row, status=422)
    await engine_of(request).areload()
    saved_row = await store.run(store.keywords.get_rule, saved)
    assert saved_row is not None, "the rule was saved just now"
    action = "keywords.update" if rowid is not None else "keywords.create"
    detail = {"keyword": spec["keyword"], "match": spec["match"]}
    if row is not None:
        detail["before"] = row["spec"]
    await audit(request, action, saved_row["name"], detail)
    flash(request, f"已保存规则 {saved_row['name']}「{spec['keyword']}」，立即生效")
    raise web.HTTPFound("/keywords")


def _raw_values(form) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    for key in ("private", "normalize", "enabled"):
        values[key] = key in form
    return values


@rule_routes.post("/keywords/new")
@require_role("manager")
async def rule_create(request: web.Request) -> web.Response:
    return await _save(request, None)


@rule_routes.post("/keywords/{rowid}/edit")
@require_role("manager")
async def rule_update(request: web.Request) -> web.Response:
    return await _save(request, _rowid(request))


@rule_routes.post("/keywords/validate")
@require_role("manager")
async def rule_validate(request: web.Request) -> web.Response:
    """Live validation for the form: {"ok": bool, "errors": {field: reason}}."""
    data = form_to_rule(await request.post())
    try:
        spec = await asyncio.to_thread(validate_rule, data)
        await _known_targets(request.app[STORE], spec)
    except RuleError as exc:
        return web.json_response({"ok": False, "errors": exc.errors})
    return web.json_response({"ok": True, "errors": {}})


async def _known_targets(store: Store, spec: dict[str, Any]) -> None:
    """A rule for a group or tag that does not exist never fires: refuse it, naming the closest ones."""
    problems = unknown_targets(spec.get("groups") or [], spec.get("tags") or [],
                               await store.run(store.chats.list_chats))
    if problems:
        raise RuleError(problems)


async def _editable_rule(request: web.Request, verb: str) -> dict:
    """The rule named in the URL, unless it comes from config.toml (then back to the list)."""
    store = request.app[STORE]
    row = await store.run(store.keywords.get_rule, _rowid(request))
    if row is None:
        raise web.HTTPNotFound(text="规则不存在")
    if row["source"] == "config":
        flash(request, f"规则 {row['name']} 来自 config.toml，请在配置文件中{verb}", "error")
        raise web.HTTPFound("/keywords")
    _refuse_campaign_rule(request, row, verb)
    return row


@rule_routes.post("/keywords/{rowid}/toggle")
@require_role("manager")
async def rule_toggle(request: web.Request) -> web.Response:
    store = request.app[STORE]
    row = await _editable_rule(request, "修改")
    enabled = not row["enabled"]
    await store.run(store.keywords.set_enabled, row["id"], enabled, actor(request))
    await engine_of(request).areload()
    await audit(request, "keywords.enable" if enabled else "keywords.disable", row["name"], {"keyword": row["keyword"]})
    flash(request, f"已{'启用' if enabled else '停用'}规则 {row['name']}「{row['keyword']}」")
    raise web.HTTPFound("/keywords")


@rule_routes.post("/keywords/{rowid}/delete")
@require_role("manager")
async def rule_delete(request: web.Request) -> web.Response:
    store = request.app[STORE]
    row = await _editable_rule(request, "删除")
    await store.run(store.keywords.delete_rule, row["id"])
    await engine_of(request).areload()
    await audit(request, "keywords.delete", row["name"], {"spec": row["spec"], "hits": row["hits"]})
    flash(request, f"已删除规则 {row['name']}「{row['keyword']}」")
    raise web.HTTPFound("/keywords")


# -- try a message ------------------------------------------------------------------------------


@rule_routes.get("/keywords/try")
@rule_routes.post("/keywords/try")
@require_role("manager")
@aiohttp_jinja2.template("keywords/try.html")
async def rule_try(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    bot = request.app[BOT]
    chats = await store.run(store.chats.list_chats, None, "group")
    form = await request.post() if request.method == "POST" else request.query
    values: dict[str, Any] = {
        "text": str(form.get("text", "")), "chat": str(form.get("chat", "")),
        "nickname": str(form.get("nickname", "")) or "测试成员", "private": "private" in form,
        "mention": "mention" in form,
    }
    decision = None
    if values["text"].strip():
        chat = next((c for c in chats if f"{c['platform']}:{c['chat_id']}" == values["chat"]), None)
        chat = chat or (chats[0] if chats else None)
        private = values["private"] or chat is None
        group: dict[str, Any] = {} if private or chat is None else chat  # the chat, unless tried as private
        event = Event(
            platform=chat["platform"] if chat else "sim", chat_id="tester" if private else group["chat_id"],
            chat_kind=ChatKind.PRIVATE if private else ChatKind.GROUP, sender_id="tester",
            sender_name=values["nickname"], message_id="try-" + uuid.uuid4().hex[:8], time=bot.clock.now(),
            text=values["text"], to_me=values["mention"] or private, chat_name="" if private else group["name"],
        )
        ctx = Context(now=bot.clock.now(), chat_tags=[] if private else group["tags"],
                      chat_name=event.chat_name, dry_run=True)
        decision = engine_of(request).decide(event, ctx)
    return {"v": values, "chats": chats, "decision": decision, "labels": LABELS}


# -- import / export ----------------------------------------------------------------------------


@rule_routes.get("/keywords/export")
@require_role("manager")
async def rule_export(request: web.Request) -> web.Response:
    fmt = ".json" if request.query.get("format") == "json" else ".csv"
    store = request.app[STORE]
    await engine_of(request).aflush_hits()
    body = await store.read(rules_io.export_bytes, store, fmt)  # a read-only connection
    await audit(request, "keywords.export", fmt.lstrip("."), {})
    ctype = "text/csv" if fmt == ".csv" else "application/json"
    return web.Response(
        body=body, content_type=ctype, charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="keywords{fmt}"'},
    )


@rule_routes.get("/keywords/import")
@require_role("manager")
@aiohttp_jinja2.template("keywords/import.html")
async def rule_import_page(request: web.Request) -> dict[str, Any]:
    return {"report": None, "filename": ""}


@rule_routes.post("/keywords/import")
@require_role("manager")
async def rule_import(request: web.Request) -> web.Response:
    form = await request.post()
    upload = form.get("file")
    partial = "partial" in form
    context: dict[str, Any] = {"report": None, "filename": "", "error": ""}
    if not isinstance(upload, web.FileField) or not upload.filename:
        context["error"] = "请选择要导入的 .csv 或 .json 文件"
        return aiohttp_jinja2.render_template("keywords/import.html", request, context, status=400)
    context["filename"] = upload.filename
    store = request.app[STORE]
    try:
        fmt = rules_io.file_format(upload.filename)
        rows = rules_io.read_rows(upload.file.read(), fmt)
        validated = await asyncio.to_thread(rules_io.validate_rows, rows)
        report = await store.run(
            lambda: rules_io.import_rows(
                store, rows, partial=partial, source="import", actor=actor(request), validated=validated,
            )
        )
    except rules_io.ImportFormatError as exc:
        context["error"] = str(exc)
        return aiohttp_jinja2.render_template("keywords/import.html", request, context, status=400)
    context["report"] = report
    if report.written:
        await engine_of(request).areload()
        await audit(request, "keywords.import", upload.filename, report.as_dict())
    return aiohttp_jinja2.render_template(
        "keywords/import.html", request, context, status=200 if report.written else 422
    )


routes = [*rule_routes, *welcome_routes]
