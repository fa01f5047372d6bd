"""The actions on broadcasts, shared by the console and the CLI: create, approve, cancel, retry, show.

Each writes the store and the audit log; the running bot's runner (broadcasts/runner.py) sees the
change within `[broadcast] poll_seconds` and sends, cancels or retries through the outbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.store.broadcasts import source_of
from broadcasts.compose import Composed

if TYPE_CHECKING:
    from bot.store import Store

STATUS_LABELS = {
    "pending_approval": "待审批", "scheduled": "待发送", "sending": "发送中", "done": "已完成", "cancelled": "已取消",
}
TARGET_LABELS = {"pending": "待发送", "sent": "已发送", "failed": "失败", "uncertain": "结果未知",
                 "cancelled": "已取消", "skipped": "已跳过", "refused": "不发送",
                 # WeCom customer groups: the owner's 企业群发 task (wecom_contact task tables)
                 "waiting": "等待群主确认", "not_sent": "未发送"}


class BroadcastError(ValueError):
    """A refused action (zh-CN)."""


def create(store: Store, composed: Composed, approval: bool) -> dict[str, Any]:
    draft = composed.draft
    status = "pending_approval" if approval else "scheduled"
    media = {"image": draft.image} if draft.kind == "image" else (
        {"url": draft.url, "title": draft.title} if draft.kind == "link" else {})
    spec = {"tags": draft.tags, "groups": draft.groups, "exclude": draft.exclude, "member_tags": draft.member_tags}
    sendable = len(composed.targets)
    bid = store.broadcasts.create(
        {"status": status, "kind": draft.kind, "text": draft.text, "media": media, "spec": spec,
         "send_at": composed.send_at, "created_by": draft.by},
        # the refused are kept (no parts, the reason as note): progress lists them as 不发送
        composed.targets + composed.refused,
    )
    store.accounts.audit(draft.by, "broadcasts.create", f"broadcast:{bid}",
                         {"targets": sendable, "status": status, "text": draft.text[:200]})
    return {"id": bid, "status": status, "targets": sendable, "preview": composed.preview()}


def get(store: Store, broadcast_id: int) -> dict[str, Any]:
    row = store.broadcasts.get(broadcast_id)
    if row is None:
        raise BroadcastError(f"群发 #{broadcast_id} 不存在")
    return row


def approve(store: Store, broadcast_id: int, by: str) -> dict[str, Any]:
    row = get(store, broadcast_id)
    if row["status"] != "pending_approval":
        raise BroadcastError(f"群发 #{broadcast_id} 当前状态是「{STATUS_LABELS.get(row['status'], row['status'])}」，"
                             "不需要审批")
    if by == row["created_by"]:
        raise BroadcastError(f"不能审批自己创建的群发（创建人：{by}），请由另一位管理员审批")
    store.broadcasts.set_status(broadcast_id, "scheduled", approved_by=by)
    store.accounts.audit(by, "broadcasts.approve", f"broadcast:{broadcast_id}", {"created_by": row["created_by"]})
    return get(store, broadcast_id)


def cancel(store: Store, broadcast_id: int, by: str) -> dict[str, Any]:
    row = get(store, broadcast_id)
    if row["status"] in ("cancelled", "done"):
        raise BroadcastError(f"群发 #{broadcast_id} 已{STATUS_LABELS[row['status']][1:]}，无法取消")
    store.broadcasts.set_status(broadcast_id, "cancelled")
    # the rows already handed to the outbox are withdrawn by the running bot (or at its next start)
    store.broadcasts.request(broadcast_id, "cancel")
    store.accounts.audit(by, "broadcasts.cancel", f"broadcast:{broadcast_id}", {"before": row["status"]})
    return get(store, broadcast_id)


def retry(store: Store, broadcast_id: int, by: str) -> int:
    """Ask for the failed and uncertain targets to be sent again; returns how many there are."""
    row = get(store, broadcast_id)
    failed = sum(n for s, n in store.broadcasts.counts(broadcast_id).items() if s in ("failed", "uncertain"))
    if row["status"] == "cancelled":
        raise BroadcastError(f"群发 #{broadcast_id} 已取消，无法重试")
    if failed:
        store.broadcasts.request(broadcast_id, "retry")
        if row["status"] == "done":
            store.broadcasts.set_status(broadcast_id, "sending")
    store.accounts.audit(by, "broadcasts.retry", f"broadcast:{broadcast_id}", {"failed": failed})
    return failed


def target_status(target: dict[str, Any], broadcast_status: str) -> str:
    """One status per target from its ledger rows (several when the text was split)."""
    statuses = [d["status"] for d in target["deliveries"]]
    if not target["parts"]:
        return "refused"
    if not statuses:
        return "cancelled" if broadcast_status == "cancelled" else "pending"
    for s in ("uncertain", "failed"):
        if s in statuses:
            return s
    if any(s in ("pending", "sending") for s in statuses):
        return "cancelled" if broadcast_status == "cancelled" else "pending"
    if all(s == "sent" for s in statuses):
        return "sent"
    return "cancelled" if "cancelled" in statuses else "skipped"


def show(store: Store, broadcast_id: int) -> dict[str, Any]:
    """The broadcast with per-target status (what `broadcast show --json` prints)."""
    row = get(store, broadcast_id)
    targets = []
    counts: dict[str, int] = {}
    # customer groups, once their owner's task is submitted: waiting for the owner / sent / not sent
    tasks = {(t["chat_id"]): t for t in store.wecom_contact.task_targets(source_of(broadcast_id), limit=100_000)}
    for t in store.broadcasts.targets(broadcast_id):
        status = target_status(t, row["status"])
        errors = [d["error"] for d in t["deliveries"] if d.get("error")]
        task = tasks.get(t["chat_id"]) if t["platform"] == "wecom" and status == "sent" else None
        if task is not None:
            status = task["status"]
            errors += [task["reason"]] if task["reason"] else []
        if status == "refused":
            errors.append(t["note"])
        counts[status] = counts.get(status, 0) + 1
        targets.append({"chat": t["chat_id"], "name": t["name"], "platform": t["platform"], "status": status,
                        "text": "\n".join(p.get("text", "") for p in t["parts"]), "parts": len(t["parts"]),
                        "note": t["note"], "eta": t["eta"], "error": errors[-1] if errors else ""})
    return {"id": row["id"], "status": row["status"], "kind": row["kind"], "text": row["text"],
            "send_at": row["send_at"], "created_by": row["created_by"], "approved_by": row["approved_by"],
            "created_at": row["created_at"], "source": source_of(row["id"]), "progress": counts,
            "targets": targets}


def listing(store: Store) -> list[dict[str, Any]]:
    return [{"id": r["id"], "status": r["status"], "text": r["text"], "targets": r["targets"],
             "send_at": r["send_at"], "created_by": r["created_by"], "approved_by": r["approved_by"],
             "created_at": r["created_at"]} for r in store.broadcasts.all()]

