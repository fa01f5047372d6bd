"""`qunbot moderation …`: import word lists, evaluate, check a text, allowlist, spam samples, moderators."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli import CliContext, add_command, common_parent, existing_file, set_common_parent
from moderation.config import ACTIONS

EXIT_LINES_REJECTED = 1
EXIT_BAD_FILE = 2
EXIT_USAGE = 2  # argparse's own code for a wrong combination of arguments


def register(sub: argparse._SubParsersAction) -> None:
    """Add `qunbot moderation` and its subcommands."""
    parser = sub.add_parser(
        "moderation", help="lexicon, spam rules, review and evaluation", parents=[common_parent(sub)]
    )
    nested = parser.add_subparsers(dest="moderation_command", metavar="SUBCOMMAND")
    nested.required = True
    set_common_parent(nested, common_parent(sub))

    p = add_command(nested, "import", cmd_import, "导入词表（每行一个词，可选 词<TAB>分类）", json_flag=True)
    p.add_argument("file", type=existing_file, metavar="WORDS.txt")
    p.add_argument("--category", help="没有分类列的词使用的分类（默认：其他）")
    p.add_argument("--action", choices=ACTIONS, help="这些词的处理动作（默认按分类）")
    p.add_argument("--severity", type=int, choices=(1, 2, 3), default=2)
    p.add_argument("--force", action="store_true", help="也导入空词和单字词")
    p.add_argument("--replace", action="store_true", help="已存在的词用文件中的分类和动作覆盖")

    p = add_command(nested, "eval", cmd_eval, "在标注的规避样本上评估召回率和误报率", json_flag=True)
    p.add_argument("cases", type=existing_file, metavar="CASES.jsonl")
    p.add_argument("--words", type=existing_file, required=True, metavar="WORDS.txt")
    p.add_argument("--pinyin", action="store_true", help="同时开启拼音谐音匹配")

    p = add_command(nested, "check", cmd_check, "用当前词库和规则检查一段文字", json_flag=True)
    p.add_argument("text")

    p = add_command(nested, "allow", cmd_allow, "加入白名单（词或域名）", json_flag=True)
    p.add_argument("value")
    p.add_argument("--domain", action="store_true", help="作为域名白名单")

    p = add_command(
        nested, "train", cmd_train, "导入已标注的消息（CSV：label,text，1=垃圾）用于学习垃圾分", json_flag=True
    )
    p.add_argument("file", type=existing_file, metavar="LABELLED.csv")

    p = add_command(nested, "spam-eval", cmd_spam_eval,
                    "评估词库+规则和学习的垃圾分：一个文件留出五分之一，或 --train 训练、--eval 评估", json_flag=True)
    p.add_argument("file", type=existing_file, metavar="LABELLED.csv", nargs="?")
    p.add_argument("--train", type=existing_file, metavar="TRAIN.csv", help="训练用的已标注文件")
    p.add_argument("--eval", type=existing_file, metavar="EVAL.csv", help="评估用的已标注文件（与 --train 一起用）")
    p.add_argument("--words", type=existing_file, action="append", default=[], metavar="WORDS.txt")
    p.add_argument("--threshold", type=float, default=None)

    p = add_command(nested, "moderator", cmd_moderator, "登记/取消某群的群管理员（可用 /mute 等命令）", json_flag=True)
    p.add_argument("group", help="群 ID 或群名")
    p.add_argument("member", help="成员 ID")
    p.add_argument("--platform", default=None)
    p.add_argument("--remove", action="store_true")


def cmd_import(ctx: CliContext) -> int:
    from moderation.evaluate import DOMAIN_ALLOW_CATEGORY, split_words
    from moderation.wordfile import WordFileError, parse

    args = ctx.args
    try:
        parsed = parse(Path(args.file).read_bytes(), category=args.category, action=args.action,
                       severity=args.severity, force=args.force, source=Path(args.file).name)
    except WordFileError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_BAD_FILE
    words, allow, domains = split_words(parsed.words)
    store = ctx.store()
    added, updated = store.lexicon.add_words(words, replace=args.replace)
    allowed = sum(store.lexicon.add_allow("word", w) for w in allow)
    allowed += sum(store.lexicon.add_allow("domain", d) for d in domains)
    store.lexicon.bump_version()
    for err in parsed.errors:
        print(err, file=sys.stderr)
    data = {"file": str(args.file), "encoding": parsed.encoding, "added": added, "updated": updated,
            "existing": len(words) - added - updated, "duplicates_in_file": parsed.duplicates,
            "allowlist_added": allowed, "rejected": len(parsed.errors), "errors": parsed.errors,
            "notes": parsed.notes}
    ctx.emit(data, lambda: "\n".join([
        *parsed.notes,
        f"新增 {added} 个词，更新 {updated} 个，已存在 {data['existing']} 个，文件内重复 {parsed.duplicates} 个，"
        f"拒绝 {len(parsed.errors)} 行" + (f"，白名单新增 {allowed} 项" if allowed else ""),
        f"（{DOMAIN_ALLOW_CATEGORY}/白名单 分类的行进入白名单；运行中的机器人几秒内自动生效）",
    ]))
    return EXIT_LINES_REJECTED if parsed.errors else 0


def cmd_eval(ctx: CliContext) -> int:
    from moderation.evaluate import CaseError, evaluate, load_cases, moderator_from_words
    from moderation.wordfile import WordFileError

    args = ctx.args
    try:
        cases = load_cases(Path(args.cases))
        settings = ctx.settings.moderation if Path(args.config).is_file() else None
        moderator = moderator_from_words(Path(args.words), settings, pinyin=args.pinyin)
    except (CaseError, WordFileError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_FILE
    report = evaluate(moderator, cases)
    ctx.emit(report, lambda: _eval_text(report))
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _eval_text(report: dict) -> str:
    lines = [f"{'technique':<16} {'recall':>8} {'FPR':>8} {'msg/s':>10}  n"]
    for name, r in report["techniques"].items():
        lines.append(f"{name:<16} {_pct(r['recall']):>8} {_pct(r['false_positive_rate']):>8} "
                     f"{r['messages_per_second']:>10}  {r['positives'] + r['negatives']}")
    lines.append(f"{'overall':<16} {_pct(report['recall']):>8} {_pct(report['false_positive_rate']):>8} "
                 f"{report['messages_per_second']:>10}  {report['positives'] + report['negatives']}")
    for miss in report["misses"]:
        kind = "漏报" if miss["flag"] else "误报"
        lines.append(f"  {kind} [{miss['technique']}] {miss['text']}")
    return "\n".join(lines)


def cmd_check(ctx: CliContext) -> int:
    from moderation.engine import Moderator
    from moderation.stage import describe

    moderator = Moderator(ctx.settings.moderation, ctx.store())
    moderator.reload()
    verdict = moderator.check_text(ctx.args.text)
    data = {"text": ctx.args.text, "normalized": verdict.norm.folded, "action": verdict.action,
            "hits": [h.as_dict() for h in verdict.hits]}
    ctx.emit(data, lambda: "\n".join(
        [f"规范化：{verdict.norm.folded}", f"动作：{verdict.action}"]
        + [f"- {describe(h, ctx.args.text)} → {h.action}" for h in verdict.hits]
        or ["未命中"]))
    return 0


def cmd_allow(ctx: CliContext) -> int:
    store = ctx.store()
    kind = "domain" if ctx.args.domain else "word"
    value = ctx.args.value.strip().lower() if kind == "domain" else ctx.args.value.strip()
    if not value:
        print("白名单内容不能为空", file=sys.stderr)
        return EXIT_BAD_FILE
    added = store.lexicon.add_allow(kind, value)
    store.lexicon.bump_version()
    ctx.emit({"kind": kind, "value": value, "added": added}, "已加入白名单" if added else "白名单中已有该项")
    return 0


def cmd_train(ctx: CliContext) -> int:
    from moderation.spamdata import SampleFileError, read_labelled

    try:
        rows = read_labelled(Path(ctx.args.file))
    except SampleFileError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_FILE
    store = ctx.store()
    n = store.lexicon.add_samples(rows, Path(ctx.args.file).name)
    store.lexicon.bump_version()
    counts = store.lexicon.sample_counts()
    ctx.emit(
        {"added": n, **counts}, f"导入 {n} 条样本；现有垃圾 {counts.get('spam', 0)} 条，正常 {counts.get('ham', 0)} 条"
    )
    return 0


def cmd_spam_eval(ctx: CliContext) -> int:
    from moderation.spamdata import SampleFileError, holdout_report, train_eval_report

    args = ctx.args
    if bool(args.train) != bool(args.eval) or bool(args.file) == bool(args.train):
        print("用法：spam-eval LABELLED.csv（留出五分之一评估），或 spam-eval --train TRAIN.csv --eval EVAL.csv",
              file=sys.stderr)
        return EXIT_USAGE
    settings = ctx.settings.moderation if Path(args.config).is_file() else None
    words = [Path(w) for w in args.words]
    try:
        if args.train:
            report = train_eval_report(Path(args.train), Path(args.eval), words, settings, args.threshold)
        else:
            report = holdout_report(Path(args.file), words, settings, args.threshold)
    except SampleFileError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_FILE
    ctx.emit(report, lambda: "\n".join(f"{k}: {v}" for k, v in report.items()))
    return 0


def cmd_moderator(ctx: CliContext) -> int:
    args = ctx.args
    store = ctx.store()
    chat = store.chats.find_chat(args.group, args.platform)
    if chat is None:
        print(f"找不到群“{args.group}”（先让机器人收到该群的消息，或在配置中声明）", file=sys.stderr)
        return EXIT_BAD_FILE
    store.chats.upsert_member(chat["platform"], chat["chat_id"], args.member, moderator=not args.remove)
    store.lexicon.bump_version()
    verb = "取消" if args.remove else "登记"
    ctx.emit({"platform": chat["platform"], "chat_id": chat["chat_id"], "member": args.member,
              "moderator": not args.remove}, f"已{verb} {args.member} 为群“{chat['name'] or chat['chat_id']}”的管理员")
    return 0
