"""`qunbot faq …`: import, export, eval, ask, list, unanswered, stats."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from bot.cli import CliContext, add_command, common_parent, set_common_parent
from intents.config import FaqSettings
from intents.faqfile import FaqFileError, dump_csv, dump_jsonl, read_file, write_file


def register(sub: argparse._SubParsersAction) -> None:
    """Add this capability's subcommands to the `qunbot` parser."""
    p = sub.add_parser("faq", help="FAQ entries: import, export, evaluate, ask",
                       description="FAQ entries: import, export, evaluate, ask",
                       parents=[common_parent(sub)])
    fsub = p.add_subparsers(dest="faq_command", metavar="ACTION")
    fsub.required = True
    set_common_parent(fsub, common_parent(sub))

    p = add_command(fsub, "import", cmd_import, "import FAQ entries from .jsonl or .csv", json_flag=True)
    p.add_argument("file", type=Path)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--replace", action="store_true", help="entries not in the file are deleted")
    mode.add_argument("--merge", action="store_true", help="add and update by id (default)")
    p.add_argument("--check", action="store_true", help="only validate the file")
    p.add_argument("--on-conflict", choices=["merge", "move", "keep"],
                   help="a phrasing another entry has or would answer: merge the entries, move the "
                        "phrasing here, or keep both (members get a choice); default: list and stop")

    p = add_command(fsub, "export", cmd_export, "export FAQ entries to .jsonl or .csv ('-' = stdout)")
    p.add_argument("file")
    p.add_argument("--csv", action="store_true", help="CSV even when writing to stdout")

    p = add_command(fsub, "eval", cmd_eval, "measure matching quality on a labelled question set",
                    json_flag=True)
    p.add_argument("--faq", type=Path, required=True, help="FAQ file (.jsonl/.csv); a fresh index is built")
    p.add_argument("--questions", type=Path, required=True,
                   help='JSON Lines {"text": …, "expected": id or null, "kind": …}')
    p.add_argument("--answer-threshold", type=float,
                   help="default: [faq] semantic_answer_threshold (answer_threshold with --lexical)")
    p.add_argument("--suggest-threshold", type=float,
                   help="default: [faq] semantic_suggest_threshold (suggest_threshold with --lexical)")
    p.add_argument("--margin", type=float, help="default: [faq] semantic_margin (answer_margin with --lexical)")
    p.add_argument("--lexical", action="store_true", help="the lexical engine alone, as with [faq] semantic = false")
    p.add_argument("--synonyms", type=Path, help='extra synonyms, one "variant canonical" per line')
    p.add_argument("--words", type=Path, help="extra dictionary words, one per line")

    p = add_command(fsub, "ask", cmd_ask, "show the best FAQ candidates for a question", json_flag=True)
    p.add_argument("text")
    p.add_argument("--limit", type=int, default=5)
    p.add_argument("--faq", type=Path, help="ask against this file instead of the bot's FAQ")

    add_command(fsub, "list", cmd_list, "list FAQ entries with hits and unhelpful marks", json_flag=True)
    add_command(fsub, "unanswered", cmd_unanswered, "similar unanswered questions, grouped",
                json_flag=True)


def _faq_settings(ctx: CliContext) -> FaqSettings:
    """The config's [faq] when there is a config file; offline tools work without one."""
    if not Path(ctx.args.config).exists():
        return FaqSettings()
    return ctx.settings.faq


def _service(ctx: CliContext):
    from intents.service import FaqService

    return FaqService(ctx.settings.faq, ctx.store(), cache_dir=ctx.settings.data_dir / "cache")


def cmd_import(ctx: CliContext) -> int:
    try:
        entries = read_file(ctx.args.file)
    except (FaqFileError, OSError) as exc:
        print(f"导入失败：{exc}", file=sys.stderr)
        return 1
    if ctx.args.check:
        ctx.emit({"valid": True, "entries": len(entries)}, f"文件有效：{len(entries)} 个条目")
        return 0
    from intents.conflicts import CHOICES, FaqConflict

    try:
        result = _service(ctx).import_entries(entries, replace=ctx.args.replace,
                                              on_conflict=ctx.args.on_conflict)
    except FaqConflict as exc:
        conflicts = exc.conflicts
        data = {"conflicts": [c.to_dict() for c in conflicts]}

        def text() -> str:
            lines = [f"未导入：{len(conflicts)} 处冲突（会改变成员得到的回答）"]
            for c in conflicts:
                lines.append(f"- 条目 {c.entry_id}：{c.reason}")
                if c.other_answer:
                    lines.append(f"    {c.other_id} 的回答：{c.other_answer[:60]}")
            lines.append("请用 --on-conflict 选择：" + "；".join(f"{k} = {v}" for k, v in CHOICES.items()))
            return "\n".join(lines)

        ctx.emit(data, text)
        return 1
    except FaqFileError as exc:
        print(f"导入失败：{exc}", file=sys.stderr)
        return 1
    ctx.emit(result, f"已导入：新增 {result['added']}，更新 {result['updated']}，删除 {result['removed']}")
    return 0


