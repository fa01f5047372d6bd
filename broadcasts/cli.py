"""`qunbot broadcast create | list | show | approve | cancel | retry`.

The running bot sends what these commands create or approve within `[broadcast] poll_seconds`.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from bot.cli import CliContext, common_parent, now_utc
from bot.kernel.pacing import Pacer
from broadcasts import customer_groups, service
from broadcasts.compose import ComposeError, Draft, PlatformInfo, compose
from broadcasts.service import STATUS_LABELS, TARGET_LABELS, BroadcastError
from schedules.planner import known_chats


def register(sub: argparse._SubParsersAction) -> None:
    """Add `qunbot broadcast ...` to the `qunbot` parser."""
    parser = sub.add_parser("broadcast", help="群发: one-off broadcasts to tagged or named groups",
                            parents=[common_parent(sub)])
    nested = parser.add_subparsers(dest="broadcast_command", metavar="ACTION")
    nested.required = True
    common = common_parent(sub)

    p = nested.add_parser("create", help="compose a broadcast (sent now, at --at, or after approval)",
                          parents=[common])
    p.add_argument("--text", required=True, help="the message (template: {group} {date} {time} {weekday})")
    p.add_argument("--tag", action="append", default=[], help="every group carrying this tag (repeatable)")
    p.add_argument("--group", action="append", default=[], help="a group by name, id or platform:id (repeatable)")
    p.add_argument("--exclude", action="append", default=[], help="leave this group out (repeatable)")
    p.add_argument("--member-tag", action="append", default=[], dest="member_tag",
                   help="every member carrying this tag, 1:1 where the platform allows private sends (repeatable)")
    p.add_argument("--at", default="", help='send once at "YYYY-MM-DD HH:MM" ([bot] timezone); default now')
    p.add_argument("--by", default="cli", help="the account creating it (default: cli)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_create)

    p = nested.add_parser("list", help="broadcasts with status", parents=[common])
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = nested.add_parser("show", help="one broadcast with per-target status", parents=[common])
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_show)

    for name, func, helptext in (("approve", cmd_approve, "approve (a different account than the creator)"),
                                 ("cancel", cmd_cancel, "cancel what is not sent yet"),
                                 ("retry", cmd_retry, "send the failed targets again")):
        p = nested.add_parser(name, help=helptext, parents=[common])
        p.add_argument("id", type=int)
        p.add_argument("--by", default="cli", required=name == "approve", help="the account doing it")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=func)


def platforms(ctx: CliContext) -> dict[str, PlatformInfo]:
    return {name: PlatformInfo(name, frozenset(a.capabilities), a.max_text_bytes, a.split_long_text)
            for name, a in ctx.adapters().items()}


def _fail(ctx: CliContext, errors: list[str]) -> int:
    if getattr(ctx.args, "json", False):
        ctx.emit({"ok": False, "errors": errors}, "")
    else:
        for e in errors:
            print(f"错误：{e}")
    return 2


def cmd_create(ctx: CliContext) -> int:
    a = ctx.args
    settings = ctx.settings
    store = ctx.store()
    now = now_utc()
    pacer = Pacer(settings.sending, settings.tz)
    midnight = now.astimezone(settings.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    for platform, used in store.outbound.bulk_sent_since(midnight).items():
        pacer.restore(platform, used)
    draft = Draft(text=a.text, tags=a.tag, groups=a.group, exclude=a.exclude, at=a.at, by=a.by,
                  member_tags=a.member_tag)
    try:
        composed = compose(draft, known_chats(store.chats.list_chats(), settings), platforms(ctx), settings.tz,
                           now, random.Random(), pacer.estimate_finish, members=store.members.members_by_tag,
                           known_member_tags=store.members.known_tags())
        customer_groups.admit(store, settings, composed, composed.send_at or now)
    except ComposeError as exc:
        return _fail(ctx, exc.errors)
    result = service.create(store, composed, settings.broadcast.approval)
    result["preview"] = [_preview_row(r) for r in result["preview"]]
    finish = max((r["eta"] for r in result["preview"] if r["eta"]), default=None)
    result["expected_finish"] = finish

    def text() -> str:
        lines = [f"已创建群发 #{result['id']}（{STATUS_LABELS[result['status']]}），共 {result['targets']} 个目标"]
        for r in result["preview"]:
            note = f"  〔{r['note']}〕" if r["note"] else ""
            if r.get("refused"):
                lines.append(f"- {r['name'] or r['chat']} ({r['platform']}:{r['chat']}) ✗ 不会发送：{r['refused']}")
                continue
            lines.append(f"- {r['name'] or r['chat']} ({r['platform']}:{r['chat']}) 预计 {r['eta'] or '-'}{note}\n"
                         f"    {r['text']}")
        if finish:
            lines.append(f"预计全部发完：{finish}")
        if result["status"] == "pending_approval":
            lines.append(f"需要另一位管理员审批：qunbot broadcast approve {result['id']} --by <账号>")
        return "\n".join(lines)

    ctx.emit(result, text)
    return 0


def _preview_row(r: dict[str, Any]) -> dict[str, Any]:
    eta = r.get("eta")
    return {**r, "eta": eta.isoformat(timespec="seconds") if eta is not None else None}


def cmd_list(ctx: CliContext) -> int:
    rows = service.listing(ctx.store())

    def text() -> str:
        if not rows:
            return "还没有群发"
        return "\n".join(f"#{r['id']}  {STATUS_LABELS.get(r['status'], r['status'])}  {r['targets']} 个群  "
                         f"{r['send_at'] or '立即'}  {r['created_by']}  {r['text'][:40]}" for r in rows)

    ctx.emit(rows, text)
    return 0


def cmd_show(ctx: CliContext) -> int:
    try:
        data = service.show(ctx.store(), ctx.args.id)
    except BroadcastError as exc:
        return _fail(ctx, [str(exc)])

    def text() -> str:
        head = (f"群发 #{data['id']}  {STATUS_LABELS.get(data['status'], data['status'])}  创建：{data['created_by']}"
                + (f"  审批：{data['approved_by']}" if data["approved_by"] else "") + f"\n{data['text']}")
        counts = "  ".join(f"{TARGET_LABELS.get(k, k)} {v}" for k, v in sorted(data["progress"].items()))
        rows = [f"- {t['name'] or t['chat']} ({t['platform']}:{t['chat']})  {TARGET_LABELS.get(t['status'])}"
                + (f"  {t['error']}" if t["error"] else "") for t in data["targets"]]
        return "\n".join([head, counts, *rows])

    ctx.emit(data, text)
    return 0


def _act(ctx: CliContext, fn: Any, done: str) -> int:
    try:
        result = fn(ctx.store(), ctx.args.id, ctx.args.by)
    except BroadcastError as exc:
        return _fail(ctx, [str(exc)])
    data = service.show(ctx.store(), ctx.args.id)
    if isinstance(result, int):
        data["requeued"] = result
    ctx.emit(data, f"群发 #{ctx.args.id} {done}（{STATUS_LABELS.get(data['status'], data['status'])}）")
    return 0


def cmd_approve(ctx: CliContext) -> int:
    return _act(ctx, service.approve, "已审批，运行中的机器人将在几秒内开始发送")


def cmd_cancel(ctx: CliContext) -> int:
    return _act(ctx, service.cancel, "已取消，未发出的目标不再发送")


def cmd_retry(ctx: CliContext) -> int:
    return _act(ctx, service.retry, "的失败目标已重新排队")
