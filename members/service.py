"""The member actions the console and the CLI share: one function per action, each writing the
same audit entry whoever calls it. Blocking store code: the CLI calls it directly, the console
through `store.run`. Errors are MemberError with the zh-CN text a manager reads."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.store.base import dumps, iso, utcnow
from bot.store.members import GROUP_SCOPED_PLATFORMS, MemberRefError, make_ref, mute_end, parse_ref

if TYPE_CHECKING:
    from bot.store import Store

# a tag: a short word without spaces or separators (the CSV and the forms split on those)
TAG_RE = re.compile(r"^[^\s,;，；、|]{1,32}$")
TAG_SPLIT = re.compile(r"[\s,;，；、|]+")
NOTE_MAX = 2000


class MemberError(ValueError):
    """A member action refused, with the reason for the manager (zh-CN)."""


def resolve(store: Store, ref: str) -> tuple[str, str]:
    """A known member's (platform, user_id); MemberError for a malformed or unknown ref."""
    try:
        platform, user_id = parse_ref(ref)
    except MemberRefError as exc:
        raise MemberError(str(exc)) from None
    if not store.members.exists(platform, user_id):
        raise MemberError(f"未找到成员 {ref}（成员在任一群里发过言或进过群后才会出现在成员名录中）")
    return platform, user_id


def check_tag(tag: str) -> str:
    tag = (tag or "").strip()
    if not TAG_RE.match(tag):
        raise MemberError(f"标签 {tag!r} 无效：1–32 个字，不能含空格、逗号、分号、顿号或竖线")
    return tag


def known_tags(store: Store, rule_tags: list[str] | tuple[str, ...] = ()) -> set[str]:
    """Tags some member has, plus the ones `[[member_tags]]` rules give."""
    return store.members.known_tags() | set(rule_tags)


def check_known_tag(store: Store, tag: str, rule_tags: list[str] | tuple[str, ...] = ()) -> str:
    tag = check_tag(tag)
    known = known_tags(store, rule_tags)
    if tag not in known:
        listed = "、".join(sorted(known)[:20]) or "（还没有任何成员标签）"
        raise MemberError(f"未知的成员标签 {tag!r}；已有标签：{listed}")
    return tag


def audit(store: Store, actor: str, action: str, ref: str, detail: dict[str, Any] | None = None) -> None:
    store.accounts.audit(actor, action, ref, detail or {})


# -- tags and notes ------------------------------------------------------------------------

def add_tag(store: Store, ref: str, tag: str, actor: str) -> bool:
    """Tag a member by hand; False when they already had the tag."""
    platform, user_id = resolve(store, ref)
    tag = check_tag(tag)
    added = store.members.add_tags([(platform, user_id, tag)], actor=actor) > 0
    if added:
        audit(store, actor, "member.tag.add", make_ref(platform, user_id), {"tag": tag})
    return added


def remove_tag(store: Store, ref: str, tag: str, actor: str) -> None:
    platform, user_id = resolve(store, ref)
    tag = check_tag(tag)
    if not store.members.remove_tags([(platform, user_id, tag)]):
        have = "、".join(t["tag"] for t in store.members.tags_of(platform, user_id)) or "无"
        raise MemberError(f"成员 {ref} 没有标签 {tag!r}（现有标签：{have}）")
    audit(store, actor, "member.tag.remove", make_ref(platform, user_id), {"tag": tag})


def add_note(store: Store, ref: str, text: str, actor: str) -> int:
    platform, user_id = resolve(store, ref)
    text = (text or "").strip()
    if not text:
        raise MemberError("备注不能为空")
    if len(text) > NOTE_MAX:
        raise MemberError(f"备注最多 {NOTE_MAX} 字")
    note_id = store.members.add_note(platform, user_id, text, actor)
    # the note itself is personal data: the audit says that one was written, not what
    audit(store, actor, "member.note", make_ref(platform, user_id), {"note_id": note_id})
    return note_id


@dataclass
class ImportReport:
    """What a CSV tag import did, or why it did nothing."""

    rows: int = 0
    added: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "added": self.added, "imported": not self.errors,
                "errors": [{"line": line, "error": text} for line, text in self.errors]}


