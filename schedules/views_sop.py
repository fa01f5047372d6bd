"""Console pages of 群SOP: the sequences, their edit form, per-enrollment progress, and a member's steps."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from bot.kernel.templates import CONTEXTS
from bot.settings_loader import ConfigError
from bot.web.auth import audit, flash, require_role
from bot.web.keys import BOT
from schedules.sop_config import ANCHOR_LABELS, TO_LABELS
from schedules.sop_plan import load_spec, step_times
from schedules.sop_service import STATUS_LABELS, STEP_LABELS, SopError, member_preview, save, set_status

routes = web.RouteTableDef()

NAV: list[tuple[str, str, str]] = [("群SOP", "/sop", "manager")]

ACTIONS = {"pause": ("paused", "暂停"), "resume": ("active", "恢复"), "archive": ("archived", "归档")}
ENROLLMENT_LABELS = {"active": "进行中", "done": "已完成", "stopped": "已停止"}
COMMON = {"anchor_labels": ANCHOR_LABELS, "to_labels": TO_LABELS, "status_labels": STATUS_LABELS,
          "step_labels": STEP_LABELS, "enrollment_labels": ENROLLMENT_LABELS,
          "member_vars": CONTEXTS["member"].shown(), "group_vars": CONTEXTS["group"].shown()}
NEW_STEPS = '[[steps]]\nafter = "0d"\ntext = "欢迎 {nickname} 加入{group}！"\nprivate = true\n'
_SPLIT = re.compile(r"[,，、\s]+")


def _bot(request: web.Request) -> Any:
    return request.app[BOT]


async def _sequence(request: web.Request) -> dict[str, Any]:
    store = _bot(request).store
    row = await store.run(store.sop.get_sequence, request.match_info["id"])
    if row is None:
        raise web.HTTPNotFound(text="序列不存在")
    row["spec_obj"] = load_spec(row)
    return row


def steps_toml(steps: list[dict[str, Any]]) -> str:
    """The steps as the form's [[steps]] TOML (JSON strings are valid TOML basic strings)."""
    blocks = []
    for step in steps:
        lines = ["[[steps]]"]
        for key, value in step.items():
            shown = json.dumps(value, ensure_ascii=False)  # true / false / "text": TOML reads all three
            lines.append(f"{key} = {shown}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def raw_from_form(form: Any) -> tuple[dict[str, Any], str]:
    """The form as a [[sop]] table, or ({}, why the steps field is not TOML)."""
    raw: dict[str, Any] = {"id": str(form.get("id", "")).strip(), "anchor": str(form.get("anchor", ""))}
    tags = [t for t in _SPLIT.split(str(form.get("tags", ""))) if t]
    if tags:
        raw["tags"] = tags
    raw["enabled"] = form.get("enabled") == "on"
    grace = str(form.get("misfire_grace", "")).strip()
    if grace:
        raw["misfire_grace"] = grace
    try:
        parsed = tomllib.loads(str(form.get("steps", "")))
    except tomllib.TOMLDecodeError as exc:
        return {}, f"步骤不是有效的 TOML：{exc}"
    if set(parsed) - {"steps"}:
        return {}, "步骤里只能写 [[steps]] 表（每步一个）"
    raw["steps"] = parsed.get("steps", [])
    return raw, ""


def _form(request: web.Request, values: dict[str, str], row: dict[str, Any] | None, error: str = "",
          field: str = "", status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template("sop/form.html", request, {
        **COMMON, "v": values, "seq": row, "error": error, "error_field": field}, status=status)


def _values(spec: dict[str, Any]) -> dict[str, str]:
    return {"id": spec.get("id", ""), "anchor": spec.get("anchor", "member_joined"),
            "tags": "、".join(spec.get("tags", [])), "enabled": "on" if spec.get("enabled", True) else "",
            "misfire_grace": spec.get("misfire_grace", ""), "steps": steps_toml(spec.get("steps", []))}


@routes.get("/sop")
@require_role("manager")
@aiohttp_jinja2.template("sop/index.html")
async def index(request: web.Request) -> dict[str, Any]:
    store = _bot(request).store
    rows = await store.run(store.sop.list_sequences)
    totals = await store.run(store.sop.totals)
    show_archived = request.query.get("archived") == "1"
    rows = [r for r in rows if show_archived or r["status"] != "archived"]
    return {**COMMON, "rows": rows, "totals": totals, "show_archived": show_archived}


@routes.get("/sop/new")
@require_role("manager")
async def new_form(request: web.Request) -> web.Response:
    return _form(request, {"anchor": "member_joined", "enabled": "on", "steps": NEW_STEPS}, None)


async def _save(request: web.Request, row: dict[str, Any] | None) -> web.StreamResponse:
    form = await request.post()
    values = {k: str(v) for k, v in form.items()}
    if row is not None:
        values["id"] = row["id"]
    raw, problem = raw_from_form({**form, "id": values.get("id", "")})
    if problem:
        return _form(request, values, row, problem, "steps", 400)
    bot = _bot(request)
    store = bot.store
    try:
        async with bot.scheduler.sop.lock:
            spec = await store.run(save, store, raw, bot.clock.now(), seq_id=row["id"] if row else None)
    except ConfigError as exc:
        errors = exc.errors
        message = "；".join(f"{e.key}：{e.reason}" if e.key else e.reason for e in errors)
        field = errors[0].key.split(".")[0].split("[")[0] if errors and errors[0].key else ""
        return _form(request, values, row, message, field, 400)
    except SopError as exc:
        return _form(request, values, row, str(exc), "id", 400)
    await audit(request, f"sop.{'update' if row else 'create'}", f"sop:{spec.id}", {"spec": raw})
    flash(request, f"已保存序列「{spec.id}」", "ok")
    raise web.HTTPFound(f"/sop/{quote(spec.id)}")


@routes.post("/sop/new")
@require_role("manager")
async def create(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@routes.get("/sop/member")
@require_role("manager")
@aiohttp_jinja2.template("sop/member.html")
async def member(request: web.Request) -> dict[str, Any]:
    ref = request.query.get("ref", "").strip()
    rows: list[dict[str, Any]] = []
    error = ""
    if ref:
        bot = _bot(request)
        try:
            rows = await bot.store.run(member_preview, bot.store, bot.settings, ref, bot.clock.now())
        except SopError as exc:
            error = str(exc)
    return {**COMMON, "ref": ref, "rows": rows, "error": error}


@routes.get("/sop/{id}")
@require_role("manager")
@aiohttp_jinja2.template("sop/detail.html")
async def detail(request: web.Request) -> dict[str, Any]:
    row = await _sequence(request)
    bot = _bot(request)
    store = bot.store
    spec = row["spec_obj"]
    enrollments = await store.run(store.sop.recent, row["id"])
    for e in enrollments:
        times = step_times(e["anchor_at"], spec, bot.settings.tz) if spec else []
        e["cells"] = [
            {"time": t, "status": e["steps"][i]["status"] if i in e["steps"] else "",
             "reason": e["steps"][i]["reason"] if i in e["steps"] else ""}
            for i, t in enumerate(times)
        ]
    totals = (await store.run(store.sop.totals)).get(row["id"], {})
    return {**COMMON, "seq": row, "spec": spec, "enrollments": enrollments, "totals": totals,
            "actions": ACTIONS}


@routes.get("/sop/{id}/edit")
@require_role("manager")
async def edit_form(request: web.Request) -> web.Response:
    row = await _sequence(request)
    return _form(request, _values(row["spec"]), row)


@routes.post("/sop/{id}/edit")
@require_role("manager")
async def edit(request: web.Request) -> web.StreamResponse:
    return await _save(request, await _sequence(request))


@routes.post("/sop/{id}/action")
@require_role("manager")
async def action(request: web.Request) -> web.StreamResponse:
    row = await _sequence(request)
    name = str((await request.post()).get("action", ""))
    if name not in ACTIONS:
        raise web.HTTPBadRequest(text="未知操作")
    status, label = ACTIONS[name]
    bot = _bot(request)
    async with bot.scheduler.sop.lock:
        await bot.store.run(set_status, bot.store, row["id"], status)
    await audit(request, f"sop.{name}", f"sop:{row['id']}", {"before": row["status"], "after": status})
    flash(request, f"已{label}序列「{row['id']}」", "ok")
    raise web.HTTPFound(f"/sop/{quote(row['id'])}")
