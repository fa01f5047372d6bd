"""`qunbot keywords …`: list, import, export, test, enable/disable/delete, stats."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

from bot.cli import CliContext, add_command, common_parent, set_common_parent
from keywords.rules import MATCH_LABELS, MATCH_MODES


def register(sub: argparse._SubParsersAction) -> None:
    """Add this capability's subcommands to the `qunbot` parser."""
    p = sub.add_parser("keywords", help="keyword auto-reply rules", parents=[common_parent(sub)])
    ksub = p.add_subparsers(dest="keywords_command", metavar="ACTION")
    ksub.required = True
    set_common_parent(ksub, common_parent(sub))

    p = add_command(ksub, "list", cmd_list, "list rules with hit counts", json_flag=True)
    p.add_argument("--search", default="", help="text in id, keyword or replies")
    p.add_argument("--match", choices=MATCH_MODES)
    p.add_argument("--tag", default="")
    p.add_argument("--disabled", action="store_true", help="only disabled rules")

    p = add_command(ksub, "import", cmd_import, "import rules from .csv or .json", json_flag=True)
    p.add_argument("file", type=Path)
    p.add_argument("--partial", action="store_true", help="import the good rows even when some are bad")

    p = add_command(ksub, "export", cmd_export, "export all rules to .csv (UTF-8 with BOM) or .json")
    p.add_argument("file", type=Path)

    p = add_command(ksub, "test", cmd_test, "show which rule would answer a message, and why", json_flag=True)
    p.add_argument("text")
    p.add_argument("--group", help="group name or chat id (default: the first group)")
    p.add_argument("--private", action="store_true", help="as a 1:1 chat with the bot")
    p.add_argument("--mention", action="store_true", help="as if the bot was @mentioned")
    p.add_argument("--as", dest="member", default="", help="sender's nickname")

    for name, handler, text in (
        ("enable", cmd_enable, "enable a rule"), ("disable", cmd_disable, "disable a rule"),
        ("delete", cmd_delete, "delete a rule"),
    ):
        p = add_command(ksub, name, handler, text)
        p.add_argument("rule", help="rule id (e.g. kw12) or #row number")

    add_command(ksub, "stats", cmd_stats, "hit statistics", json_flag=True)


def _rule_row(store, ref: str) -> dict[str, Any] | None:
    if ref.startswith("#") and ref[1:].isdigit():
        return store.keywords.get_rule(int(ref[1:]))
    return store.keywords.get_rule_by_name(ref)


def _sync(ctx: CliContext):
    from keywords.manage import sync_config

    store = ctx.store()
    sync_config(store, ctx.settings)
    return store


def cmd_list(ctx: CliContext) -> int:
    store = _sync(ctx)
    a = ctx.args
    rows, total = store.keywords.search_rules(
        text=a.search, match=a.match or "", tag=a.tag, enabled=False if a.disabled else None, limit=100_000,
    )
    data = [
        {"rowid": r["id"], "id": r["name"], "source": r["source"], "keyword": r["keyword"], "match": r["match"],
         "priority": r["priority"], "enabled": r["enabled"], "tags": r["tags"], "hits": r["hits"],
         "last_hit_at": r["last_hit_at"], "replies": r["spec"]["replies"]}
        for r in rows
    ]

    def text() -> str:
        if not data:
            return "（没有规则）"
        lines = [f"{'编号':<14}{'匹配':<6}{'优先级':>5} {'命中':>6}  关键词"]
        for d in data:
            flag = "" if d["enabled"] else " [停用]"
            src = " [配置]" if d["source"] == "config" else ""
            lines.append(
                f"{d['id']:<16}{MATCH_LABELS[d['match']]:<6}{d['priority']:>6} {d['hits']:>7}"
                f"  {d['keyword']}{flag}{src}"
            )
        lines.append(f"共 {total} 条")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0


def cmd_import(ctx: CliContext) -> int:
    from keywords.io import ImportFormatError, import_file

    store = _sync(ctx)
    try:
        report = import_file(store, ctx.args.file, partial=ctx.args.partial, source="import", actor="cli")
    except ImportFormatError as exc:
        print(f"导入失败：{exc}", file=sys.stderr)
        return 2
    if report.written:
        store.accounts.audit("cli", "keywords.import", str(ctx.args.file), report.as_dict())

    def text() -> str:
        lines = report.error_lines()
        if report.written:
            lines.append(f"已导入：新增 {report.created} 条，更新 {report.updated} 条，未变 {report.unchanged} 条"
                         + (f"，跳过有错误的 {len(report.errors)} 行" if report.errors else ""))
        else:
            lines.append(f"有 {len(report.errors)} 行错误，未导入任何规则（加 --partial 只导入正确的行）")
        return "\n".join(lines)

    ctx.emit(report.as_dict(), text)
    return 0 if not report.errors else 1