def import_tags_csv(store: Store, text: str, actor: str) -> ImportReport:
    """Rows `ref,tags` (tags separated by spaces, ; 、 or |; a header row is allowed). Every row
    is checked first: with any bad row nothing is imported, and each error names its line."""
    report = ImportReport()
    pairs: list[tuple[str, str, str]] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    for line_no, row in enumerate(reader, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line_no == 1 and cells[0].lower() in ("ref", "成员", "member"):
            continue
        report.rows += 1
        if len(cells) < 2 or not cells[1]:
            report.errors.append((line_no, "需要两列：成员编号,标签"))
            continue
        ref = cells[0]
        try:
            platform, user_id = resolve(store, ref)
            tags = [check_tag(t) for t in TAG_SPLIT.split(",".join(cells[1:])) if t]
        except MemberError as exc:
            report.errors.append((line_no, str(exc)))
            continue
        pairs += [(platform, user_id, t) for t in tags]
    if report.errors or not pairs:
        return report
    report.added = store.members.add_tags(pairs, actor=actor)
    audit(store, actor, "member.tag.import", "", {"rows": report.rows, "added": report.added})
    return report


# -- reading -------------------------------------------------------------------------------

def show(store: Store, ref: str, now: datetime | None = None) -> dict[str, Any]:
    """The member page's data and `member show --json`."""
    platform, user_id = resolve(store, ref)
    now = now or utcnow()
    repo = store.members
    profile = repo.get(platform, user_id) or {}
    ref = make_ref(platform, user_id)
    groups = repo.groups(platform, user_id)
    history = repo.strikes(platform, user_id)
    ends = [e for s in history if not s["revoked"] and (e := mute_end(s)) is not None and e > now]
    now_s = iso(now)
    for s in history:
        s["active"] = not s["revoked"] and s["expires_at"] > now_s
    return {
        "ref": ref, "platform": platform, "user_id": user_id, "name": profile.get("name", ""),
        "names": [n["name"] for n in repo.names(platform, user_id)],
        "name_history": repo.names(platform, user_id),
        "groups": [g["chat_name"] or g["chat_id"] for g in groups if not g["left_at"]],
        "group_details": groups,
        "tags": [t["tag"] for t in repo.tags_of(platform, user_id)],
        "tag_details": repo.tags_of(platform, user_id),
        "first_seen_at": profile.get("first_seen_at"), "last_seen_at": profile.get("last_seen_at"),
        "messages": profile.get("messages", 0),
        "strikes": sum(1 for s in history if s["active"]), "strike_history": history,
        "muted_until": iso(max(ends)) if ends else None,
        "blacklisted": repo.is_blacklisted(ref),
        "notes": repo.notes(platform, user_id),
        "group_scoped": platform in GROUP_SCOPED_PLATFORMS,
        "deleted_at": profile.get("deleted_at"),
    }


def list_members(store: Store, *, group: str = "", tag: str = "", text: str = "", muted: bool = False,
                 blacklisted: bool = False, silent_days: int = 0, limit: int = 50, offset: int = 0,
                 rule_tags: list[str] | tuple[str, ...] = (), now: datetime | None = None,
                 ) -> tuple[list[dict[str, Any]], int]:
    """A page of members with the filters of the console and `member list`."""
    chat = None
    if group:
        found = store.chats.find_chat(group)
        if found is None:
            raise MemberError(f"未找到群 {group!r}（可用群名或群 ID）")
        chat = (found["platform"], found["chat_id"])
    if tag:
        tag = check_known_tag(store, tag, rule_tags)
    now = now or utcnow()
    rows, total = store.members.search(
        text=text.strip(), chat=chat, tag=tag, muted_at=now if muted else None, blacklisted=blacklisted,
        silent_days=silent_days, now=now, limit=limit, offset=offset,
    )
    for r in rows:
        r["names"] = [r["name"]] if r["name"] else []
        r["group_scoped"] = r["platform"] in GROUP_SCOPED_PLATFORMS
    return rows, total


# -- a member's own data -------------------------------------------------------------------

def export(store: Store, ref: str, fmt: str = "json") -> str:
    """Everything stored about the member, as JSON or CSV text."""
    platform, user_id = resolve(store, ref)
    data = store.members.export(platform, user_id)
    if fmt == "json":
        return dumps(data)
    if fmt != "csv":
        raise MemberError(f"不支持的导出格式 {fmt!r}（可用 json 或 csv）")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "time", "chat_id", "text", "detail"])
    profile = data["profile"] or {}
    writer.writerow(["profile", profile.get("first_seen_at", ""), "", profile.get("name", ""), dumps(profile)])
    for n in data["names"]:
        writer.writerow(["name", n["first_seen_at"], "", n["name"], dumps(n)])
    for g in data["groups"]:
        writer.writerow(["group", g["joined_at"] or g["last_seen_at"] or "", g["chat_id"], g["chat_name"], dumps(g)])
    for t in data["tags"]:
        writer.writerow(["tag", t["created_at"], "", t["tag"], dumps(t)])
    for n in data["notes"]:
        writer.writerow(["note", n["created_at"], "", n["text"], dumps(n)])
    for s in data["strikes"]:
        writer.writerow(["strike", s["time"], s["chat_id"], s["reason"], dumps(s)])
    for f in data["flags"]:
        writer.writerow(["flag", f["time"], f["chat_id"], f["text"], dumps(f)])
    for m in data["messages"]:
        writer.writerow(["message", m["time"], m["chat_id"], m["text"], dumps(m["decisions"])])
    for d in data["deliveries"]:
        writer.writerow(["delivery", d["created_at"], d["chat_id"], d["payload"].get("text", ""), dumps(d)])
    for j in data["join_requests"]:
        writer.writerow(["join_request", j.get("created_at", ""), j.get("chat_id", ""), "", dumps(j)])
    return out.getvalue()


def delete(store: Store, ref: str, actor: str) -> dict[str, int]:
    """Erase the member's content and personal fields (the audit row: who, when, whom)."""
    platform, user_id = resolve(store, ref)
    return store.members.erase(platform, user_id, actor)


def duration_text(seconds: float) -> str:
    """A duration for people: days and hours, never seconds."""
    hours = round(seconds / 3600)
    days, hours = divmod(hours, 24)
    if days and hours:
        return f"{days} 天 {hours} 小时"
    if days:
        return f"{days} 天"
    return f"{max(hours, 1) if seconds > 0 else 0} 小时"
