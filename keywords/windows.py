"""Active time windows ("19:00-23:00", several separated by commas) and date ranges."""

from __future__ import annotations

import re
from datetime import date, datetime

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–—~～至到]\s*(\d{1,2}):(\d{2})$")
_DATE_SEPARATORS = ("..", "~", "～", "至", "/")


def parse_windows(text: str) -> tuple[tuple[int, int], ...]:
    """"19:00-23:00, 07:30-08:30" → ((1140, 1380), (450, 510)); windows may cross midnight."""
    out = []
    for part in re.split(r"[,，;；]", text or ""):
        part = part.strip()
        if not part:
            continue
        m = _WINDOW.match(part)
        if not m:
            raise ValueError(f"时间段 {part!r} 格式不对，应写成 19:00-23:00（多个用逗号分隔）")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"时间段 {part!r} 中的时间不存在")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end or (start == 0 and end == 1440):
            raise ValueError(f"时间段 {part!r} 的开始和结束相同；全天生效请留空")
        out.append((start, end))
    return tuple(out)


def format_windows(windows: tuple[tuple[int, int], ...]) -> str:
    return ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in windows)


def in_windows(windows: tuple[tuple[int, int], ...], local: datetime) -> bool:
    if not windows:
        return True
    minute = local.hour * 60 + local.minute
    for start, end in windows:
        if start < end:
            if start <= minute < end:
                return True
        elif minute >= start or minute < end:
            return True
    return False


def parse_dates(text: str) -> tuple[date | None, date | None]:
    """"2026-11-01..2026-11-11" (inclusive; either end may be empty) → (start, end)."""
    text = (text or "").strip()
    if not text:
        return None, None
    for sep in _DATE_SEPARATORS:
        if sep in text:
            left, _, right = text.partition(sep)
            break
    else:
        left, right = text, text
    try:
        start = date.fromisoformat(left.strip()) if left.strip() else None
        end = date.fromisoformat(right.strip()) if right.strip() else None
    except ValueError:
        raise ValueError(f"日期范围 {text!r} 格式不对，应写成 2026-11-01..2026-11-11") from None
    if start is None and end is None:
        raise ValueError("日期范围至少要写开始或结束日期")
    if start and end and end < start:
        raise ValueError(f"日期范围 {text!r} 的结束日期早于开始日期")
    return start, end


def format_dates(start: date | None, end: date | None) -> str:
    if start is None and end is None:
        return ""
    return f"{start.isoformat() if start else ''}..{end.isoformat() if end else ''}"


def in_dates(start: date | None, end: date | None, local: datetime) -> bool:
    day = local.date()
    return (start is None or day >= start) and (end is None or day <= end)
