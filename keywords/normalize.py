"""Text normalisation shared by rules and messages: width, case, outer spaces and punctuation."""

from __future__ import annotations

import unicodedata


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), case-folded, inner whitespace collapsed, outer punctuation stripped.

    `"  ＶＩＰ 价格？！"` → `"vip 价格"`. Letters, digits and CJK characters are kept; anything
    else (spaces, punctuation, symbols, emoji) is removed from both ends only.
    """
    s = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    i, j = 0, len(s)
    while i < j and not s[i].isalnum():
        i += 1
    while j > i and not s[j - 1].isalnum():
        j -= 1
    return s[i:j] if (i or j != len(s)) else s
