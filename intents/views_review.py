"""Console pages of the FAQ that look back: unanswered clusters, stats, the dictionary."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth import audit, flash, require_role
from bot.web.keys import BOT
from intents.faqfile import FaqFileError
from intents.service import DICT_KINDS, FaqService

routes = web.RouteTableDef()


def _faq(request: web.Request) -> FaqService:
    return request.app[BOT].faq_stage.faq


async def _run(request: web.Request, fn, *args: Any, **kwargs: Any) -> Any:
    return await request.app[BOT].store.run(fn, *args, **kwargs)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


@routes.get("/faq/unanswered")
@require_role("manager")
@aiohttp_jinja2.template("intents/unanswered.html")
async def unanswered(request: web.Request) -> dict:
    faq = _faq(request)
    store = request.app[BOT].store
    # clustering may run the sentence model: a worker thread, not the loop or the writer
    rows = await _run(request, store.faq.open_unanswered)
    clusters = await asyncio.to_thread(faq.cluster_rows, rows)
    chats = await _run(request, store.chats.list_chats)
    names = {c["chat_id"]: c.get("name") or c["chat_id"] for c in chats}
    entries = faq.engine.entries
    return {"clusters": clusters[:200], "total": sum(c.size for c in clusters), "tab": "unanswered",
            "entries": [(eid, entries[eid].questions[0] if entries[eid].questions else "")
                        for eid in sorted(entries)],
            "chat_names": names, "new_id": await _run(request, faq.new_id)}


@routes.post("/faq/unanswered/resolve")
@require_role("manager")
async def resolve(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ids = _ids([str(v) for v in form.getall("ids", [])])
    action = str(form.get("action", ""))
    faq = _faq(request)
    if not ids:
        flash(request, "没有选中任何问题", "error")
        raise web.HTTPFound("/faq/unanswered")
    try:
        if action == "new":
            # the cluster's most common wording first: it becomes the entry's standard question
            first = str(form.get("question", "")).strip()
            entry = await _run(request, faq.resolve, ids, new_entry={
                "id": str(form.get("entry_id", "")).strip(), "answer": str(form.get("answer", "")).strip(),
                "questions": [first] if first else []})
            flash(request, f"已新建条目 {entry.id}（{len(entry.questions)} 个问法）", "ok")
        elif action == "add":
            target = str(form.get("target", "")).strip()
            if not target:
                raise FaqFileError("请填写要加入的条目 id")
            entry = await _run(request, faq.resolve, ids, add_to=target)
            flash(request, f"已把 {len(ids)} 个问题加为条目 {entry.id} 的问法", "ok")
        else:
            await _run(request, faq.resolve, ids)
            entry = None
            flash(request, f"已忽略 {len(ids)} 个问题", "ok")
    except FaqFileError as exc:
        flash(request, f"未保存：{exc}", "error")
        raise web.HTTPFound("/faq/unanswered") from None
    await audit(request, f"faq.unanswered.{action or 'dismiss'}", entry.id if entry else "",
                {"questions": len(ids)})
    raise web.HTTPFound("/faq/unanswered")


@routes.get("/faq/stats")
@require_role("manager")
@aiohttp_jinja2.template("intents/stats.html")
async def stats(request: web.Request) -> dict:
    faq = _faq(request)
    store = request.app[BOT].store
    now = request.app[BOT].clock.now()
    week = await _run(request, store.faq.stats, now - timedelta(days=7))
    total = await _run(request, store.faq.stats)
    entries = await _run(request, faq.entries)
    entries.sort(key=lambda e: (-e.hits, e.id))
    recent = await _run(request, store.faq.recent_answers, 30)
    return {"week": week, "total": total, "entries": entries, "recent": recent, "tab": "stats"}


@routes.get("/faq/dictionary")
@require_role("manager")
@aiohttp_jinja2.template("intents/dictionary.html")
async def dictionary(request: web.Request) -> dict:
    store = request.app[BOT].store
    rows = await _run(request, store.faq.dictionary)
    sample = request.query.get("sample", "").strip()
    words = _faq(request).tokenizer.words(sample) if sample else []
    return {"rows": rows, "kinds": DICT_KINDS, "tab": "dictionary", "sample": sample, "words": words}


@routes.post("/faq/dictionary")
@require_role("manager")
async def dictionary_change(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    word, kind = str(form.get("word", "")).strip(), str(form.get("kind", "word"))
    faq = _faq(request)
    if form.get("action") == "delete":
        await faq.aremove_dictionary(word, kind)
        await audit(request, "faq.dictionary.delete", word, {"kind": kind})
        flash(request, f"已删除{DICT_KINDS.get(kind, '')}“{word}”，已重新分词", "ok")
        raise web.HTTPFound("/faq/dictionary")
    freq_text = str(form.get("freq", "")).strip()
    try:
        freq = int(freq_text) if freq_text else None
        await faq.aadd_dictionary(word, kind, str(form.get("target", "")), freq)
    except ValueError as exc:
        message = str(exc) if isinstance(exc, FaqFileError) else "词频应为整数"
        flash(request, f"未保存：{message}", "error")
        raise web.HTTPFound("/faq/dictionary") from None
    await audit(request, "faq.dictionary.add", word, {"kind": kind})
    flash(request, f"已添加{DICT_KINDS[kind]}“{word}”，已重新分词，立即生效", "ok")
    raise web.HTTPFound("/faq/dictionary")
