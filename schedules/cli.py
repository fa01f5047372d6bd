"""`qunbot schedule preview | list | status | retry` and `qunbot sop preview`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from bot.cli import CliContext, common_parent, now_utc
from schedules.jobs import STATUS_LABELS, effective_jobs
from schedules.planner import known_chats, preview_rows
from schedules.timeline import KIND_LABELS, next_occurrence, occurrence_key
from schedules.wecom_contact_plan import CustomerGroupQuota

if TYPE_CHECKING:
    from schedules.jobs import Job


def register(sub: argparse._SubParsersAction) -> None:
    """Add `qunbot schedule ...` to the `qunbot` parser."""
    parser = sub.add_parser("schedule", help="campaigns and recurring posts: preview, list, status, retry",
                            parents=[common_parent(sub)])
    nested = parser.add_subparsers(dest="schedule_command", metavar="ACTION")
    nested.required = True
    common = common_parent(sub)

    p = nested.add_parser("preview", help="every occurrence in the next N days, without sending",
                          parents=[common])
    p.add_argument("--days", type=float, default=None, help="how many days ahead (default [schedule] preview_days)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_preview)

    p = nested.add_parser("list", help="campaigns and recurring posts with status and next run", parents=[common])
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = nested.add_parser("status", help="delivery progress per occurrence (sent / pending / failed)",
                          parents=[common])
    p.add_argument("job", nargs="?", help="job name or id (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = nested.add_parser("retry", help="put the failed targets of a job back into the outbox", parents=[common])
    p.add_argument("job", help="job name or id")
    p.add_argument("--occurrence", help="only this occurrence (its ISO time as shown by status)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_retry)

    parser = sub.add_parser("sop", help="群SOP sequences: per-member preview", parents=[common_parent(sub)])
    nested = parser.add_subparsers(dest="sop_command", metavar="ACTION")
    nested.required = True
    p = nested.add_parser("preview", help="every step of every sequence that applies to a member, with its status",
                          parents=[common])
    p.add_argument("--member", required=True, help="member id, platform:member_id or nickname")
    p.add_argument("--json", action="store_true", help="machine-readable output (a list)")
    p.set_defaults(func=cmd_sop_preview)


def _jobs(ctx: CliContext) -> list[Job]:
    return effective_jobs(ctx.store(), ctx.settings, now_utc())


def cmd_preview(ctx: CliContext) -> int:
    settings = ctx.settings
    days = ctx.args.days if ctx.args.days is not None else settings.schedule.preview_days
    if days <= 0:
        print("--days 必须大于 0")
        return 2
    store = ctx.store()
    now = now_utc()
    jobs = [j for j in _jobs(ctx) if j.status == "active"]
    rows = preview_rows(jobs, now, now + timedelta(days=days), settings.tz,
                        known_chats(store.chats.list_chats(), settings), notes=settings.adapters.send_notes(),
                        quota=CustomerGroupQuota.from_store(store, settings, now))

    def text() -> str:
        if not rows:
            return f"未来 {days:g} 天没有要发送的消息"
        lines = []
        for r in rows:
            chat = f"{r['chat_name'] or r['chat']} ({r['platform']}:{r['chat']})" if r["chat"] else \
                "（无目标群：" + "、".join(r.get("missing", [])) + "）"
            label = KIND_LABELS.get(r["kind"], r["kind"])
            lines.append(f"{r['time']}  {r['job']}·{label}  → {chat}\n    {r['text']}")
            if r.get("refused"):
                lines.append(f"    ✗ 不会发送：{r['refused']}")
            elif r.get("note"):
                lines.append(f"    注意：{r['note']}")
        refused = sum(1 for r in rows if r.get("refused"))
        tail = f"，其中 {refused} 条超出限制不会发送" if refused else ""
        lines.append(f"共 {len(rows)} 条（未发送，仅预览）{tail}")
        return "\n".join(lines)

    ctx.emit(rows, text)
    return 0


def cmd_list(ctx: CliContext) -> int:
    tz = ctx.settings.tz
    now = now_utc()
    data: list[dict[str, Any]] = []
    for job in _jobs(ctx):
        nxt = next_occurrence(job.spec, max(job.last_considered or now, now), tz) if job.status == "active" else None
        data.append({
            "id": job.id or None, "kind": job.kind, "name": job.name, "status": job.status, "origin": job.origin,
            "next": nxt.time.astimezone(tz).isoformat() if nxt else None,
            "next_kind": nxt.kind if nxt else None,
        })

    def text() -> str:
        if not data:
            return "没有活动或定时消息"
        return "\n".join(
            f"{d['id'] or '-':>4}  {'活动' if d['kind'] == 'campaign' else '定时'}  {d['name']}  "
            f"[{STATUS_LABELS.get(d['status'], d['status'])}]  下次：{d['next'] or '无'}"
            for d in data
        )

    ctx.emit(data, text)
    return 0


def _find(ctx: CliContext, name: str) -> dict[str, Any] | None:
    row = ctx.store().schedules.find_job(name)
    if row is None:
        print(f"找不到任务 {name!r}（用 qunbot schedule list 查看）")
    return row


def cmd_status(ctx: CliContext) -> int:
    store = ctx.store()
    rows = store.schedules.list_jobs()
    if ctx.args.job:
        row = _find(ctx, ctx.args.job)
        if row is None:
            return 1
        rows = [row]
    data = []
    tz = ctx.settings.tz
    for row in rows:
        prefix = f"post:{row['id']}" if row["kind"] == "post" else f"campaign:{row['id']}:"
        progress = [{**p, "occurrence": _local(p["occurrence"], tz)} for p in store.schedules.delivery_progress(prefix)
                    if row["kind"] != "post" or p["source"] == prefix]
        skipped = store.schedules.runs(row["id"], status="skipped", limit=50)
        # WeCom customer groups: the outbox sent one task per owner; each group waits for its owner
        groupmsg = [g for g in store.wecom_contact.task_summary(prefix)
                    if row["kind"] != "post" or g["source"] == prefix]
        data.append(
            {
                "id": row["id"],
                "name": row["name"],
                "status": row["status"],
                "occurrences": progress,
                "customer_groups": groupmsg,
                "skipped": [{"time": _local(r["scheduled_at"], tz), "kind": r["kind"], "reason": r["reason"]}
                            for r in skipped],
            }
        )

    def text() -> str:
        lines = []
        for d in data:
            lines.append(f"{d['name']} [{STATUS_LABELS.get(d['status'], d['status'])}]")
            for p in d["occurrences"]:
                lines.append(f"  {p['occurrence']}  {p['source']}  已发送 {p['sent']}/{p['total']}"
                             f"  待发送 {p['pending']}  失败 {p['failed']}  过期 {p['skipped']}")
            for g in d["customer_groups"]:
                lines.append(f"  {g['occurrence']}  企业微信客户群 {g['total']} 个：已发送 {g['sent']}"
                             f"  等待群主确认 {g['waiting']}  未发送 {g['not_sent']}")
            for s in d["skipped"]:
                lines.append(f"  {s['time']}  {s['kind']}  已跳过：{s['reason']}")
            if not d["occurrences"] and not d["skipped"]:
                lines.append("  （尚无发送记录）")
        return "\n".join(lines) or "没有任务"

    ctx.emit(data, text)
    return 0


def _local(value: Any, tz: tzinfo) -> Any:
    """A stored UTC time as ISO 8601 in the configured time zone, as `schedule preview` prints it."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).isoformat()


