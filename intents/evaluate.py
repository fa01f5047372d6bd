"""The evaluation harness: run the engine on a labelled question set and measure it.

Definitions (the same as the issue's brute-force baseline):
- top1_accuracy / top3_recall: over questions whose expected entry exists, is it the
  best candidate / among the best three (whatever the score);
- answer_precision: of all questions that got an answer (score >= answer threshold),
  the share whose answer is the expected entry (an off-topic answer counts as wrong);
- answer_coverage: answered questions / all questions;
- correct_answer_rate: correctly answered / questions that have an expected entry;
- offtopic_false_answer_rate: off-topic questions (expected null) that got an answer,
  also split by `kind` (in-domain-unknown, chitchat);
- suggest_hit_rate: in-FAQ questions left unanswered whose entry was offered as a suggestion;
- questions_per_second: questions / CPU seconds of the matching loop.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intents.engine import FaqEngine
from intents.faqfile import FaqFileError, read_file
from intents.model import Candidate

SWEEP = (50, 55, 60, 65, 70, 75, 80, 85, 90, 95)


@dataclass(slots=True)
class Labelled:
    text: str
    expected: str | None
    kind: str


def read_questions(path: Path | str) -> list[Labelled]:
    path = Path(path)
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            text = data["text"]
            expected = data.get("expected")
        except (json.JSONDecodeError, KeyError, TypeError):
            raise FaqFileError(f"{path.name} 第 {number} 行：应为 {{\"text\": …, \"expected\": id 或 null}}") from None
        kind = data.get("kind") or ("paraphrase" if expected else "offtopic")
        out.append(Labelled(str(text), expected, str(kind)))
    return out


def _at(engine: FaqEngine, results: list[tuple[Labelled, list[Candidate]]], answer: float | None,
        suggest: float | None) -> dict[str, Any]:
    """Figures at an answer threshold (None: the engine's own, for the score in use)."""
    def answers(c: list[Candidate]) -> bool:
        return engine.decide(c, answer, suggest) == "answer"

    def floor(c: list[Candidate]) -> float:
        return suggest if suggest is not None else engine.suggest_floor(c[0])

    in_faq = [(q, c) for q, c in results if q.expected]
    off = [(q, c) for q, c in results if not q.expected]
    answered = [(q, c) for q, c in results if answers(c)]
    correct = sum(1 for q, c in answered if c[0].entry_id == q.expected)
    by_kind: dict[str, list[int]] = {}
    for q, c in off:
        slot = by_kind.setdefault(q.kind, [0, 0])
        slot[0] += answers(c)
        slot[1] += 1
    unanswered = [(q, c) for q, c in in_faq if not answers(c)]
    suggested = sum(
        1 for q, c in unanswered
        if engine.decide(c, answer, suggest) == "suggest"
        and any(x.entry_id == q.expected and x.score >= floor(c) and x.keyword for x in c[:3])
    )
    return {
        "answer_threshold": answer if answer is not None else engine.answer_threshold,
        "answer_precision": round(correct / len(answered), 4) if answered else 1.0,
        "answer_coverage": round(len(answered) / len(results), 4) if results else 0.0,
        "correct_answer_rate": round(correct / len(in_faq), 4) if in_faq else 0.0,
        "offtopic_false_answer_rate": round(
            sum(v[0] for v in by_kind.values()) / len(off), 4) if off else 0.0,
        "offtopic_by_kind": {k: round(v[0] / v[1], 4) for k, v in sorted(by_kind.items())},
        "suggest_hit_rate": round(suggested / len(unanswered), 4) if unanswered else 0.0,
    }


def evaluate(engine: FaqEngine, questions: list[Labelled]) -> dict[str, Any]:
    """Metrics at the engine's thresholds, plus a sweep over answer thresholds."""
    engine.candidates("预热")  # jieba is warm before timing; the question cache is not
    engine.tokenizer.clear_cache()
    # CPU time of this process: other load on a shared machine does not distort the figure
    started = time.process_time()
    results = [(q, engine.candidates(q.text, 3)) for q in questions]
    elapsed = time.process_time() - started
    in_faq = [(q, c) for q, c in results if q.expected]
    t = engine.thresholds
    suggest_t = t.semantic_suggest if engine.semantic else t.suggest
    report: dict[str, Any] = {
        "questions": len(results),
        "in_faq": len(in_faq),
        "offtopic": len(results) - len(in_faq),
        "faq_entries": len(engine.entries),
        "phrasings": engine.phrasing_count,
        "top1_accuracy": round(sum(1 for q, c in in_faq if c and c[0].entry_id == q.expected)
                               / len(in_faq), 4) if in_faq else 0.0,
        "top3_recall": round(sum(1 for q, c in in_faq if any(x.entry_id == q.expected for x in c[:3]))
                             / len(in_faq), 4) if in_faq else 0.0,
        "semantic": engine.semantic,
        "suggest_threshold": suggest_t,
        "answer_margin": t.semantic_margin if engine.semantic else t.margin,
        **_at(engine, results, None, None),
        "questions_per_second": round(len(results) / elapsed, 1) if elapsed else 0.0,
        # (with semantic, confident lexical answers keep their own thresholds in the sweep)
        "sweep": [_at(engine, results, th, min(suggest_t, th)) for th in SWEEP],
    }
    return report


def evaluate_files(faq_path: Path | str, questions_path: Path | str,
                   engine: FaqEngine | None = None) -> dict[str, Any]:
    """A fresh engine built from the FAQ file (never the bot's own data)."""
    engine = engine or FaqEngine()
    engine.load(read_file(faq_path))
    return evaluate(engine, read_questions(questions_path))


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"FAQ 条目 {report['faq_entries']}，问法 {report['phrasings']}；"
        f"问题 {report['questions']}（库内 {report['in_faq']}，库外 {report['offtopic']}）",
        f"top-1 准确率      {report['top1_accuracy']:.3f}",
        f"top-3 召回率      {report['top3_recall']:.3f}",
        f"回答阈值          {report['answer_threshold']:g}（领先第二名 ≥ {report['answer_margin']:g}；"
        f"建议阈值 {report['suggest_threshold']:g}）",
        f"回答精确率        {report['answer_precision']:.3f}",
        f"回答覆盖率        {report['answer_coverage']:.3f}（库内答对 {report['correct_answer_rate']:.3f}）",
        f"库外误答率        {report['offtopic_false_answer_rate']:.3f}  "
        + "  ".join(f"{k} {v:.3f}" for k, v in report["offtopic_by_kind"].items()),
        f"建议命中率        {report['suggest_hit_rate']:.3f}（未回答的库内问题中，建议里有正确条目）",
        f"速度              {report['questions_per_second']:.0f} 问/秒",
        "",
        "阈值  精确率  覆盖率  库内答对  库外误答  " + "  ".join(report["offtopic_by_kind"]),
    ]
    for row in report["sweep"]:
        kinds = "  ".join(f"{v:.3f}" for v in row["offtopic_by_kind"].values())
        lines.append(
            f"{row['answer_threshold']:>4g}  {row['answer_precision']:.3f}   {row['answer_coverage']:.3f}   "
            f"{row['correct_answer_rate']:.3f}     {row['offtopic_false_answer_rate']:.3f}     {kinds}"
        )
    return "\n".join(lines)
