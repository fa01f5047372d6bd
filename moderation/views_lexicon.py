"""Console pages for the word lexicon and the allowlists (moderator role and up)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth import audit, flash, require_role
from bot.web.keys import BOT, STORE
from moderation.actions import ACTION_LABELS
from moderation.config import ACTIONS, DEFAULT_CATEGORY_ACTIONS
from moderation.evaluate import DOMAIN_ALLOW_CATEGORY, split_words
from moderation.wordfile import MAX_WORD, WordFileError, parse

routes = web.RouteTableDef()
PAGE = 100
MAX_IMPORT = 5 * 1024 * 1024


async def reload_engine(request: web.Request) -> dict[str, int]:
    """Bump the change counter (other processes) and rebuild this bot's automaton now."""
    store = request.app[STORE]
    await store.run(store.lexicon.bump_version)
    engine = request.app[BOT].moderation_stage.engine
    if engine is None:
        return {}
    return await asyncio.get_running_loop().run_in_executor(None, engine.reload)


def categories(request: web.Request) -> list[str]:
    configured = request.app[BOT].settings.moderation.categories
    return list(dict.fromkeys([*DEFAULT_CATEGORY_ACTIONS, *configured]))


@routes.get("/moderation/lexicon")
@require_role("moderator")
@aiohttp_jinja2.template("moderation/lexicon.html")
async def lexicon_page(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    q = request.query
    page = max(1, int(q["page"])) if q.get("page", "").isdigit() else 1
    rows = await store.run(store.lexicon.list_words, category=q.get("category") or None, q=q.get("q") or None,
                           limit=PAGE + 1, offset=(page - 1) * PAGE)
    counts = await store.run(store.lexicon.word_counts)
    engine = request.app[BOT].moderation_stage.engine
    samples = await store.run(store.lexicon.sample_counts)
    spam = engine.compiled.spam if engine else None
    return {"rows": rows[:PAGE], "more": len(rows) > PAGE, "page": page, "page_size": PAGE, "q": q, "counts": counts,
            "samples": samples, "spam": spam,
            "categories": categories(request), "actions": ACTIONS, "action_labels": ACTION_LABELS,
            "source_text": source_text,
            "skipped": engine.compiled.lexicon.skipped[:20] if engine else []}


@routes.post("/moderation/reload")
@require_role("moderator")
async def reload_all(request: web.Request) -> web.Response:
    result = await reload_engine(request)
    await audit(request, "moderation.reload", "", result)
    flash(
        request, f"已重新加载：{result.get('words', 0)} 个词，垃圾分训练样本 {result.get('spam_samples', 0)} 条", "ok"
    )
    raise web.HTTPFound("/moderation/lexicon")


@routes.post("/moderation/lexicon/add")
@require_role("moderator")
async def lexicon_add(request: web.Request) -> web.Response:
    form = await request.post()
    word = str(form.get("word", "")).strip()
    category = str(form.get("category", "")).strip() or "其他"
    action = str(form.get("action", "")).strip() or None
    back = str(form.get("back", "")) or "/moderation/lexicon"
    if len(word) < 2:
        flash(request, "敏感词至少两个字（单字词容易误伤）", "error")
        raise web.HTTPFound(_safe(back))
    if len(word) > MAX_WORD:
        flash(request, f"敏感词过长（{len(word)} 字，上限 {MAX_WORD} 字）", "error")
        raise web.HTTPFound(_safe(back))
    if action is not None and action not in ACTIONS:
        flash(request, f"未知动作 {action}", "error")
        raise web.HTTPFound(_safe(back))
    store = request.app[STORE]
    added, _ = await store.run(store.lexicon.add_words, [{"word": word, "category": category, "action": action,
                                                             "source": "console"}], replace=True)
    await reload_engine(request)
    await audit(request, "moderation.word.add", word, {"category": category, "action": action})
    flash(request, f"已加入敏感词“{word}”，立即生效" if added else f"已更新敏感词“{word}”", "ok")
    raise web.HTTPFound(_safe(back))


@routes.post("/moderation/lexicon/import")
@require_role("moderator")
async def lexicon_import(request: web.Request) -> web.Response:
    form = await request.post()
    upload = form.get("file")
    data = upload.file.read(MAX_IMPORT + 1) if isinstance(upload, web.FileField) else str(form.get("text", "")).encode()
    if len(data) > MAX_IMPORT:
        flash(request, "文件过大（上限 5 MB）", "error")
        raise web.HTTPFound("/moderation/lexicon")
    action = str(form.get("action", "")) or None
    try:
        parsed = parse(data, category=str(form.get("category", "")) or None, action=action,
                       force=bool(form.get("force")), source="console")
    except WordFileError as exc:
        flash(request, str(exc), "error")
        raise web.HTTPFound("/moderation/lexicon") from None
    words, allow, domains = split_words(parsed.words)
    store = request.app[STORE]
    added, _ = await store.run(store.lexicon.add_words, words)

    def add_allow() -> int:
        return sum(store.lexicon.add_allow("word", w) for w in allow) + sum(
            store.lexicon.add_allow("domain", d) for d in domains)

    allowed = await store.run(add_allow)
    await reload_engine(request)
    await audit(request, "moderation.word.import", f"{added} words",
                {"added": added, "allowlist": allowed, "rejected": len(parsed.errors), "encoding": parsed.encoding})
    for note in parsed.notes:
        flash(request, note, "ok")
    flash(request, f"导入完成：新增 {added} 个词，白名单 {allowed} 项，文件内重复 {parsed.duplicates} 个", "ok")
    if parsed.errors:
        shown = "；".join(parsed.errors[:5]) + ("……" if len(parsed.errors) > 5 else "")
        flash(request, f"拒绝 {len(parsed.errors)} 行：{shown}", "error")
    raise web.HTTPFound("/moderation/lexicon")


@routes.post("/moderation/lexicon/delete")
@require_role("moderator")
async def lexicon_delete(request: web.Request) -> web.Response:
    form = await request.post()
    ids = [int(str(v)) for v in form.getall("id", []) if str(v).isdigit()]
    if not ids:
        flash(request, "请先勾选要删除的词", "error")
        raise web.HTTPFound("/moderation/lexicon")
    store = request.app[STORE]
    words = [w for i in ids if (w := await store.run(store.lexicon.get_word, i))]
    n = await store.run(store.lexicon.delete_words, ids)
    await reload_engine(request)
    await audit(request, "moderation.word.delete", ",".join(w["word"] for w in words)[:200], {"ids": ids})
    flash(request, f"已删除 {n} 个词", "ok")
    raise web.HTTPFound("/moderation/lexicon")


@routes.get("/moderation/allowlist")
@require_role("moderator")
@aiohttp_jinja2.template("moderation/allowlist.html")
async def allowlist_page(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    rows = await store.run(store.lexicon.list_allow)
    settings = request.app[BOT].settings.moderation
    return {"words": [r for r in rows if r["kind"] == "word"], "domains": [r for r in rows if r["kind"] == "domain"],
            "config_domains": settings.rules.allowed_domains}


@routes.post("/moderation/allowlist/add")
@require_role("moderator")
async def allowlist_add(request: web.Request) -> web.Response:
    form = await request.post()
    kind = "domain" if form.get("kind") == "domain" else "word"
    value = str(form.get("value", "")).strip()
    back = str(form.get("back", "")) or "/moderation/allowlist"
    if kind == "domain":
        value = value.lower().removeprefix("https://").removeprefix("http://").split("/")[0]
    if not value or (kind == "domain" and "." not in value):
        flash(request, "请输入白名单词，或形如 example.com 的域名", "error")
        raise web.HTTPFound(_safe(back))
    if len(value) > MAX_WORD:
        flash(request, f"白名单项过长（{len(value)} 字，上限 {MAX_WORD} 字）", "error")
        raise web.HTTPFound(_safe(back))
    store = request.app[STORE]
    added = await store.run(store.lexicon.add_allow, kind, value, str(form.get("note", "")).strip())
    await reload_engine(request)
    await audit(request, f"moderation.allow.{kind}.add", value, {})
    flash(request, f"已加入白名单：{value}" if added else f"白名单中已有：{value}", "ok")
    raise web.HTTPFound(_safe(back))


@routes.post("/moderation/allowlist/{id:\\d+}/delete")
@require_role("moderator")
async def allowlist_delete(request: web.Request) -> web.Response:
    store = request.app[STORE]
    allow_id = int(request.match_info["id"])
    rows = [r for r in await store.run(store.lexicon.list_allow) if r["id"] == allow_id]
    if bool(rows) and await store.run(store.lexicon.remove_allow, allow_id):
        await reload_engine(request)
        await audit(request, f"moderation.allow.{rows[0]['kind']}.delete", rows[0]["value"], {})
        flash(request, f"已从白名单移除：{rows[0]['value']}", "ok")
    raise web.HTTPFound("/moderation/allowlist")


def _safe(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/moderation/lexicon"


__all__ = ["DOMAIN_ALLOW_CATEGORY", "categories", "reload_engine", "routes"]


SOURCE_LABELS = {"demo": "演示词库", "console": "控制台添加", "review": "审核时添加", "seed": "内置词库"}


def source_text(source: str) -> str:
    """Where a word came from, in words; a file name for words imported with the CLI."""
    if not source:
        return ""
    return SOURCE_LABELS.get(source, f"导入：{source}")
