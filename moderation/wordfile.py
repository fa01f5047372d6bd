"""Importer for real-world word lists: one word per line, optional `word<TAB>category[<TAB>severity<TAB>action]`.

Real lists are messy: CRLF or mixed line ends, trailing commas, UTF-8 with BOM, GBK files,
duplicates, blank lines, `#` comments. Encodings are detected (UTF-8, UTF-8 BOM, UTF-16 BOM, GBK)
or rejected with a clear message; empty and one-character words are rejected unless forced.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from moderation.config import ACTION_RANK

# the longest word accepted anywhere (file, CLI, console), the same cap as a keyword rule's keyword:
# a longer one is a pasted paragraph, never matches usefully, and stretched the console's table
MAX_WORD = 200
ERR_ENCODING = "无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8、UTF-16、GBK），请另存为 UTF-8 后重试"
ERR_BINARY = "文件不是文本（含有 NUL 字节），请确认选择的是词表文件"
_TRAILING = ",，;；、"


@dataclass
class WordFile:
    """The parsed file: words to import, what was wrong with which line, and how it was read."""

    words: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duplicates: int = 0
    comments: int = 0
    encoding: str = "utf-8"
    notes: list[str] = field(default_factory=list)


class WordFileError(ValueError):
    """The whole file cannot be read (encoding, binary)."""


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name) or WordFileError."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data:
        raise WordFileError(ERR_BINARY)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gbk")
    except UnicodeDecodeError:
        raise WordFileError(ERR_ENCODING) from None
    plausible = sum(1 for ch in text if ch.isascii() or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f")
    if plausible < 0.95 * len(text):
        raise WordFileError(ERR_ENCODING)
    return text, "gbk"


def parse(data: bytes, *, category: str | None = None, action: str | None = None, severity: int = 2,
          force: bool = False, source: str = "") -> WordFile:
    """Parse a word list; per-line problems go to `errors`, the rest to `words`."""
    if action is not None and action not in ACTION_RANK:
        raise WordFileError(f"未知动作 {action!r}，可选：{', '.join(ACTION_RANK)}")
    text, encoding = decode(data)
    result = WordFile(encoding=encoding)
    if encoding == "gbk":
        result.notes.append("文件编码为 GBK，已自动转换为 UTF-8")
    elif encoding == "utf-8-sig":
        result.notes.append("文件带 UTF-8 BOM，已去除")
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        if line.startswith("#"):
            result.comments += 1
            continue
        cols = [c.strip() for c in line.split("\t")]
        word = cols[0].rstrip(_TRAILING).strip()
        row: dict[str, Any] = {"word": word, "category": category or "其他", "severity": severity,
                               "action": action, "source": source}
        if len(cols) > 1 and cols[1]:
            row["category"] = cols[1]
        if len(cols) > 2 and cols[2]:
            if not cols[2].isdigit() or not 1 <= int(cols[2]) <= 3:
                result.errors.append(f"第 {lineno} 行：严重程度应为 1-3，实际为“{cols[2]}”")
                continue
            row["severity"] = int(cols[2])
        if len(cols) > 3 and cols[3]:
            if cols[3] not in ACTION_RANK:
                result.errors.append(f"第 {lineno} 行：未知动作“{cols[3]}”")
                continue
            row["action"] = cols[3]
        if not word:
            if not force:
                result.errors.append(f"第 {lineno} 行：词为空")
            continue
        if len(word) < 2 and not force:
            result.errors.append(f"第 {lineno} 行：单字词“{word}”容易误伤，已拒绝（用 --force 强制导入）")
            continue
        if len(word) > MAX_WORD:
            result.errors.append(f"第 {lineno} 行：词过长（{len(word)} 字，上限 {MAX_WORD}）")
            continue
        if word in seen:
            result.duplicates += 1
            continue
        seen.add(word)
        result.words.append(row)
    return result
