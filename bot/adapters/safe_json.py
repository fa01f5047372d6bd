"""JSON from platforms, parsed strictly: no NaN / Infinity, no absurd nesting.

Python's `json` accepts `NaN`, `Infinity` and `1e400` (a float infinity) and recurses once
per nesting level, so `{"a":` x 5000 raises RecursionError. Both are refused here with
`MalformedJson` (a ValueError), so a caller has one exception to turn into a 400 or a
skipped frame. The depth check costs two `count` calls for ordinary events; a document
with more than MAX_DEPTH brackets in total is checked with a few C-speed passes.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # OneBot events nest 4-6 levels; anything near this is not an event

# every byte but quotes and brackets, for bytes.translate(None, delete=...)
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'"[]{}')
_SQUARE_AS_CURLY = bytes.maketrans(b"[]", b"{}")


class MalformedJson(ValueError):
    """Not JSON, or JSON we refuse to take in (non-finite numbers, nesting past MAX_DEPTH)."""


def _no_constant(name: str) -> Any:
    raise MalformedJson(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf
        raise MalformedJson("non-finite number")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def too_deep(data: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """True when brackets nest deeper than `limit` (or do not balance); brackets inside
    strings do not count. Every step runs at C speed: no per-character Python loop."""
    if isinstance(data, str):
        count = data.count("{") + data.count("[")
    else:
        count = data.count(b"{") + data.count(b"[")
    if count <= limit:
        return False  # the common case: too few brackets to nest that deep
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if b"\\" in raw:  # drop escaped backslashes, then escaped quotes: each quote left is real
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = raw.translate(None, _NOT_STRUCTURE)  # quotes and brackets only
    # two adjacent quotes can go without changing what is inside a string: most strings vanish
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:  # strings with brackets in them ("[CQ:at…]"): drop them
        skeleton = b"".join(skeleton.split(b'"')[::2])
    brackets = skeleton.translate(_SQUARE_AS_CURLY)
    if b"{" * (limit + 1) in brackets:
        return True  # the usual attack, found in one search
    for _ in range(limit):  # each pass removes the innermost level, exactly one
        if not brackets:
            return False
        shorter = brackets.replace(b"{}", b"")
        if len(shorter) == len(brackets):
            break  # unbalanced: not JSON
        brackets = shorter
    return bool(brackets)


def loads(data: bytes | str) -> Any:
    """`json.loads`, refusing NaN / Infinity / overflowing floats and nesting past MAX_DEPTH."""
    if too_deep(data):
        raise MalformedJson(f"nested deeper than {MAX_DEPTH} levels (or unbalanced)")
    try:
        text = data if isinstance(data, str) else data.decode(json.detect_encoding(data), "surrogatepass")
        return _DECODER.decode(text)
    except MalformedJson:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJson(type(exc).__name__ if isinstance(exc, RecursionError) else str(exc)[:120]) from None


def loads_object(data: bytes | str) -> dict[str, Any]:
    """`loads` for documents that must be a JSON object."""
    value = loads(data)
    if not isinstance(value, dict):
        raise MalformedJson("JSON object expected")
    return value
