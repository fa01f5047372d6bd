"""`qunbot report`, `qunbot prune` and `qunbot backup`."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path

from bot.cli import CliContext, add_command, now_utc
from bot.kernel.durations import format_duration, parse_duration
from bot.store.base import iso


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "report", cmd_report, "export the group report (群数据报表) of a period")
    p.add_argument("--from", dest="start", type=_date, help="first day, YYYY-MM-DD (default: 6 days ago)")
    p.add_argument("--to", dest="end", type=_date, help="last day, YYYY-MM-DD (default: today)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--group", help="only this group (name or chat id)")
    scope.add_argument("--tag", help="only groups with this tag")
    p.add_argument("--format", choices=("csv", "xlsx", "html"),
                   help="output format (default: from --output's extension, else csv)")
    p.add_argument("--output", "-o", help="file to write (default: stdout for csv/html)")

    p = add_command(sub, "prune", cmd_prune, "delete messages and traces older than the retention period",
                    json_flag=True)
    p.add_argument("--older-than", type=_duration,
                   help='age such as "180d" (default: [bot] retention)')
    p.add_argument("--batch", type=int, default=2000, help="rows per transaction (default 2000)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    p = add_command(sub, "backup", cmd_backup, "copy the database with SQLite's online backup (safe while running)")
    p.add_argument("file", help="backup file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD：{value}") from None


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"无效的时长 {value!r}（例如 180d、12w）: {exc}") from None


# -- report -------------------------------------------------------------------------------

def cmd_report(ctx: CliContext) -> int:
    from bot.reports.export import export
    from bot.reports.figures import ReportFilter, compute

    args, settings = ctx.args, ctx.settings
    fmt = args.format or _format_from(args.output) or "csv"
    today = now_utc().astimezone(settings.tz).date()
    end = args.end or today
    start = args.start or end - timedelta(days=6)
    try:
        report = compute(ctx.store(), ReportFilter(start, end, group=args.group, tag=args.tag), settings.tz)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    body = export(report, fmt)
    output = args.output
    if not output and fmt == "xlsx" and sys.stdout.isatty():
        output = f"qunbot-report-{start.isoformat()}-{end.isoformat()}.xlsx"
    if not output:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0
    Path(output).write_bytes(body)
    print(f"已导出 {report.title} → {output}（{len(body)} 字节）", file=sys.stderr)
    return 0


def _format_from(output: str | None) -> str | None:
    suffix = Path(output).suffix.lower().lstrip(".") if output else ""
    return {"csv": "csv", "xlsx": "xlsx", "html": "html", "htm": "html"}.get(suffix)


# -- prune --------------------------------------------------------------------------------

def cmd_prune(ctx: CliContext) -> int:
    args = ctx.args
    age = args.older_than if args.older_than is not None else float(ctx.settings.bot.retention)
    if age <= 0:
        ctx.emit({"skipped": True}, "未配置保留期限（[bot] retention = \"0\"），不删除任何数据")
        return 0
    if args.batch < 1:
        print("错误：--batch 至少为 1", file=sys.stderr)
        return 1
    cutoff = iso(now_utc() - timedelta(seconds=age))
    repo = ctx.store().reports
    if args.dry_run:
        counts = repo.count_older(cutoff)
        ctx.emit({"cutoff": cutoff, "dry_run": True, **counts},
                 f"将删除 {cutoff} 之前的 {counts['messages']} 条消息（含处理记录）"
                 f"和 {counts['outbound']} 条已结束的发送记录（试运行，未删除）")
        return 0
    messages = decisions = outbound = 0
    while True:
        m, d = repo.prune_messages_batch(cutoff, args.batch)
        messages, decisions = messages + m, decisions + d
        if m == 0:
            break
    while (n := repo.prune_outbound_batch(cutoff, args.batch)) > 0:
        outbound += n
    ctx.emit(
        {"cutoff": cutoff, "messages": messages, "decisions": decisions, "outbound": outbound},
        f"已删除 {format_duration(age)} 之前（{cutoff}）的 {messages} 条消息、{decisions} 条处理记录、"
        f"{outbound} 条已结束的发送记录；待发送的消息不受影响",
    )
    return 0


# -- backup -------------------------------------------------------------------------------

def cmd_backup(ctx: CliContext) -> int:
    source = ctx.settings.database_path
    target = Path(ctx.args.file)
    if not source.is_file():
        print(f"错误：数据库文件不存在：{source}", file=sys.stderr)
        return 1
    if target.exists() and not ctx.args.force:
        print(f"错误：{target} 已存在（加 --force 覆盖）", file=sys.stderr)
        return 1
    if target.resolve() == source.resolve():
        print("错误：备份文件不能是数据库本身", file=sys.stderr)
        return 1
    try:
        size = backup_database(source, target)
    except (sqlite3.Error, OSError) as exc:
        print(f"错误：备份失败：{exc}", file=sys.stderr)
        return 3
    print(f"已备份 {source} → {target}（{size} 字节，完整性检查通过）")
    return 0


def backup_database(source: Path, target: Path) -> int:
    """Consistent copy while the bot writes: own read connection, one-step online backup
    (a WAL reader never blocks the writer), written to a temporary file, checked, renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dest = sqlite3.connect(str(tmp))
        try:
            src.backup(dest)
            result = dest.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"backup failed its integrity check: {result}")
        finally:
            dest.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(tmp, target)
    return target.stat().st_size
