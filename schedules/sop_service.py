"""群SOP changes from config.toml and the console, and the per-member preview (console and CLI).

config.toml sequences are synchronised into the store at every start: their definition follows
the file, a pause set in the console is kept until the file's `enabled` changes, and one removed
from the file is archived. Console sequences are edited in the console only.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from schedules import sop_members
from schedules.sop_config import SopConfig, parse_sequence, to_raw
from schedules.sop_plan import applies, condition_fails, load_spec, occurrence, render_step, source, step_times

if TYPE_CHECKING:
    from bot.services import DomainSettings
    from bot.store import Store

STATUS_LABELS = {"active": "启用", "paused": "已暂停", "archived": "已归档"}
STEP_LABELS = {"sent": "已发送", "pending": "待发送", "skipped": "已跳过", "failed": "发送失败"}


class SopError(ValueError):
    """A change that is not allowed (zh-CN message for the manager)."""


def sync_config(store: Store, settings: DomainSettings, now: datetime) -> None:
    """(writer thread or offline) config.toml's [[sop]] → the store."""
    repo = store.sop
    in_file = set()
    for spec in settings.sop:
        in_file.add(spec.id)
        row = repo.get_sequence(spec.id)
        raw = to_raw(spec)
        if row is None:
            repo.create_sequence(spec.id, raw, origin="config", status="active" if spec.enabled else "paused",
                                 since=now, config_enabled=spec.enabled)
            continue
        status = None
        if row["config_enabled"] is None or bool(row["config_enabled"]) != spec.enabled or row["status"] == "archived":
            status = "active" if spec.enabled else "paused"
        repo.update_sequence(spec.id, spec=raw, status=status, config_enabled=spec.enabled, origin="config")
    for row in repo.list_sequences():
        if row["origin"] == "config" and row["id"] not in in_file and row["status"] != "archived":
            repo.update_sequence(row["id"], status="archived")


def save(store: Store, raw: dict[str, Any], now: datetime, *, seq_id: str | None = None) -> SopConfig:
    """(writer thread) Create (seq_id None) or replace a console sequence; raises ConfigError / SopError."""
    spec = parse_sequence(raw)
    repo = store.sop
    existing = repo.get_sequence(spec.id)
    if seq_id is None:
        if existing is not None:
            raise SopError(f"序列 id “{spec.id}”已被使用")
        repo.create_sequence(spec.id, to_raw(spec), origin="console",
                             status="active" if spec.enabled else "paused", since=now)
        return spec
    current = repo.get_sequence(seq_id)
    if current is None:
        raise SopError(f"序列 {seq_id} 不存在")
    if current["origin"] == "config":
        raise SopError("此序列来自 config.toml，请在配置文件中修改")
    if spec.id != seq_id:
        raise SopError("序列 id 保存后不能修改（它是发送记录的一部分）")
    was_enabled = current["spec"].get("enabled", True)
    status = None if spec.enabled == was_enabled else ("active" if spec.enabled else "paused")
    repo.update_sequence(seq_id, spec=to_raw(spec), status=status)
    return spec


def set_status(store: Store, seq_id: str, status: str) -> None:
    """(writer thread) pause / resume / archive a sequence."""
    if status not in STATUS_LABELS:
        raise SopError(f"未知状态 {status}")
    if store.sop.get_sequence(seq_id) is None:
        raise SopError(f"序列 {seq_id} 不存在")
    store.sop.update_sequence(seq_id, status=status)


