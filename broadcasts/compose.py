"""From what a manager typed to a checked broadcast: targets, rendered text per chat, size limits.

Pure functions: the CLI and the console call the same `compose()` and get the same errors.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.kernel.actions import IMAGE, LINK_CARD, PRIVATE
from bot.kernel.templates import group_values, render, validate
from bot.urls import url_error

# broadcasts to groups render in the group-level context (docs/broadcast.md)
CONTEXT = "group"
KINDS = ("text", "image", "link")
MAX_TEXT = 4000
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class PlatformInfo:
    """What compose needs of an adapter: what it can send and how long a text may be."""

    name: str
    capabilities: frozenset[str] = frozenset()
    # 0: no limit; else the longest text in UTF-8 bytes
    max_text_bytes: int = 0
    # over the limit: split into several messages (True) or refuse the broadcast (False)
    split_long_text: bool = True


@dataclass
class Draft:
    """What the manager asked for."""

    text: str
    tags: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    at: str = ""
    kind: str = "text"
    image: str = ""
    url: str = ""
    title: str = ""
    by: str = "cli"


class ComposeError(ValueError):
    """Every mistake of a draft, zh-CN, one per line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Composed:
    """A checked draft: the targets with their payload parts, ready to store."""

    draft: Draft
    send_at: datetime | None
    targets: list[dict[str, Any]]

    def preview(self) -> list[dict[str, Any]]:
        return [{"chat": t["chat_id"], "name": t["name"], "platform": t["platform"],
                 "text": "\n".join(p["text"] for p in t["parts"]), "parts": len(t["parts"]), "note": t["note"],
                 "eta": t.get("eta")} for t in self.targets]


def suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.3)
    return f"，您是不是要找：{'、'.join(close)}" if close else ""


def parse_at(text: str, tz: ZoneInfo, now: datetime) -> tuple[datetime | None, list[str]]:
    """"YYYY-MM-DD HH:MM" in the bot's timezone → UTC; "" → now (None)."""
    text = (text or "").strip()
    if not text:
        return None, []
    try:
        local = datetime.strptime(text, TIME_FORMAT).replace(tzinfo=tz)
    except ValueError:
        return None, [f"发送时间 {text!r} 格式不对，应写成 \"YYYY-MM-DD HH:MM\"（如 \"2026-12-24 20:00\"）"]
    if local <= now:
        shown = now.astimezone(tz).strftime(TIME_FORMAT)
        return None, [f"发送时间 {text} 已经过去（现在是 {shown}），请填写将来的时间，或不填表示立即发送"]
    return local, []


