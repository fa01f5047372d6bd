"""From what a manager typed to a checked broadcast: targets, rendered text per chat, size limits.

Pure functions: the CLI and the console call the same `compose()` and get the same errors.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.kernel.actions import IMAGE, LINK_CARD, PRIVATE
from bot.kernel.priorities import BULK_KEY
from bot.kernel.templates import clean_value, group_values, render, time_values, validate
from bot.store.wecom_contact import CUSTOMER_GROUP, DISMISSED
from bot.urls import url_error
from schedules.wecom_contact_plan import OWNER_CONFIRMS

# broadcasts to groups render in the group-level context, 1:1 ones in the private context
CONTEXT = "group"
PRIVATE_CONTEXT = "private"
# who carries member tags: [{"platform", "user_id", "nickname"}] for the tags given; the members
# directory provides it (None: member-tag targets are refused with a reason)
MembersByTag = Callable[[list[str]], list[dict[str, Any]]]
KINDS = ("text", "image", "link")
MAX_TEXT = 4000
TIME_FORMAT = "%Y-%m-%d %H:%M"
# chat kinds a broadcast may target: ordinary groups and WeCom customer groups (企业群发, one
# task per owner, see broadcasts/customer_groups.py)
GROUP_KINDS = ("group", CUSTOMER_GROUP, DISMISSED)


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
    # members carrying one of these tags get it 1:1, where their platform allows private sends
    member_tags: list[str] = field(default_factory=list)


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
    # targets listed but not sent, each with `refused` (why) and no parts: a member whose
    # platform has no private sends, a customer group beyond the corp's 企业群发 limit
    refused: list[dict[str, Any]] = field(default_factory=list)

    def preview(self) -> list[dict[str, Any]]:
        """Every target, then the refused ones with `refused`."""
        rows = []
        for t in self.targets + self.refused:
            row = {"chat": t["chat_id"], "name": t["name"], "platform": t["platform"],
                   "text": t.get("text") or "\n".join(p["text"] for p in t["parts"]), "parts": len(t["parts"]),
                   "note": t["note"], "eta": t.get("eta")}
            if t.get("refused"):
                row["refused"] = t["refused"]
            rows.append(row)
        return rows

    def refuse(self, target: dict[str, Any], why: str) -> None:
        """Move a target to `refused`: listed with the reason, never sent."""
        self.targets.remove(target)
        text = "\n".join(p["text"] for p in target["parts"])
        self.refused.append({**target, "text": text, "parts": [], "note": why, "refused": why, "eta": None})


def suggest(name: str, known: Iterable[str]) -> str:
    folded = {k.casefold(): k for k in known}  # "vip" finds "VIP"
    close = [folded[c] for c in difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.3)]
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
    groups = [c for c in chats if (c.get("kind") or "group") in GROUP_KINDS]
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
    base: dict[str, Any] = {"kind": "text", BULK_KEY: True}
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
            part = {"kind": "text", BULK_KEY: True, "text": piece}
        parts.append(part)
    return parts, "；".join(notes), ""


def compose(draft: Draft, chats: list[dict[str, Any]], platforms: dict[str, PlatformInfo], tz: ZoneInfo,
            now: datetime, rng: random.Random | None = None,
            estimate: Callable[[str, int, datetime], datetime] | None = None,
            members: MembersByTag | None = None, known_member_tags: Collection[str] | None = None) -> Composed:
    """Check a draft and render every target; raises ComposeError listing every mistake."""
    errors: list[str] = []
    text = (draft.text or "").strip()
    if not text:
        errors.append("内容不能为空")
    elif len(text) > MAX_TEXT:
        errors.append(f"内容太长（最多 {MAX_TEXT} 个字符）")
    if draft.tags or draft.groups or not draft.member_tags:
        errors += validate(text, CONTEXT)
    if draft.member_tags:
        errors += validate(text, PRIVATE_CONTEXT)
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
    if not draft.tags and not draft.groups and not draft.member_tags:
        errors.append("请至少指定一个目标：群标签（--tag）、群（--group）或成员标签（--member-tag）")
    send_at, at_errors = parse_at(draft.at, tz, now)
    errors += at_errors
    chosen, target_errors = resolve(draft, chats)
    errors += target_errors
    if (draft.tags or draft.groups) and not target_errors and not chosen:
        errors.append("没有任何目标群：所选的群都被排除了")
    people: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = []
    if draft.member_tags:
        people, left_out, member_errors = _members(draft.member_tags, members, platforms, known_member_tags)
        errors += member_errors
        if left_out and not people and not chosen and not member_errors:
            names = "、".join(sorted({m["platform"] for m in left_out}))
            errors.append(f"带这些标签的成员所在平台（{names}）不支持机器人私聊，无法 1 对 1 发送")
    if any(is_customer_group(c) for c in chosen) and "{group}" in text:
        errors.append("企业微信客户群的群发由群主一次发给他的所有群，内容不能含 {group}，请去掉或分开群发")
    local = (send_at or now).astimezone(tz)
    targets: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    if not errors:
        per_platform: dict[str, int] = {}
        shared = ""  # one text for every customer group (one 企业群发 task per owner)
        for c in chosen:
            info = platforms.get(c["platform"])
            if info is None:
                errors.append(f"群 {c.get('name') or c['chat_id']} 所在的平台 {c['platform']} 未启用")
                continue
            if is_customer_group(c):
                shared = shared or render(text, CONTEXT, group_values("", local), rng)
                targets.append({"platform": c["platform"], "chat_id": c["chat_id"], "chat_kind": c["kind"],
                                "name": c.get("name") or "", "parts": [task_part(draft, shared)],
                                "note": OWNER_CONFIRMS, "eta": None})
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
        for m in people:
            info = platforms[m["platform"]]
            values = {"nickname": clean_value(m.get("nickname") or m["user_id"]), **time_values(local)}
            parts, note, error = payloads(draft, render(text, PRIVATE_CONTEXT, values, rng), info)
            if error:
                errors.append(f"{m.get('nickname') or m['user_id']}：{error}")
                continue
            per_platform[m["platform"]] = per_platform.get(m["platform"], 0) + len(parts)
            eta = estimate(m["platform"], per_platform[m["platform"]], send_at or now) if estimate else None
            targets.append({"platform": m["platform"], "chat_id": m["user_id"], "chat_kind": "private",
                            "name": m.get("nickname") or "", "parts": parts, "note": note, "eta": eta})
        for m in left_out:
            # listed, not sent: the preview and the progress say why
            why = no_private(m["platform"], platforms.get(m["platform"]))
            refused.append({"platform": m["platform"], "chat_id": m["user_id"], "chat_kind": "private",
                            "name": m.get("nickname") or "", "parts": [], "note": why, "refused": why, "eta": None})
    if errors:
        raise ComposeError(list(dict.fromkeys(errors)))
    return Composed(draft, send_at, targets, refused)


def is_customer_group(chat: dict[str, Any]) -> bool:
    return chat.get("platform") == "wecom" and chat.get("kind", chat.get("chat_kind")) in (CUSTOMER_GROUP, DISMISSED)


def task_part(draft: Draft, text: str) -> dict[str, Any]:
    """A customer group's one part: the text, the image or link card as a 企业群发 attachment."""
    part: dict[str, Any] = {"kind": "groupmsg", "text": text, BULK_KEY: True}
    if draft.kind == "image":
        part["attachments"] = [{"type": "image", "url": draft.image}]
    elif draft.kind == "link":
        part["attachments"] = [{"type": "link", "title": draft.title or draft.url, "url": draft.url}]
    return part


