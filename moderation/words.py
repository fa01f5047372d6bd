"""Common words from jieba's dictionary, and the segmenter, for telling evasions from everyday talk.

Three questions the matchers ask, all on the rare path where something already matched:

- is this span itself a common word (菠菜, 大妈, 病毒)? A homophone of a listed word that is an
  everyday word is not enough alone (`moderation.context` asks for a second signal);
- does a real word of the message cut through a hit (大|麻雀, 刷|单词)? Then the hit is an
  innocent superstring, not the listed word;
- is a longer dictionary word around the hit an innocent superstring of it (大麻袋 ⊃ 大麻, because
  麻袋 straddles its edge)? `innocent_superstrings` builds that list at load from jieba's own
  dictionary file (the segmenter in use, rjieba, cannot list its words), so managers do not
  allowlist them one by one; an allowlisted or listed word still wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files

import rjieba

# jieba's frequency from which a dictionary word counts as common (菠菜 178, 大妈 728, 麻花 64;
# rare entries such as 煞笔 3 or 赌输 3 do not)
COMMON_FREQ = 50


def _dict_lines() -> Iterable[tuple[str, int]]:
    path = files("jieba").joinpath("dict.txt")
    with path.open("r", encoding="utf-8") as f:
        for line in f:
            word, freq, _ = line.split(" ", 2)
            yield word, int(freq)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Dictionary words of two or more characters with jieba frequency ≥ COMMON_FREQ (~46k)."""
    return frozenset(w for w, f in _dict_lines() if f >= COMMON_FREQ and len(w) >= 2)


def tokens(text: str) -> list[tuple[int, int]]:
    """Spans of the dictionary words (two characters or more) jieba finds in `text`."""
    return [(a, b) for _, a, b in rjieba.tokenize(text, "default", False) if b - a > 1]


def crossing(bounds: list[tuple[int, int]], text: str, a: int, b: int, *, common_only: bool) -> bool:
    """Whether a word of the message straddles an edge of [a, b) (大|麻雀 cuts 大麻)."""
    common = common_words() if common_only else None
    for x, y in bounds:
        if (x < a < y or x < b < y) and (common is None or text[x:y] in common):
            return True
    return False


def inside_word(bounds: list[tuple[int, int]], a: int, b: int) -> tuple[int, int] | None:
    """The longer word of the message that contains [a, b), if any."""
    for x, y in bounds:
        if x <= a and b <= y and y - x > b - a:
            return x, y
    return None


def innocent_superstrings(find: object) -> frozenset[str]:
    """Dictionary words that contain a listed word which a common word straddles (大麻袋, 大麻子).

    `find(word)` returns the (start, end) spans of listed words inside a dictionary word.
    """
    common = common_words()
    out = set()
    for word, _ in _dict_lines():
        n = len(word)
        if n < 3 or n > 6:
            continue
        for a, b in find(word):  # type: ignore[operator]
            if b - a >= n:
                continue
            if any(word[x:y] in common for x in range(n) for y in range(x + 2, n + 1)
                   if (x < a < y or x < b < y) and y - x < n):
                out.add(word)
                break
    return frozenset(out)
