"""Traditional → simplified Chinese with OpenCC, shared by moderation and the FAQ.

Most messages are written in simplified characters already; OpenCC's phrase-level
conversion then changes nothing but still costs a call per message. `to_simplified`
skips it when the text has no character t2s converts on its own (every phrase OpenCC
rewrites contains one).
"""

from __future__ import annotations

from functools import lru_cache

import opencc

_CONVERTER = opencc.OpenCC("t2s")
# where OpenCC's t2s tables have characters: CJK, extension A, compatibility, planes 2
_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x30000))


@lru_cache(maxsize=1)
def char_table() -> dict[int, str]:
    """Every character t2s changes on its own → its simplified form (~40 ms, built once)."""
    chars = [chr(cp) for lo, hi in _RANGES for cp in range(lo, hi)]
    # one call; "\n" between characters keeps phrases from matching across them
    converted = _CONVERTER.convert("\n".join(chars)).split("\n")
    return {ord(a): b for a, b in zip(chars, converted, strict=True) if a != b}


@lru_cache(maxsize=1)
def _convertible() -> frozenset[str]:
    return frozenset(map(chr, char_table()))


def to_simplified(text: str) -> str:
    """OpenCC's phrase-aware t2s conversion, skipped when nothing in `text` would change."""
    if _convertible().isdisjoint(text):
        return text
    return _CONVERTER.convert(text)