def can_private(info: PlatformInfo | None) -> bool:
    """1:1 broadcasts (member tags) need private sends."""
    return info is not None and PRIVATE in info.capabilities


def _members(tags: list[str], members: MembersByTag | None, platforms: dict[str, PlatformInfo],
             known: Collection[str] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(members to message 1:1, members left out because their platform has no private sends,
    errors). With `known`, a tag no member carries is refused with the close ones."""
    if members is None:
        return [], [], ["按成员标签 1 对 1 群发需要成员目录（尚未启用），请改用群标签或群"]
    if known is not None:
        unknown = [t for t in tags if t not in known]
        if unknown:
            shown = "、".join(sorted(known)) or "（还没有成员标签）"
            return [], [], [f"未知的成员标签 {t!r}{suggest(t, known)}（现有成员标签：{shown}）" for t in unknown]
    found = members(tags)
    if not found:
        return [], [], [f"没有成员带标签 {'、'.join(tags)}"]
    reachable = [m for m in found if can_private(platforms.get(m["platform"]))]
    unreachable = [m for m in found if not can_private(platforms.get(m["platform"]))]
    return reachable, unreachable, []


def no_private(platform: str, info: PlatformInfo | None) -> str:
    """Why a member on `platform` gets no 1:1 message (shown in the preview)."""
    if info is None:
        return f"平台 {platform} 未启用，无法私聊"
    return f"{platform} 平台不支持机器人私聊，无法 1 对 1 发送"
