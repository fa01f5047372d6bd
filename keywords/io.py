"""Import and export of rules as CSV (UTF-8 with BOM, for Excel/WPS) and JSON.

Field names are those of `[[keywords]]` in config.toml; in CSV, list fields (replies, groups,
tags) are separated by `|` (write `\\|` for a literal bar). Import checks every row first and
reports each bad row with its line number; nothing is written when any row is bad, unless
`partial` is asked for, in which case the good rows are imported.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.store import Store
from keywords.manage import ERR_CONFIG_RULE, check_member_tags, validate_rules
from keywords.rules import FIELDS, LIST_FIELDS, RuleError, export_spec, join_list

FORMATS = (".csv", ".json")


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (wrong type, not CSV/JSON, unknown columns)."""


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # (line number, {field: zh-CN reason})
    errors: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    written: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "written": self.written,
            "errors": [{"line": line, "errors": errs} for line, errs in self.errors],
        }

    def error_lines(self) -> list[str]:
        return [f"第 {line} 行：" + "；".join(f"{k} {v}" for k, v in errs.items()) for line, errs in self.errors]


# -- export ---------------------------------------------------------------------------------------

# Excel/WPS run a cell that starts with one of these as a formula (`=HYPERLINK(…)`, `@SUM(…)`,
# `-2+3+cmd|…`): such a text cell is written with a leading `'`, which they show as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_guarded(text: str) -> bool:
    """Whether `text` (after any leading quotes) starts like a formula."""
    return text.lstrip("'").startswith(FORMULA_START)


def guard_cell(text: str) -> str:
    """Export: `'` before a formula-like text. Also before one already starting with quotes
    and a formula character, so `unguard_cell` gives back exactly what was stored."""
    return "'" + text if _is_guarded(text) else text


def unguard_cell(text: str) -> str:
    """Import: take off the `'` that `guard_cell` added (and only that one)."""
    return text[1:] if text.startswith("'") and _is_guarded(text) else text



def export_rows(store: Store) -> list[dict[str, Any]]:
    return [export_spec({**row["spec"], "id": row["name"]}) for row in store.keywords.list_rules()]