def cmd_export(ctx: CliContext) -> int:
    from keywords.io import ImportFormatError, export_file

    store = _sync(ctx)
    try:
        n = export_file(store, ctx.args.file)
    except ImportFormatError as exc:
        print(f"导出失败：{exc}", file=sys.stderr)
        return 2
    print(f"已导出 {n} 条规则到 {ctx.args.file}")
    return 0


def cmd_test(ctx: CliContext) -> int:
    import asyncio

    from bot.kernel.clock import Clock
    from bot.kernel.events import ChatKind, Event
    from bot.kernel.pipeline import Context
    from bot.services import Services
    from keywords.stage import KeywordStage

    store = ctx.store()
    a = ctx.args
    services = Services(settings=ctx.settings, store=store)
    stage = KeywordStage(services)
    now = Clock().now()
    chat_id, chat_name, tags, kind = "tester", "", [], ChatKind.PRIVATE
    if not a.private:
        chat = store.chats.find_chat(a.group) if a.group else next(iter(store.chats.list_chats(kind="group")), None)
        if a.group and chat is None:
            print(f"找不到群聊 {a.group!r}", file=sys.stderr)
            return 2
        chat_id, chat_name, tags = (chat["chat_id"], chat["name"], chat["tags"]) if chat else ("group", "测试群", [])
        kind = ChatKind.GROUP
    event = Event(
        platform="sim", chat_id=chat_id, chat_kind=kind, sender_id="tester", sender_name=a.member or "测试成员",
        message_id="test-" + uuid.uuid4().hex[:8], time=now, text=a.text, to_me=a.mention or a.private,
        chat_name=chat_name,
    )
    ctx_ = Context(now=now, chat_tags=tags, chat_name=chat_name, dry_run=True)
    decision = asyncio.run(stage(event, ctx_))
    data = {**decision.as_dict(), "chat": chat_name or chat_id}

    def text() -> str:
        lines = [f"结果：{decision.outcome}  {decision.reason or '没有规则匹配'}"]
        for r in decision.replies:
            lines.append(f"回复{'（私聊）' if r.private else ''}：{r.text}")
        for o in decision.detail.get("others", []):
            lines.append(f"  也匹配：{o['id']}「{o['keyword']}」（{MATCH_LABELS[o['match']]}，优先级 {o['priority']}）")
        for e in decision.detail.get("excluded", []):
            lines.append(f"  不适用：{e['id']}「{e['keyword']}」— {e['why']}")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0


def _set_enabled(ctx: CliContext, enabled: bool | None) -> int:
    store = _sync(ctx)
    row = _rule_row(store, ctx.args.rule)
    if row is None:
        print(f"找不到规则 {ctx.args.rule}", file=sys.stderr)
        return 2
    if row["source"] == "config":
        print(f"规则 {row['name']} 来自 config.toml，请在配置文件中修改", file=sys.stderr)
        return 2
    if enabled is None:
        store.keywords.delete_rule(row["id"])
        action, done = "keywords.delete", "已删除"
    else:
        store.keywords.set_enabled(row["id"], enabled, actor="cli")
        action, done = ("keywords.enable", "已启用") if enabled else ("keywords.disable", "已停用")
    store.accounts.audit("cli", action, row["name"], {"keyword": row["keyword"]})
    print(f"{done}规则 {row['name']}「{row['keyword']}」")
    return 0


def cmd_enable(ctx: CliContext) -> int:
    return _set_enabled(ctx, True)


def cmd_disable(ctx: CliContext) -> int:
    return _set_enabled(ctx, False)


def cmd_delete(ctx: CliContext) -> int:
    return _set_enabled(ctx, None)


def cmd_stats(ctx: CliContext) -> int:
    store = _sync(ctx)
    stats = store.keywords.stats()

    def text() -> str:
        lines = [f"规则 {stats['rules']} 条（启用 {stats['enabled'] or 0}），累计命中 {stats['hits']} 次，"
                 f"从未命中 {stats['never_hit'] or 0} 条，最近命中 {stats['last_hit_at'] or '-'}"]
        for t in stats["top"]:
            lines.append(f"  {t['hits']:>6}  {t['name']}「{t['keyword']}」 最近 {t['last_hit_at']}")
        return "\n".join(lines)

    ctx.emit(stats, text)
    return 0
