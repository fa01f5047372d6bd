"""Console pages of the FAQ: entries, edit, "try a question", import and export."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth import audit, flash, require_role
from bot.web.keys import BOT
from intents.conflicts import CHOICES, Conflict, FaqConflict
from intents.explain import explain
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
    names = {g["id"]: g["name"] for g in await _groups(request)}
    shown = entries[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    chat_names = {gid: names.get(gid, gid) for e in shown for gid in e.groups}
    return {"entries": shown, "chat_names": chat_names, "q": query, "tab": "list",
            "page": page, "pages": pages, "matched": len(entries),
            "phrasings": faq.engine.phrasing_count, "total": len(faq.engine.entries)}


async def _groups(request: web.Request) -> list[dict[str, Any]]:
    """Group chats a manager picks by name (the form sends their ids)."""
    chats = await request.app[BOT].store.run(request.app[BOT].store.chats.list_chats, None, "group")
    return [{"id": c["chat_id"], "name": c.get("name") or c["chat_id"], "platform": c["platform"]} for c in chats]


@_routes.get("/faq/new")
@require_role("manager")
@aiohttp_jinja2.template("intents/edit.html")
async def faq_new(request: web.Request) -> dict:
    questions = request.query.getall("question", [])
    # an id is generated (editable): managers should not have to invent one
    new_id = await run(request, faq_of(request).new_id, questions[0] if questions else "")
    return {"entry": None, "form": {"id": new_id, "questions": "\n".join(questions), "enabled": True,
                                    "groups": []},
            "tab": "list", "chats": await _groups(request)}


@_routes.get("/faq/edit/{entry_id}")
@require_role("manager")
@aiohttp_jinja2.template("intents/edit.html")
async def faq_edit(request: web.Request) -> dict:
    entry = await run(request, faq_of(request).get, request.match_info["entry_id"])
    if entry is None:
        raise web.HTTPNotFound(text="条目不存在")
    form = {"id": entry.id, "answer": entry.answer, "questions": "\n".join(entry.questions),
            "tags": ", ".join(entry.tags), "groups": entry.groups, "enabled": entry.enabled,
            "member_tags": ", ".join(entry.member_tags)}
    return {"entry": entry, "form": form, "tab": "list", "chats": await _groups(request)}


@_routes.post("/faq/save")
@require_role("manager")
async def faq_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    data = {
        "id": str(form.get("id", "")).strip(), "answer": str(form.get("answer", "")).strip(),
        "questions": _lines(str(form.get("questions", ""))), "tags": _items(str(form.get("tags", ""))),
        # picked by name (checkboxes carry the chat ids); a typed list is still accepted
        "groups": list(dict.fromkeys([*(str(g) for g in form.getall("group", [])),
                                      *_items(str(form.get("groups", "")))])),
        "enabled": form.get("enabled") == "on",
        "member_tags": _items(str(form.get("member_tags", ""))),
    }
    faq = faq_of(request)
    original = str(form.get("original_id", ""))
    is_new = original == ""
    if is_new and await run(request, faq.get, data["id"]) is not None:
        return await _edit_error(request, data, f"条目 id “{data['id']}” 已存在，请换一个", original)
    choice = str(form.get("on_conflict", "")) or None
    await asyncio.to_thread(faq.warm_vectors, _lines(str(form.get("questions", ""))))
    try:
        entry = await run(request, faq.save, data, choice)
    except FaqConflict as exc:
        return await _edit_error(request, data, "保存前请确认：这些问法会改变成员得到的回答", original,
                                 conflicts=exc.conflicts)
    except FaqFileError as exc:
        return await _edit_error(request, data, str(exc), original)
    await audit(request, "faq.create" if is_new else "faq.update", entry.id,
                {"questions": len(entry.questions), "enabled": entry.enabled,
                 **({"on_conflict": choice, "saved_as": data["id"]} if choice else {})})
    if choice == "merge" and entry.id != data["id"]:
        flash(request, f"已合并到条目 {entry.id}，立即生效", "ok")
    else:
        flash(request, f"已保存条目 {entry.id}，立即生效", "ok")
    raise web.HTTPFound("/faq")


async def _edit_error(request: web.Request, data: dict, error: str, original: str = "",
                      conflicts: list[Conflict] | None = None) -> web.Response:
    form = {**data, "questions": "\n".join(data["questions"]), "tags": ", ".join(data["tags"]),
            "member_tags": ", ".join(data.get("member_tags", []))}
    entry = await run(request, faq_of(request).get, original) if original else None
    context = {"entry": entry, "form": form, "error": error, "tab": "list", "conflicts": conflicts or [],
               "choices": CHOICES, "chats": await _groups(request)}
    return aiohttp_jinja2.render_template("intents/edit.html", request, context,
                                          status=409 if conflicts else 400)


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
        # as in a chat: the sentence model runs on the batcher's thread, never on the loop
        match = await faq.amatch(text, suggest_max=faq.settings.suggest_max)
        context["match"] = match
        context["explain"] = explain(faq.engine, match)
        vector = faq.embedder.cached(text) if faq.embedder is not None else None
        context["candidates"] = faq.engine.candidates(text, 5, vector=vector, encode=False)
        context["tokens"] = faq.tokenizer.tokens(text)
        context["entries"] = faq.engine.entries
    return context


@_routes.post("/faq/import")
@require_role("manager")
async def faq_import(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    # the second round after a conflict carries the file's text and the manager's choice
    carried = form.get("content")
    if isinstance(carried, str) and carried:
        filename, raw = str(form.get("filename", "faq.jsonl")), carried.encode("utf-8")
    elif isinstance(upload, web.FileField) and upload.filename:
        filename, raw = upload.filename, upload.file.read(MAX_UPLOAD + 1)
    else:
        flash(request, "请选择要导入的 .jsonl 或 .csv 文件", "error")
        raise web.HTTPFound("/faq")
    try:
        if len(raw) > MAX_UPLOAD:
            raise FaqFileError("文件太大（最大 5 MB）")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FaqFileError("文件不是 UTF-8 编码") from None
        parse = parse_csv if filename.lower().endswith(".csv") else parse_jsonl
        entries = parse(text, filename)
    except FaqFileError as exc:
        flash(request, f"导入失败，未做任何修改：{exc}", "error")
        raise web.HTTPFound("/faq") from None
    replace = form.get("mode") == "replace"
    choice = str(form.get("on_conflict", "")) or None
    try:
        result = await faq_of(request).aimport_entries(entries, replace, choice)
    except FaqConflict as exc:
        return aiohttp_jinja2.render_template("intents/import_conflicts.html", request, {
            "conflicts": exc.conflicts, "choices": CHOICES, "content": text, "filename": filename,
            "mode": "replace" if replace else "merge", "tab": "list"}, status=409)
    except FaqFileError as exc:
        flash(request, f"导入失败：{exc}", "error")
        raise web.HTTPFound("/faq") from None
    await audit(request, "faq.import", filename, {**result, "mode": "replace" if replace else "merge",
                                                  **({"on_conflict": choice} if choice else {})})
    flash(request, f"已导入 {filename}：新增 {result['added']}，更新 {result['updated']}，"
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