def cmd_retry(ctx: CliContext) -> int:
    store = ctx.store()
    row = _find(ctx, ctx.args.job)
    if row is None:
        return 1
    if row["kind"] == "post":
        sources = [f"post:{row['id']}"]
    else:
        sources = [f"campaign:{row['id']}:{k}" for k in ("announce", "start", "remind", "last_call", "end")]
    occurrence = ctx.args.occurrence
    if occurrence:
        # status shows local times; the ledger keys occurrences by their UTC time
        try:
            moment = datetime.fromisoformat(occurrence)
        except ValueError:
            print(f"--occurrence 不是有效的时间：{occurrence!r}（复制 qunbot schedule status 显示的时间）")
            return 2
        occurrence = occurrence_key(moment if moment.tzinfo else moment.replace(tzinfo=ctx.settings.tz))
    count = sum(len(store.outbound.retry_failed(s, occurrence)) for s in sources)
    ctx.emit({"job": row["name"], "requeued": count},
             f"已将 {count} 个失败的目标重新排队；正在运行的机器人请在控制台重试，"
             f"否则它们会在机器人下次启动时发送")
    return 0


def cmd_sop_preview(ctx: CliContext) -> int:
    from schedules.sop_config import TO_LABELS
    from schedules.sop_service import STEP_LABELS, SopError, member_preview, sync_config

    store = ctx.store()
    # config.toml's sequences as the running bot sees them (a no-op when it already synced them)
    sync_config(store, ctx.settings, now_utc())
    try:
        rows = member_preview(store, ctx.settings, ctx.args.member, now_utc())
    except SopError as exc:
        print(exc, file=sys.stderr)
        return 1

    def text() -> str:
        if not rows:
            return "没有适用于该成员的 SOP 序列"
        lines = []
        for r in rows:
            status = STEP_LABELS.get(r["status"], r["status"]) + (f"（{r['reason']}）" if r["reason"] else "")
            lines.append(f"{r['time']}  {r['sequence']} 第{r['step']}步 [{status}] → {TO_LABELS[r['to']]}"
                         f"  {r['chat_name'] or r['chat']}\n    {r['text']}")
        return "\n".join(lines)

    ctx.emit(rows, text)
    return 0