def resolve(draft: Draft, chats: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Group chats named by tag or name/id, minus the excluded; unknown names are errors with suggestions."""
    errors: list[str] = []
    groups = [c for c in chats if (c.get("kind") or "group") == "group"]
    names: dict[str, list[dict[str, Any]]] = {}
    for c in groups:
        for key in {c["chat_id"], f"{c['platform']}:{c['chat_id']}", c.get("name") or ""} - {""}:
            names.setdefault(key, []).append(c)
    all_tags = sorted({t for c in groups for t in c.get("tags") or ()})
    shown_names = sorted({c.get("name") or c["chat_id"] for c in groups})
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for tag in draft.tags:
        hits = [c for c in groups if tag in (c.get("tags") or ())]
        if not hits:
            errors.append(f"未知的标签 {tag!r}（没有群带这个标签）{suggest(tag, all_tags)}")
        for c in hits:
            chosen[(c["platform"], c["chat_id"])] = c
    for name in draft.groups:
        hits = names.get(name, [])
        if not hits:
            errors.append(f"未知的群 {name!r}{suggest(name, shown_names)}")
        for c in hits:
            chosen[(c["platform"], c["chat_id"])] = c
    for name in draft.exclude:
        hits = names.get(name, [])
        if not hits:
            errors.append(f"要排除的群 {name!r} 不存在{suggest(name, shown_names)}")
        for c in hits:
            chosen.pop((c["platform"], c["chat_id"]), None)
    targets = sorted(chosen.values(), key=lambda c: (c["platform"], c.get("name") or "", c["chat_id"]))
    return targets, errors


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, cut at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > limit:
            cut = len(line)
            while len(line[:cut].encode()) > limit:
                cut -= max(1, (len(line[:cut].encode()) - limit) // 3)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current or not pieces:
        pieces.append(current)
    return [p.rstrip("\n") for p in pieces]


def payloads(draft: Draft, text: str, info: PlatformInfo | None) -> tuple[list[dict[str, Any]], str, str]:
    """(payload parts, note shown in the preview, error) of one target's rendered text."""
    caps = info.capabilities if info else frozenset()
    notes: list[str] = []
    base: dict[str, Any] = {"kind": "text", "bulk": True}
    if draft.kind == "image":
        if IMAGE in caps:
            base.update(kind="image", image=draft.image)
        else:
            text = f"{text}\n[图片] {draft.image}"
            notes.append("该平台不支持发送图片，改为文字加图片链接")
    elif draft.kind == "link":
        if LINK_CARD in caps:
            base.update(kind="link", url=draft.url, title=draft.title)
        else:
            text = f"{text}\n{draft.title} {draft.url}".rstrip()
            notes.append("该平台不支持链接卡片，改为文字加链接")
    pieces = [text]
    limit = info.max_text_bytes if info else 0
    if limit and len(text.encode()) > limit:
        if not info or not info.split_long_text:
            name = info.name if info else "?"
            size = len(text.encode())
            return [], "", f"内容 {size} 字节，超过 {name} 的单条上限 {limit} 字节（该平台不拆分发送），请缩短"
        pieces = split_text(text, limit)
        notes.append(f"超过单条上限 {limit} 字节，拆成 {len(pieces)} 条发送")
    parts = []
    for i, piece in enumerate(pieces):
        part = {**base, "text": piece}
        if i and part["kind"] != "text":  # the card or image goes with the first part only
            part = {"kind": "text", "bulk": True, "text": piece}
        parts.append(part)
    return parts, "；".join(notes), ""


def compose(draft: Draft, chats: list[dict[str, Any]], platforms: dict[str, PlatformInfo], tz: ZoneInfo,
            now: datetime, rng: random.Random | None = None,
            estimate: Callable[[str, int, datetime], datetime] | None = None) -> Composed:
    """Check a draft and render every target; raises ComposeError listing every mistake."""
    errors: list[str] = []
    text = (draft.text or "").strip()
    if not text:
        errors.append("内容不能为空")
    elif len(text) > MAX_TEXT:
        errors.append(f"内容太长（最多 {MAX_TEXT} 个字符）")
    errors += validate(text, CONTEXT)
    if draft.kind not in KINDS:
        errors.append(f"类型 {draft.kind!r} 无效，应为 text、image、link 之一")
    if draft.kind == "image":
        problem = url_error(draft.image) if draft.image else "请填写图片地址"
        if problem:
            errors.append(f"图片地址：{problem}")
    if draft.kind == "link":
        problem = url_error(draft.url) if draft.url else "请填写链接地址"
        if problem:
            errors.append(f"链接：{problem}")
    if not draft.tags and not draft.groups:
        errors.append("请至少指定一个目标：群标签（--tag）或群（--group）")
    send_at, at_errors = parse_at(draft.at, tz, now)
    errors += at_errors
    chosen, target_errors = resolve(draft, chats)
    errors += target_errors
    if (draft.tags or draft.groups) and not target_errors and not chosen:
        errors.append("没有任何目标群：所选的群都被排除了")
    local = (send_at or now).astimezone(tz)
    targets: list[dict[str, Any]] = []
    if not errors:
        per_platform: dict[str, int] = {}
        for c in chosen:
            info = platforms.get(c["platform"])
            if info is None:
                errors.append(f"群 {c.get('name') or c['chat_id']} 所在的平台 {c['platform']} 未启用")
                continue
            rendered = render(text, CONTEXT, group_values(c.get("name") or c["chat_id"], local), rng)
            parts, note, error = payloads(draft, rendered, info)
            if error:
                errors.append(f"{c.get('name') or c['chat_id']}：{error}")
                continue
            per_platform[c["platform"]] = per_platform.get(c["platform"], 0) + len(parts)
            eta = estimate(c["platform"], per_platform[c["platform"]], send_at or now) if estimate else None
            targets.append({"platform": c["platform"], "chat_id": c["chat_id"], "chat_kind": "group",
                            "name": c.get("name") or "", "parts": parts, "note": note, "eta": eta})
    if errors:
        raise ComposeError(list(dict.fromkeys(errors)))
    return Composed(draft, send_at, targets)


def can_private(info: PlatformInfo | None) -> bool:
    """1:1 broadcasts (member tags) need private sends; the members domain wires that target."""
    return info is not None and PRIVATE in info.capabilities
