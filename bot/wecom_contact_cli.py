"""`qunbot wecom sync | tasks | stats | welcome`: WeCom customer groups (客户联系) from a shell.

Works with the bot running or not: it calls the WeCom API itself and writes the same store,
which the running bot reads at its next planning run.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from bot.adapters.base import SendError
from bot.adapters.wecom_contact import CHINA, WecomContact
from bot.cli import CliContext, add_command, common_parent, now_utc

T = TypeVar("T")
STATUS_LABELS = {"waiting": "等待群主确认", "sent": "已发送", "not_sent": "未发送"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add `qunbot wecom ...` to the `qunbot` parser."""
    parser = sub.add_parser("wecom", help="WeCom customer groups (客户群): sync, 企业群发 progress, statistics",
                            parents=[common_parent(sub)])
    nested = parser.add_subparsers(dest="wecom_command", metavar="ACTION")
    nested.required = True
    vars(nested)["common_parent"] = common_parent(sub)
    p = add_command(nested, "sync", cmd_sync, "sync customer groups and their members now", json_flag=True)
    p = add_command(nested, "tasks", cmd_tasks, "企业群发 tasks: per group waiting / sent / not sent", json_flag=True)
    p.add_argument("--poll", action="store_true", help="ask WeCom for the owners' progress first")
    p = add_command(nested, "stats", cmd_stats, "fetch WeCom's group statistics (groupchat/statistic) of a day",
                    json_flag=True)
    p.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: yesterday, Beijing time)")
    p = add_command(nested, "welcome", cmd_welcome,
                    "push welcome texts as WeCom group welcome templates (入群欢迎语素材)", json_flag=True)
    p.add_argument("name", nargs="?", help="qunbot's name for it (pushing the same name again edits the template)")
    p.add_argument("text", nargs="?", help="the welcome text ({nickname} becomes the new member's name)")
    p.add_argument("--from-config", action="store_true",
                   help="push every enabled [[welcome]] of config.toml (named by its id)")


def _contact(ctx: CliContext) -> WecomContact | None:
    conf = ctx.settings.adapters.wecom
    if not conf.contact_enabled:
        print("未启用企业微信客户联系：请在 [adapters.wecom] 中设置 enabled = true 并填写 contact_secret")
        return None
    return WecomContact(conf, store=ctx.store())


def _run(contact: WecomContact, work: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        try:
            return await work()
        finally:
            await contact.api.close()
    return asyncio.run(go())


def _call(ctx: CliContext, work: Callable[[WecomContact], Awaitable[Any]]) -> tuple[int, Any]:
    contact = _contact(ctx)
    if contact is None:
        return 2, None
    try:
        return 0, _run(contact, lambda: work(contact))
    except SendError as exc:
        print(f"企业微信接口调用失败：{exc}")
        return 1, None


def cmd_sync(ctx: CliContext) -> int:
    code, counts = _call(ctx, lambda c: c.sync())
    if code:
        return code
    ctx.store().accounts.audit("cli", "wecom.sync", "customer_groups", counts)
    ctx.emit({"groups": counts["groups"], "members": counts["members"]},
             f"已同步 {counts['groups']} 个客户群、{counts['members']} 名群成员")
    return 0


def cmd_tasks(ctx: CliContext) -> int:
    if ctx.args.poll:
        code, _ = _call(ctx, lambda c: c.poll())
        if code:
            return code
    rows = ctx.store().wecom_contact.task_targets()

    def text() -> str:
        if not rows:
            return "还没有企业群发任务"
        return "\n".join(
            f"{r['submitted_at']}  {r['source']}  群主 {r['owner']}  → {r['chat_name'] or r['chat_id']}："
            f"{STATUS_LABELS.get(r['status'], r['status'])}" + (f"（{r['reason']}）" if r["reason"] else "")
            for r in rows
        )

    ctx.emit(rows, text)
    return 0


def cmd_stats(ctx: CliContext) -> int:
    day = ctx.args.day or now_utc().astimezone(CHINA).date() - timedelta(days=1)
    code, n = _call(ctx, lambda c: c.fetch_stats(day))
    if code:
        return code
    rows = ctx.store().wecom_contact.stats(day.isoformat(), day.isoformat())
    ctx.emit({"day": day.isoformat(), "owners": n, "source": "企业微信", "items": rows},
             f"{day} 企业微信群聊统计（来源：企业微信 groupchat/statistic）：{n} 位群主")
    return 0


def cmd_welcome(ctx: CliContext) -> int:
    if ctx.args.from_config:
        wanted = [(w.spec()["id"], w.text) for w in ctx.settings.welcome if w.enabled]
    elif ctx.args.name and ctx.args.text:
        wanted = [(ctx.args.name, ctx.args.text)]
    else:
        print("请给出 名称 和 欢迎语，或使用 --from-config")
        return 2

    async def push(contact: WecomContact) -> list[dict[str, str]]:
        return [{"name": name, "template_id": await contact.push_welcome(name, text)} for name, text in wanted]

    code, pushed = _call(ctx, push)
    if code:
        return code
    for p in pushed:
        ctx.store().accounts.audit("cli", "wecom.welcome_template", p["name"], {"template_id": p["template_id"]})
    ctx.emit(pushed, "\n".join(f"已推送入群欢迎语素材 {p['name']}（template_id {p['template_id']}）" for p in pushed)
             + "\n群主在客户群设置中选用该欢迎语后生效")
    return 0
