"""`qunbot member …`: list, show, tag add|remove, import (CSV of ref,tags), export, delete.

The same actions and audit entries as the console's member pages (members/service.py); a
running bot sees tag changes within seconds (it polls the store's member version).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli import CliContext, add_command, common_parent, set_common_parent
from members import service
from members.service import MemberError

ACTOR = "cli"


def register(sub: argparse._SubParsersAction) -> None:
    """Add `member` and its actions to the `qunbot` parser."""
    p = sub.add_parser("member", help="member directory, member tags, a member's own data",
                       parents=[common_parent(sub)])
    msub = p.add_subparsers(dest="member_command", metavar="ACTION")
    msub.required = True
    set_common_parent(msub, common_parent(sub))

    p = add_command(msub, "list", cmd_list, "list members (most recently seen first)", json_flag=True)
    p.add_argument("--group", default="", help="group name or chat id")
    p.add_argument("--tag", default="", help="member tag")
    p.add_argument("--search", default="", help="name or user id")
    p.add_argument("--limit", type=int, default=1000)

    p = add_command(msub, "show", cmd_show, "everything about one member", json_flag=True)
    p.add_argument("ref", help="PLATFORM:USER_ID, e.g. onebot:10001")

    p = msub.add_parser("tag", help="add or remove a member tag", parents=[common_parent(msub)])
    tsub = p.add_subparsers(dest="tag_command", metavar="ACTION")
    tsub.required = True
    set_common_parent(tsub, common_parent(msub))
    for name, handler in (("add", cmd_tag_add), ("remove", cmd_tag_remove)):
        t = add_command(tsub, name, handler, f"{name} a tag")
        t.add_argument("ref")
        t.add_argument("tag")

    p = add_command(msub, "import", cmd_import, "import member tags from a CSV of ref,tags", json_flag=True)
    p.add_argument("file", type=Path)

    p = add_command(msub, "export", cmd_export, "everything stored about a member (personal-data request)")
    p.add_argument("ref")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")

    p = add_command(msub, "delete", cmd_delete, "erase a member's content and personal fields")
    p.add_argument("ref")
    p.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")


def _rule_tags(ctx: CliContext) -> list[str]:
    return [r.tag for r in getattr(ctx.settings, "member_tags", [])]


def _fail(exc: Exception) -> int:
    print(f"错误：{exc}", file=sys.stderr)
    return 2


def cmd_list(ctx: CliContext) -> int:
    a = ctx.args
    try:
        rows, total = service.list_members(ctx.store(), group=a.group, tag=a.tag, text=a.search,
                                           limit=max(1, a.limit), rule_tags=_rule_tags(ctx))
    except MemberError as exc:
        return _fail(exc)
    data = [{"ref": r["ref"], "name": r["name"], "names": r["names"], "tags": r["tags"],
             "messages": r["messages"], "first_seen_at": r["first_seen_at"], "last_seen_at": r["last_seen_at"]}
            for r in rows]

    def text() -> str:
        if not data:
            return "（没有符合条件的成员）"
        lines = [f"{'成员':<24}{'发言':>6}  {'最近出现':<20}名称 / 标签"]
        for d in data:
            tags = ("  [" + "、".join(d["tags"]) + "]") if d["tags"] else ""
            lines.append(f"{d['ref']:<24}{d['messages']:>6}  {(d['last_seen_at'] or '')[:19]:<20}{d['name']}{tags}")
        lines.append(f"共 {total} 人" + (f"，显示前 {len(data)} 人" if total > len(data) else ""))
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0


def cmd_show(ctx: CliContext) -> int:
    try:
        data = service.show(ctx.store(), ctx.args.ref)
    except MemberError as exc:
        return _fail(exc)

    def text() -> str:
        lines = [
            f"成员 {data['ref']}  {data['name']}",
            f"曾用名：{'、'.join(data['names']) or '无'}",
            f"所在群：{'、'.join(data['groups']) or '无'}",
            f"标签：{'、'.join(data['tags']) or '无'}",
            f"首次出现：{data['first_seen_at'] or '-'}  最近出现：{data['last_seen_at'] or '-'}"
            f"  发言 {data['messages']} 条",
            f"有效违规记录：{data['strikes']}  禁言至：{data['muted_until'] or '未禁言'}"
            f"  黑名单：{'是' if data['blacklisted'] else '否'}",
        ]
        if data["group_scoped"]:
            lines.append("注意：该平台的成员 ID 只在一个群内有效，无法跨群识别同一人，不参与全品牌操作（如黑名单）")
        for n in data["notes"]:
            lines.append(f"备注（{n['actor']} {n['created_at'][:16]}）：{n['text']}")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0


def cmd_tag_add(ctx: CliContext) -> int:
    try:
        added = service.add_tag(ctx.store(), ctx.args.ref, ctx.args.tag, ACTOR)
    except MemberError as exc:
        return _fail(exc)
    print(f"已给 {ctx.args.ref} 加上标签 {ctx.args.tag}" if added else f"{ctx.args.ref} 已有标签 {ctx.args.tag}")
    return 0


def cmd_tag_remove(ctx: CliContext) -> int:
    try:
        service.remove_tag(ctx.store(), ctx.args.ref, ctx.args.tag, ACTOR)
    except MemberError as exc:
        return _fail(exc)
    print(f"已去掉 {ctx.args.ref} 的标签 {ctx.args.tag}")
    return 0


def cmd_import(ctx: CliContext) -> int:
    try:
        text = ctx.args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(MemberError(f"无法读取 {ctx.args.file}：{exc}"))
    report = service.import_tags_csv(ctx.store(), text, ACTOR)

    def lines() -> str:
        out = [f"第 {line} 行：{err}" for line, err in report.errors]
        if report.errors:
            out.append(f"有 {len(report.errors)} 行错误，未导入任何标签")
        else:
            out.append(f"已导入 {report.rows} 行，新加标签 {report.added} 个")
        return "\n".join(out)

    ctx.emit(report.as_dict(), lines)
    return 1 if report.errors else 0


def cmd_export(ctx: CliContext) -> int:
    try:
        text = service.export(ctx.store(), ctx.args.ref, ctx.args.format)
    except MemberError as exc:
        return _fail(exc)
    if ctx.args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    try:
        ctx.args.output.write_text(text, encoding="utf-8-sig" if ctx.args.format == "csv" else "utf-8")
    except OSError as exc:
        return _fail(MemberError(f"无法写入 {ctx.args.output}：{exc}"))
    print(f"已导出 {ctx.args.ref} 的数据到 {ctx.args.output}", file=sys.stderr)
    return 0


def cmd_delete(ctx: CliContext) -> int:
    if not ctx.args.yes:
        return _fail(MemberError("删除成员数据不可撤销：确认请加 --yes"))
    try:
        counts = service.delete(ctx.store(), ctx.args.ref, ACTOR)
    except MemberError as exc:
        return _fail(exc)
    print(f"已删除 {ctx.args.ref} 的内容与个人信息：{counts['messages']} 条消息的文字、"
          f"{counts['names']} 个昵称、{counts['notes']} 条备注、{counts['tags']} 个标签（统计数与审计记录保留）")
    return 0
