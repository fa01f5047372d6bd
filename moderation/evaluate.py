"""Evaluation on a labelled evasion set: recall and false-positive rate, overall and per technique.

Cases are JSON lines `{"text": "…", "flag": true, "technique": "noise-chars"}`. The moderator is
built fresh from a word file plus the default text rules (links, phones, WeChat ids); traffic
rules (flooding, rate) and the learned spam score are off, since they depend on history.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from moderation.config import ModerationSettings
from moderation.engine import Moderator
from moderation.wordfile import parse

ALLOW_CATEGORY = "白名单"
DOMAIN_ALLOW_CATEGORY = "域名白名单"


class CaseError(ValueError):
    """A line of the cases file is not a valid case."""


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CaseError(f"{path}:{lineno}: 不是有效的 JSON：{exc.msg}") from None
        if (
            not isinstance(case, dict)
            or not isinstance(case.get("text"), str)
            or not isinstance(case.get("flag"), bool)
        ):
            raise CaseError(f"{path}:{lineno}: 每行需要 \"text\"（字符串）和 \"flag\"（true/false）")
        case.setdefault("technique", "other")
        cases.append(case)
    return cases


def split_words(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Lexicon rows, allowlist words and allowed domains of one parsed word file."""
    words = [r for r in rows if r["category"] not in (ALLOW_CATEGORY, DOMAIN_ALLOW_CATEGORY)]
    allow = [r["word"] for r in rows if r["category"] == ALLOW_CATEGORY]
    domains = [r["word"] for r in rows if r["category"] == DOMAIN_ALLOW_CATEGORY]
    return words, allow, domains


def moderator_from_words(path: Path, settings: ModerationSettings | None = None, *,
                         pinyin: bool | None = None) -> Moderator:
    """A moderator over one word file; `pinyin` forces homophone matching on or off (default: settings)."""
    settings = settings or ModerationSettings()
    rules = replace(settings.rules, flood=False, rate=False, spam_score=False)
    normalize = settings.normalize if pinyin is None else replace(settings.normalize, pinyin=pinyin)
    settings = replace(settings, rules=rules, normalize=normalize)
    parsed = parse(path.read_bytes(), force=True)
    words, allow, domains = split_words(parsed.words)
    m = Moderator(settings)
    m.load([{**w, "id": i + 1} for i, w in enumerate(words)], allow, domains)
    return m


def evaluate(moderator: Moderator, cases: list[dict[str, Any]], *, min_seconds: float = 0.05) -> dict[str, Any]:
    """Recall, false-positive rate and speed, overall and per technique, plus the misses."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        groups.setdefault(case["technique"], []).append(case)
    report: dict[str, Any] = {"techniques": {}, "misses": []}
    totals = {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "seconds": 0.0, "messages": 0}
    for technique, items in sorted(groups.items()):
        counts = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
        for case in items:
            flagged = bool(moderator.check_text(case["text"]).hits)
            key = ("tp" if flagged else "fn") if case["flag"] else ("fp" if flagged else "tn")
            counts[key] += 1
            if key in ("fn", "fp"):
                report["misses"].append({"text": case["text"], "flag": case["flag"], "technique": technique})
        seconds, runs = _time(moderator, [c["text"] for c in items], min_seconds)
        report["techniques"][technique] = _rates(counts, seconds, runs * len(items))
        for k, v in counts.items():
            totals[k] += v
        totals["seconds"] += seconds
        totals["messages"] += runs * len(items)
    report.update(_rates(totals, totals["seconds"], int(totals["messages"])))
    return report


def _time(moderator: Moderator, texts: list[str], min_seconds: float) -> tuple[float, int]:
    runs, started = 0, time.perf_counter()
    while True:
        for text in texts:
            moderator.check_text(text)
        runs += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed, runs


def _rates(c: dict[str, Any], seconds: float, messages: int) -> dict[str, Any]:
    pos, neg = c["tp"] + c["fn"], c["fp"] + c["tn"]
    return {
        "recall": round(c["tp"] / pos, 4) if pos else None,
        "false_positive_rate": round(c["fp"] / neg, 4) if neg else None,
        "precision": round(c["tp"] / (c["tp"] + c["fp"]), 4) if c["tp"] + c["fp"] else None,
        "positives": pos, "negatives": neg,
        "messages_per_second": round(messages / seconds) if seconds else None,
    }
