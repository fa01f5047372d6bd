"""Labelled message files (CSV) and the held-out evaluation of lexicon, rules and spam score.

A labelled file is CSV with a header naming a label column (`label` or `target`: 1/0, spam/ham,
true/false) and a text column (`text` or `input`). Duplicates are dropped; the held-out part is
chosen by a hash of the text (a fifth of the messages), so it is the same on every run and never
overlaps the part the spam score is trained on.
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from moderation.config import ModerationSettings
from moderation.engine import Moderator
from moderation.evaluate import split_words
from moderation.spam import SpamModel, evaluate
from moderation.wordfile import WordFileError, parse

LABELS = {"1": True, "0": False, "spam": True, "ham": False, "true": True, "false": False,
          "垃圾": True, "正常": False}
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


class SampleFileError(ValueError):
    """The labelled file cannot be used."""


def read_labelled(path: Path) -> list[tuple[str, bool]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SampleFileError(f"{path}: 不是 UTF-8 文本") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    try:
        li = next(i for i, h in enumerate(header) if h in ("label", "target", "spam"))
        ti = next(i for i, h in enumerate(header) if h in ("text", "input", "message"))
    except StopIteration:
        raise SampleFileError(f"{path}: 表头需要 label/target 列和 text/input 列") from None
    rows = []
    for lineno, row in enumerate(reader, 2):
        if len(row) <= max(li, ti):
            continue
        label = LABELS.get(row[li].strip().lower())
        if label is None:
            raise SampleFileError(f"{path}:{lineno}: 无法识别的标签“{row[li]}”（用 1/0）")
        if row[ti].strip():
            rows.append((row[ti], label))
    return rows


def split(rows: list[tuple[str, bool]], *, held_out: bool = True,
          ) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """(train, held_out) after dropping duplicate texts; everything in train if not `held_out`."""
    seen: dict[str, bool] = {}
    for text, label in rows:
        seen.setdefault(text.strip(), label)
    train: list[tuple[str, bool]] = []
    held: list[tuple[str, bool]] = []
    for text, label in seen.items():
        (held if held_out and zlib.crc32(text.encode()) % 5 == 0 else train).append((text, label))
    return train, held


def holdout_report(path: Path, word_files: list[Path], settings: ModerationSettings | None,
                   threshold: float | None) -> dict[str, Any]:
    """Train on four fifths of one labelled file, evaluate on the held-out fifth."""
    train, held = split(read_labelled(path))
    return quality_report(train, held, word_files, settings, threshold)


def train_eval_report(train_path: Path, eval_path: Path, word_files: list[Path],
                      settings: ModerationSettings | None, threshold: float | None) -> dict[str, Any]:
    """Train on one labelled file, evaluate on another (duplicates of training texts dropped)."""
    train, _ = split(read_labelled(train_path), held_out=False)
    trained = {t for t, _ in train}
    evaluated, _ = split(read_labelled(eval_path), held_out=False)
    return quality_report(train, [(t, y) for t, y in evaluated if t not in trained], word_files, settings, threshold)


def quality_report(train: list[tuple[str, bool]], held: list[tuple[str, bool]], word_files: list[Path],
                   settings: ModerationSettings | None, threshold: float | None) -> dict[str, Any]:
    """Lexicon + rules, the learned score per threshold, and both combined, on `held`.

    `score` and `combined` are the figures at the configured (or given) threshold."""
    settings = settings or ModerationSettings()
    threshold = threshold or settings.rules.spam_threshold
    words, allow, domains = [], [], []
    for wf in word_files:
        try:
            parsed = parse(wf.read_bytes(), force=False, category=wf.stem)
        except WordFileError as exc:
            raise SampleFileError(f"{wf}: {exc}") from None
        w, a, d = split_words(parsed.words)
        words += w
        allow += a
        domains += d
    rules = replace(settings.rules, flood=False, rate=False, spam_score=False)
    m = Moderator(replace(settings, rules=rules))
    m.load([{**w, "id": i + 1} for i, w in enumerate(words)], allow, domains)
    labels = [y for _, y in held]
    flagged = [bool(m.check_text(t).hits) for t, _ in held]
    report: dict[str, Any] = {
        "held_out": len(held), "held_out_spam": sum(labels), "trained_on": len(train),
        "lexicon_words": m.compiled.lexicon.size,
        "lexicon_rules": _quality(flagged, labels),
    }
    norm = m.compiled.normalizer
    model = SpamModel.fit([(norm(t).compact, y) for t, y in train], [t for t, _ in train])
    compact_held = [(norm(t).compact, y) for t, y in held]
    originals = [t for t, _ in held]
    report["spam_score"] = {
        str(th): evaluate(model, compact_held, th, originals) for th in sorted({*THRESHOLDS, threshold})
    }
    scored = [model.probability(c, t) >= threshold for (c, _), t in zip(compact_held, originals, strict=True)]
    combined = [f or s for f, s in zip(flagged, scored, strict=True)]
    report["score"] = {"threshold": threshold, **_quality(scored, labels)}
    report["combined"] = {"threshold": threshold, **_quality(combined, labels)}
    # the name this figure had before `combined`; scripts read it
    report["combined_at_threshold"] = report["combined"]
    return report


def _quality(flagged: list[bool], labels: list[bool]) -> dict[str, float]:
    tp = sum(1 for f, y in zip(flagged, labels, strict=True) if f and y)
    fp = sum(1 for f, y in zip(flagged, labels, strict=True) if f and not y)
    pos = sum(labels)
    neg = len(labels) - pos
    return {
        "recall": round(tp / pos, 4) if pos else 0.0,
        "false_positive_rate": round(fp / neg, 4) if neg else 0.0,
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
    }
