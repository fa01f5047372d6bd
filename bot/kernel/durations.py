"""Human durations as written in config and commands: "30s", "5m", "1h", "1d", "1h30m", "0"."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


class Duration(float):
    """Seconds, parsed from "30m"-style strings; a plain number means seconds."""

    @classmethod
    def from_config(cls, value: object) -> Duration:
        return cls(parse_duration(value))

    def __repr__(self) -> str:
        return f"Duration({format_duration(self)!r})"


def parse_duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"应为时长（如 \"30m\"），实际是 {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("时长不能为负数")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"应为时长（如 \"30m\"），实际是 {value!r}")
    text = value.strip().lower().replace(" ", "")
    if text in ("0", ""):
        if text == "":
            raise ValueError("时长不能为空")
        return 0.0
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"时长格式不对：{value!r}（可写 \"30s\"、\"5m\"、\"1h\"、\"1d\"）")
    return total


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds == 0:
        return "0"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