def dumps_csv(specs: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for spec in specs:
        row = {}
        for key in FIELDS:
            value = spec.get(key, "")
            if key in LIST_FIELDS:
                value = join_list(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            row[key] = guard_cell(value) if isinstance(value, str) else value
        writer.writerow(row)
    return out.getvalue()


def dumps_json(specs: list[dict[str, Any]]) -> str:
    return json.dumps(specs, ensure_ascii=False, indent=2) + "\n"


def export_bytes(store: Store, fmt: str) -> bytes:
    specs = export_rows(store)
    if fmt == ".csv":
        return ("\ufeff" + dumps_csv(specs)).encode("utf-8")
    return dumps_json(specs).encode("utf-8")


def export_file(store: Store, path: Path) -> int:
    fmt = file_format(path)
    data = export_bytes(store, fmt)
    path.write_bytes(data)
    return len(store.keywords.list_rules())


# -- import ---------------------------------------------------------------------------------------


def file_format(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ImportFormatError(f"不支持的文件类型 {suffix or '（无扩展名）'}：请使用 .csv 或 .json")
    return suffix


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Chinese Windows saves "CSV" as GBK
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFormatError("文件不是 UTF-8 或 GBK 编码的文本") from None


def parse_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFormatError("文件是空的") from None
    except csv.Error as exc:
        raise ImportFormatError(f"第 1 行不是有效的 CSV：{exc}") from None
    unknown = [h for h in header if h and h not in FIELDS]
    if unknown:
        raise ImportFormatError(f"第 1 行：未知的列 {'、'.join(unknown)}（可用的列：{'、'.join(FIELDS)}）")
    if "keyword" not in header:
        raise ImportFormatError("第 1 行：缺少 keyword 列")
    rows: list[tuple[int, dict[str, Any]]] = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportFormatError(f"第 {line} 行不是有效的 CSV：{exc}") from None
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            rows.append((start, {"__error__": f"有 {len(cells)} 列，比表头多（表头 {len(header)} 列）"}))
            continue
        rows.append((start, {h: unguard_cell(c) for h, c in zip(header, cells, strict=False)
                             if h and c.strip() != ""}))
    return rows


def parse_json(text: str) -> list[tuple[int, dict[str, Any]]]:
    """A list of rule objects (or {"keywords": [...]}), each with the line it starts on."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"第 {exc.lineno} 行不是有效的 JSON：{exc.msg}") from None
    decoder = json.JSONDecoder()
    if isinstance(data, dict) and isinstance(data.get("keywords"), list) and len(data) == 1:
        pos = text.index("[", text.index('"keywords"'))
    elif isinstance(data, list):
        pos = text.index("[")
    else:
        raise ImportFormatError("JSON 应为规则对象的数组，或 {\"keywords\": [...]}")
    rows: list[tuple[int, dict[str, Any]]] = []
    pos += 1
    while True:
        while text[pos] in " \t\r\n,":
            pos += 1
        if text[pos] == "]":
            break
        value, end = decoder.raw_decode(text, pos)
        line = text.count("\n", 0, pos) + 1
        if isinstance(value, dict):
            rows.append((line, value))
        else:
            rows.append((line, {"__error__": "应为一个规则对象 {...}"}))
        pos = end
    return rows


def read_rows(data: bytes, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    text = _decode(data)
    return parse_csv(text) if fmt == ".csv" else parse_json(text)


def validate_rows(rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any] | RuleError]:
    """The slow part of an import (regex measurement): run it off the event loop and the store thread."""
    return validate_rules([{} if "__error__" in r else r for _, r in rows])


def import_rows(
    store: Store, rows: list[tuple[int, dict[str, Any]]], *, partial: bool = False,
    source: str = "import", actor: str = "", validated: list[dict[str, Any] | RuleError] | None = None,
) -> ImportReport:
    """Validate every row, then write all (or, with `partial`, the good ones) in one transaction."""
    report = ImportReport(rows=len(rows))
    results = validated if validated is not None else validate_rows(rows)
    existing = {r["name"]: r for r in store.keywords.list_rules()}
    seen: dict[str, int] = {}
    good: list[dict[str, Any]] = []
    for (line, raw), result in zip(rows, results, strict=True):
        if "__error__" in raw:
            report.errors.append((line, {"row": raw["__error__"]}))
            continue
        if isinstance(result, RuleError):
            report.errors.append((line, result.errors))
            continue
        spec = result
        try:
            check_member_tags(store, spec)
        except RuleError as exc:
            report.errors.append((line, exc.errors))
            continue
        name = spec["id"]
        if name:
            if name in seen:
                report.errors.append((line, {"id": f"编号 {name} 与第 {seen[name]} 行重复"}))
                continue
            seen[name] = line
            old = existing.get(name)
            if old and old["source"] == "config":
                if old["spec"] == spec:
                    report.unchanged += 1
                else:
                    report.errors.append((line, {"id": ERR_CONFIG_RULE}))
                continue
            if old and old["spec"] == spec:
                report.unchanged += 1
                continue
            if old:
                report.updated += 1
            else:
                report.created += 1
        else:
            report.created += 1
        good.append(spec)
    if report.errors and not partial:
        report.created = report.updated = report.unchanged = 0
        return report
    if good:
        store.keywords.save_rules(good, source=source, actor=actor)
    report.written = True
    return report


def import_file(
    store: Store, path: Path, *, partial: bool = False, source: str = "import", actor: str = ""
) -> ImportReport:
    fmt = file_format(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"无法读取文件 {path}：{exc.strerror}") from None
    return import_rows(store, read_rows(data, fmt), partial=partial, source=source, actor=actor)