def member_preview(store: Store, settings: DomainSettings, ref: str, now: datetime) -> list[dict[str, Any]]:
    """Every step of every sequence that applies to a member: time, status, rendered text.

    A member found in several groups is listed per group. Raises SopError when the ref
    matches nobody."""
    tz: ZoneInfo = settings.tz
    memberships = store.sop.find_members(ref)
    if not memberships:
        raise SopError(f"找不到成员 {ref!r}（可写成员 id、platform:成员 id 或昵称）")
    seqs = {}
    for row in store.sop.list_sequences(("active", "paused")):
        spec = load_spec(row)
        if spec is not None:
            seqs[row["id"]] = (row, spec)
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for m in memberships:
        mine = store.sop.member_enrollments(m["member_id"], m["platform"])
        enrolled = {(e["seq_id"], e["member_id"]): e for e in mine if e["chat_id"] == m["chat_id"]}
        chat = store.chats.get_chat(m["platform"], m["chat_id"]) or {"name": "", "tags": []}
        for seq_id, (row, spec) in seqs.items():
            key_member = m["member_id"] if spec.anchor == "member_joined" else ""
            enrollment = enrolled.get((seq_id, key_member))
            if enrollment is not None:
                if enrollment["id"] in seen or enrollment["status"] == "baseline":
                    continue
                seen.add(enrollment["id"])
                anchor = enrollment["anchor_at"]
            elif spec.anchor == "member_joined" and _would_enroll(row, spec, m, chat):
                anchor = datetime.fromisoformat(m["joined_at"])
            else:
                continue
            for i, (step, due) in enumerate(zip(spec.steps, step_times(anchor, spec, tz), strict=True)):
                status, reason = _step_status(store, enrollment, spec.id, i, m)
                if status == "pending" and (step.if_tag or step.unless_tag):
                    failed = condition_fails(step, sop_members.member_tags(store, m["platform"], m["member_id"]))
                    if failed:
                        reason = f"按当前标签将跳过（{failed}）"
                local = due.astimezone(tz)
                nickname = m["name"] or m["member_id"]
                text = render_step(spec, step, nickname=nickname, group=chat["name"] or m["chat_id"], local=local)
                out.append({
                    "sequence": spec.id, "anchor": spec.anchor, "step": i + 1, "after": step.after,
                    "to": step.target, "platform": m["platform"], "chat": m["chat_id"], "chat_name": chat["name"],
                    "member": m["member_id"], "nickname": m["name"], "time": local.isoformat(),
                    "status": status, "reason": reason, "text": text,
                })
    out.sort(key=lambda r: (r["time"], r["sequence"], r["step"]))
    return out


def _would_enroll(row: dict[str, Any], spec: SopConfig, member: dict[str, Any], chat: dict[str, Any]) -> bool:
    """Joined after the sequence began, still here, in a matching group: enrolled at the next tick."""
    joined = member.get("joined_at")
    return isinstance(joined, str) and member.get("left_at") is None and row["status"] == "active" \
        and datetime.fromisoformat(joined) >= row["since"] and applies(spec, chat["tags"])


def _step_status(store: Store, enrollment: dict[str, Any] | None, seq_id: str, index: int,
                 member: dict[str, Any]) -> tuple[str, str]:
    """(status, reason): sent / pending / skipped / failed for the member."""
    if enrollment is None:
        return "pending", "入群已记录，下一次检查时加入序列"
    decided = enrollment["steps"].get(index)
    if decided is None:
        if enrollment["status"] == "stopped":
            return "skipped", enrollment["reason"]
        return "pending", ""
    if decided["status"] == "skipped":
        return "skipped", decided["reason"]
    occ = occurrence(enrollment["platform"], enrollment["chat_id"], enrollment["member_id"])
    mine = [r for r in store.sop.deliveries(source(seq_id, index), occ)
            if enrollment["member_id"] or r["chat_id"] in (member["member_id"], enrollment["chat_id"])]
    statuses = {r["status"] for r in mine}
    if not mine or statuses <= {"pending", "sending"}:
        return "pending", "已提交，等待发送"
    if "sent" in statuses:
        return "sent", decided["reason"]
    if statuses & {"failed", "uncertain"}:
        return "failed", next((r["error"] for r in mine if r["error"]), "")
    return "skipped", next((r["error"] for r in mine if r["error"]), "已过期")
