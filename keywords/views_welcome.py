"""Console pages for welcome messages (入群欢迎语)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.kernel.durations import format_duration
from bot.web.auth import audit, flash, require_role
from bot.web.keys import BOT, STORE
from keywords.forms import form_to_welcome
from keywords.manage import save_welcome
from keywords.rules import RuleError

routes = web.RouteTableDef()


def _engine(request: web.Request):
    return request.app[BOT].keyword_stage.engine


async def _page(request: web.Request, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                editing: int | None = None, status: int = 200) -> web.Response:
    store = request.app[STORE]
    rows = await store.run(store.keywords.list_welcome)
    chats = await store.run(store.chats.list_chats, None, "group")
    for r in rows:
        r["window_text"] = format_duration(r["spec"]["window"]) if r["spec"]["window"] else "0"
    empty = {
        "id": "",
        "text": "欢迎 {nickname} 加入{group}！请先看群公告～",
        "groups": "",
        "tags": "",
        "member_tags": "",
        "window": "10s",
        "enabled": True,
    }
    return aiohttp_jinja2.render_template(
        "keywords/welcome.html", request,
        {"rows": rows, "v": values or empty, "errors": errors or {}, "editing": editing, "chats": chats},
        status=status,
    )


@routes.get("/welcome")
@require_role("manager")
async def welcome_list(request: web.Request) -> web.Response:
    store = request.app[STORE]
    edit = request.query.get("edit", "")
    if edit.isdigit():
        row = await store.run(store.keywords.get_welcome, int(edit))
        if row is not None:
            spec = row["spec"]
            values = {
                "id": row["name"], "text": spec["text"], "groups": ", ".join(spec["groups"]),
                "tags": ", ".join(spec["tags"]), "member_tags": ", ".join(spec.get("member_tags", [])),
                "window": format_duration(spec["window"]) if spec["window"] else "0",
                "enabled": row["enabled"],
            }
            return await _page(request, values, editing=row["id"])
    return await _page(request)


@routes.post("/welcome")
@require_role("manager")
async def welcome_save(request: web.Request) -> web.Response:
    store = request.app[STORE]
    form = await request.post()
    data = form_to_welcome(form)
    rowid = int(str(form["rowid"])) if str(form.get("rowid", "")).isdigit() else None
    try:
        saved = await store.run(lambda: save_welcome(store, data, rowid=rowid))
    except RuleError as exc:
        values = {**data, "groups": ", ".join(data["groups"]), "tags": ", ".join(data["tags"]),
                  "member_tags": ", ".join(data["member_tags"])}
        return await _page(request, values, exc.errors, editing=rowid, status=422)
    await _engine(request).areload()
    await audit(
        request,
        "keywords.welcome.save",
        str(saved),
        {"text": data["text"], "groups": data["groups"], "tags": data["tags"], "member_tags": data["member_tags"]},
    )
    flash(request, "欢迎语已保存，立即生效")
    raise web.HTTPFound("/welcome")


@routes.post("/welcome/{rowid}/delete")
@require_role("manager")
async def welcome_delete(request: web.Request) -> web.Response:
    store = request.app[STORE]
    rowid = int(request.match_info["rowid"]) if request.match_info["rowid"].isdigit() else -1
    row = await store.run(store.keywords.get_welcome, rowid)
    if row is None:
        raise web.HTTPNotFound(text="欢迎语不存在")
    if row["source"] == "config":
        flash(request, "该欢迎语来自 config.toml，请在配置文件中修改", "error")
        raise web.HTTPFound("/welcome")
    await store.run(store.keywords.delete_welcome, rowid)
    await _engine(request).areload()
    await audit(request, "keywords.welcome.delete", row["name"], {"spec": row["spec"]})
    flash(request, "欢迎语已删除")
    raise web.HTTPFound("/welcome")
