"""Console pages of the FAQ: entries, edit, "try a question", import and export."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth import audit, flash, require_role
from bot.web.keys import BOT
from intents.faqfile import FaqFileError, dump_csv, dump_jsonl, parse_csv, parse_jsonl
from intents.service import FaqService
from intents.views_review import routes as review_routes

_routes = web.RouteTableDef()

# (label shown in the navigation, path, minimum role)
NAV: list[tuple[str, str, str]] = [("常见问题", "/faq", "manager"), ("未回答问题", "/faq/unanswered", "manager")]
MAX_UPLOAD = 5 * 1024 * 1024
PAGE_SIZE = 200


def faq_of(request: web.Request) -> FaqService:
    return request.app[BOT].faq_stage.faq


async def run(request: web.Request, fn, *args: Any, **kwargs: Any) -> Any:
    return await request.app[BOT].store.run(fn, *args, **kwargs)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _items(text: str) -> list[str]:
    return [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]


@_routes.get("/faq")
@require_role("manager")
@aiohttp_jinja2.template("intents/list.html")
async def faq_list(request: web.Request) -> dict:
    faq = faq_of(request)
    entries = await run(request, faq.entries)
    query = request.query.get("q", "").strip()
    if query:
        entries = [e for e in entries
                   if query in e.id or query in e.answer or any(query in q for q in e.questions)]
    raw_page = request.query.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(page, pages)
    return {"entries": entries[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], "q": query, "tab": "list",
            "page": page, "pages": pages, "matched": len(entries),
            "phrasings": faq.engine.phrasing_count, "total": len(faq.engine.entries)}


@_routes.get("/faq/new")
@require_role("manager")
@aiohttp_jinja2.template("intents/edit.html")
async def faq_new(request: web.Request) -> dict:
    questions = request.query.getall("question", [])
    return {"entry": None, "form": {"questions": "\n".join(questions), "enabled": True}, "tab": "list"}


@_routes.get("/faq/edit/{entry_id}")
@require_role("manager")
@aiohttp_jinja2.template("intents/edit.html")
async def faq_edit(request: web.Request) -> dict:
    entry = await run(request, faq_of(request).get, request.match_info["entry_id"])
    if entry is None:
        raise web.HTTPNotFound(text="条目不存在")
    form = {"id": entry.id, "answer": entry.answer, "questions": "\n".join(entry.questions),
            "tags": ", ".join(entry.tags), "groups": ", ".join(entry.groups), "enabled": entry.enabled,
            "member_tags": ", ".join(entry.member_tags)}
    return {"entry": entry, "form": form, "tab": "list"}


@_routes.post("/faq/save")
@require_role("manager")
async def faq_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    data = {
        "id": str(form.get("id", "")).strip(), "answer": str(form.get("answer", "")).strip(),
        "questions": _lines(str(form.get("questions", ""))), "tags": _items(str(form.get("tags", ""))),
        "groups": _items(str(form.get("groups", ""))), "enabled": form.get("enabled") == "on",
        "member_tags": _items(str(form.get("member_tags", ""))),
    }
    faq = faq_of(request)
    is_new = form.get("original_id", "") == ""
    if is_new and await run(request, faq.get, data["id"]) is not None:
        return _edit_error(request, data, f"条目 id “{data['id']}” 已存在，请换一个")
    try:
        entry = await run(request, faq.save, data)
    except FaqFileError as exc:
        return _edit_error(request, data, str(exc))
    await audit(request, "faq.create" if is_new else "faq.update", entry.id,
                {"questions": len(entry.questions), "enabled": entry.enabled})
    flash(request, f"已保存条目 {entry.id}，立即生效", "ok")
    raise web.HTTPFound("/faq")


def _edit_error(request: web.Request, data: dict, error: str) -> web.Response:
    form = {**data, "questions": "\n".join(data["questions"]), "tags": ", ".join(data["tags"]),
            "groups": ", ".join(data["groups"]), "member_tags": ", ".join(data.get("member_tags", []))}
    return aiohttp_jinja2.render_template(
        "intents/edit.html", request, {"entry": None, "form": form, "error": error, "tab": "list"}, status=400)


@_routes.post("/faq/delete/{entry_id}")
@require_role("manager")
async def faq_delete(request: web.Request) -> web.StreamResponse:
    entry_id = request.match_info["entry_id"]
    if await run(request, faq_of(request).delete, entry_id):
        await audit(request, "faq.delete", entry_id)
        flash(request, f"已删除条目 {entry_id}", "ok")
    raise web.HTTPFound("/faq")


@_routes.get("/faq/try")
@require_role("manager")
@aiohttp_jinja2.template("intents/try.html")
async def faq_try(request: web.Request) -> dict:
    text = request.query.get("text", "").strip()
    context: dict[str, Any] = {"text": text, "tab": "try", "match": None, "settings": faq_of(request).settings}
    if text:
        faq = faq_of(request)
        context["match"] = faq.engine.match(text, suggest_max=faq.settings.suggest_max)
        context["candidates"] = faq.engine.candidates(text, 5)
        context["tokens"] = faq.tokenizer.tokens(text)
        context["entries"] = faq.engine.entries
    return context


@_routes.post("/faq/import")
@require_role("manager")
async def faq_import(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField) or not upload.filename:
        flash(request, "请选择要导入的 .jsonl 或 .csv 文件", "error")
        raise web.HTTPFound("/faq")
    raw = upload.file.read(MAX_UPLOAD + 1)
    try:
        if len(raw) > MAX_UPLOAD:
            raise FaqFileError("文件太大（最大 5 MB）")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FaqFileError("文件不是 UTF-8 编码") from None
        parse = parse_csv if upload.filename.lower().endswith(".csv") else parse_jsonl
        entries = parse(text, upload.filename)
    except FaqFileError as exc:
        flash(request, f"导入失败，未做任何修改：{exc}", "error")
        raise web.HTTPFound("/faq") from None
    replace = form.get("mode") == "replace"
    result = await faq_of(request).aimport_entries(entries, replace)
    await audit(request, "faq.import", upload.filename, {**result, "mode": "replace" if replace else "merge"})
    flash(request, f"已导入 {upload.filename}：新增 {result['added']}，更新 {result['updated']}，"
                   f"删除 {result['removed']}", "ok")
    raise web.HTTPFound("/faq")


@_routes.get("/faq/export")
@require_role("manager")
async def faq_export(request: web.Request) -> web.Response:
    entries = await run(request, faq_of(request).entries)
    if request.query.get("format") == "csv":
        body, name, ctype = dump_csv(entries), "faq.csv", "text/csv"
    else:
        body, name, ctype = dump_jsonl(entries), "faq.jsonl", "application/x-ndjson"
    return web.Response(body=body.encode("utf-8"), content_type=ctype, charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


routes = [*_routes, *review_routes]
