"""FAQ files: JSON Lines and CSV, read with line-precise zh-CN errors and written back."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from intents.model import FaqEntry

ID_PATTERN = re.compile(r"^[\w\-.:]{1,64}$")
CSV_FIELDS = ["id", "answer", "questions", "tags", "groups", "enabled"]
# phrasings, tags and groups inside one CSV cell
CSV_SEPARATOR = "|"


class FaqFileError(ValueError):
    """A problem in an FAQ file, with the line it is on."""


def entry_from_dict(data: Any, where: str) -> FaqEntry:
    if not isinstance(data, dict):
        raise FaqFileError(f"{where}：应为对象 {{\"id\", \"answer\", \"questions\"}}")
    unknown = set(data) - {"id", "answer", "questions", "tags", "groups", "enabled", "hits",
                           "unhelpful", "kind"}
    if unknown:
        raise FaqFileError(f"{where}：未知字段 {', '.join(sorted(unknown))}")
    entry_id = str(data.get("id") or "").strip()
    if not ID_PATTERN.match(entry_id):
        raise FaqFileError(f"{where}：id 不能为空，只能含字母、数字、汉字、-_.:（最长 64）")
    answer = data.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise FaqFileError(f"{where}：条目 {entry_id} 缺少回答 answer")
    questions = data.get("questions")
    if isinstance(questions, str):
        questions = [questions]
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise FaqFileError(f"{where}：条目 {entry_id} 的 questions 应为字符串列表")
    questions = list(dict.fromkeys(q.strip() for q in questions if q.strip()))
    if not questions:
        raise FaqFileError(f"{where}：条目 {entry_id} 至少需要一个问法")
    lists: dict[str, list[str]] = {}
    for key in ("tags", "groups"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise FaqFileError(f"{where}：条目 {entry_id} 的 {key} 应为字符串列表")
        lists[key] = [v.strip() for v in value if v.strip()]
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise FaqFileError(f"{where}：条目 {entry_id} 的 enabled 应为 true/false")
    return FaqEntry(id=entry_id, answer=answer.strip(), questions=questions, enabled=enabled,
                    tags=lists["tags"], groups=lists["groups"])


def parse_jsonl(text: str, name: str = "文件") -> list[FaqEntry]:
    entries: list[FaqEntry] = []
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FaqFileError(f"{name} 第 {number} 行：不是有效的 JSON（{exc.msg}）") from None
        entries.append(entry_from_dict(data, f"{name} 第 {number} 行"))
    return _check_unique(entries, name)


def parse_csv(text: str, name: str = "文件") -> list[FaqEntry]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"id", "answer", "questions"} - set(reader.fieldnames or ())
    if missing:
        raise FaqFileError(f"{name}：CSV 表头缺少列 {', '.join(sorted(missing))}（需要 id,answer,questions）")
    entries = []
    for number, row in enumerate(reader, 2):
        def split(key: str, row: dict = row) -> list[str]:
            return [p.strip() for p in (row.get(key) or "").split(CSV_SEPARATOR) if p.strip()]

        enabled_text = (row.get("enabled") or "1").strip().lower()
        if enabled_text not in {"1", "0", "true", "false", "yes", "no", "是", "否"}:
            raise FaqFileError(f"{name} 第 {number} 行：enabled 应为 1/0")
        data = {
            "id": row.get("id"), "answer": row.get("answer"), "questions": split("questions"),
            "tags": split("tags"), "groups": split("groups"),
            "enabled": enabled_text in {"1", "true", "yes", "是"},
        }
        entries.append(entry_from_dict(data, f"{name} 第 {number} 行"))
    return _check_unique(entries, name)


def _check_unique(entries: list[FaqEntry], name: str) -> list[FaqEntry]:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise FaqFileError(f"{name}：条目 id 重复：{entry.id}")
        seen.add(entry.id)
    return entries


def read_file(path: Path | str) -> list[FaqEntry]:
    """Read .jsonl/.json (JSON Lines) or .csv by extension."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FaqFileError(f"{path.name}：不是 UTF-8 文本") from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text, path.name)
    return parse_jsonl(text, path.name)


def dump_jsonl(entries: list[FaqEntry]) -> str:
    lines = []
    for e in entries:
        data: dict[str, Any] = {"id": e.id, "answer": e.answer, "questions": e.questions, "tags": e.tags}
        if e.groups:
            data["groups"] = e.groups
        if not e.enabled:
            data["enabled"] = False
        lines.append(json.dumps(data, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def dump_csv(entries: list[FaqEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({
            "id": e.id, "answer": e.answer, "questions": CSV_SEPARATOR.join(e.questions),
            "tags": CSV_SEPARATOR.join(e.tags), "groups": CSV_SEPARATOR.join(e.groups),
            "enabled": "1" if e.enabled else "0",
        })
    return out.getvalue()


def write_file(path: Path | str, entries: list[FaqEntry]) -> None:
    path = Path(path)
    text = dump_csv(entries) if path.suffix.lower() == ".csv" else dump_jsonl(entries)
    path.write_text(text, encoding="utf-8")