def cmd_export(ctx: CliContext) -> int:
    entries = _service(ctx).entries()
    if ctx.args.file == "-":
        sys.stdout.write(dump_csv(entries) if ctx.args.csv else dump_jsonl(entries))
        return 0
    write_file(ctx.args.file, entries)
    print(f"已导出 {len(entries)} 个条目到 {ctx.args.file}", file=sys.stderr)
    return 0


def cmd_eval(ctx: CliContext) -> int:
    from intents.engine import FaqEngine
    from intents.evaluate import evaluate_files, format_report
    from intents.service import thresholds_of

    settings = _faq_settings(ctx)
    t = thresholds_of(settings)
    a = ctx.args
    semantic = settings.semantic and not a.lexical
    # the flags set the thresholds of the score in use (fused with semantic, else lexical)
    if semantic:
        answer = a.answer_threshold if a.answer_threshold is not None else t.semantic_answer
        suggest = a.suggest_threshold if a.suggest_threshold is not None else t.semantic_suggest
        t = replace(t, semantic_answer=answer, semantic_suggest=min(suggest, answer),
                    semantic_margin=a.margin if a.margin is not None else t.semantic_margin)
    else:
        answer = a.answer_threshold if a.answer_threshold is not None else t.answer
        suggest = a.suggest_threshold if a.suggest_threshold is not None else t.suggest
        t = replace(t, answer=answer, suggest=min(suggest, answer),
                    margin=a.margin if a.margin is not None else t.margin)
    try:
        tokenizer = _eval_tokenizer(a.synonyms, a.words)
        embedder = None
        if semantic:
            from intents.semantic import Embedder, shared_model

            embedder = Embedder(shared_model())
        report = evaluate_files(a.faq, a.questions, FaqEngine(tokenizer, thresholds=t, embedder=embedder))
    except (FaqFileError, OSError) as exc:
        print(f"评测失败：{exc}", file=sys.stderr)
        return 1
    ctx.emit(report, lambda: format_report(report))
    return 0


def _eval_tokenizer(synonyms: Path | None, words: Path | None):
    from intents.tokenize import Tokenizer

    tokenizer = Tokenizer(user_words=[(line.split()[0], None) for line in _list_file(words)])
    pairs = [line.split() for line in _list_file(synonyms)]
    bad = [" ".join(p) for p in pairs if len(p) != 2]
    if bad:
        raise FaqFileError(f"同义词文件每行应为“说法 归一为”两个词：{bad[0]}")
    tokenizer.set_synonyms(dict(pairs))
    return tokenizer


def _list_file(path: Path | None) -> list[str]:
    if path is None:
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def cmd_ask(ctx: CliContext) -> int:
    if ctx.args.faq:
        from intents.engine import FaqEngine
        from intents.service import thresholds_of

        settings = _faq_settings(ctx)
        embedder = None
        if settings.semantic:
            from intents.semantic import Embedder, shared_model

            embedder = Embedder(shared_model())
        engine = FaqEngine(thresholds=thresholds_of(settings), embedder=embedder)
        try:
            engine.load(read_file(ctx.args.faq))
        except (FaqFileError, OSError) as exc:
            print(f"读取失败：{exc}", file=sys.stderr)
            return 1
    else:
        engine = _service(ctx).engine
    match = engine.match(ctx.args.text, suggest_max=ctx.args.limit)
    cands = engine.candidates(ctx.args.text, ctx.args.limit)
    data = {"outcome": match.outcome, "text": ctx.args.text, "candidates": [c.to_dict() for c in cands]}

    def text() -> str:
        names = {"answer": "回答", "suggest": "建议", "silent": "不回答"}
        lines = [f"结果：{names[match.outcome]}"]
        for i, c in enumerate(cands, 1):
            f = c.features
            lines.append(f"{i}. {c.entry_id:<16} {c.score:6.1f}  {c.question}   "
                         f"(字符 {f['char']:.0f} 词 {f['token']:.0f} 重合 {f['overlap']:.0f} bm25 {c.bm25:.2f}"
                         + (f" 语义 {f['semantic']:.0f} 字面 {f['lexical']:.0f}" if c.fused else "")
                         + f"{'' if c.keyword else '，无共同关键词'})")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0


def cmd_list(ctx: CliContext) -> int:
    entries = _service(ctx).entries()
    ctx.emit(
        [e.to_dict() for e in entries],
        lambda: "\n".join(
            f"{e.id:<20} {'启用' if e.enabled else '停用'}  命中 {e.hits:<5} 没用 {e.unhelpful:<4} "
            f"问法 {len(e.questions)}  {e.questions[0]}" for e in entries
        ) or "（没有条目）",
    )
    return 0


def cmd_unanswered(ctx: CliContext) -> int:
    clusters = _service(ctx).clusters()
    ctx.emit(
        [c.to_dict() for c in clusters],
        lambda: "\n".join(
            f"[{c.size}] {c.label}" + (f"  （最接近：{c.nearest.entry_id} {c.nearest.score:.0f}）"
                                       if c.nearest else "") for c in clusters
        ) or "（没有未回答的问题）",
    )
    return 0
