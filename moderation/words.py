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

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from importlib.resources import files

import rjieba

# jieba's frequency from which a dictionary word counts as common (菠菜 178, 大妈 728, 麻花 64;
# rare entries such as 煞笔 3 or 赌输 3 do not)
COMMON_FREQ = 50


def _dict_lines() -> Iterator[tuple[str, str]]:
    """(word, frequency as written) per line of jieba's dictionary, streamed (the file is 5 MB)."""
    with files("jieba").joinpath("dict.txt").open("r", encoding="utf-8") as f:
        for line in f:
            word, freq, _ = line.split(" ", 2)
            yield word, freq


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Dictionary words of two or more characters with jieba frequency ≥ COMMON_FREQ (~46k)."""
    return frozenset(w for w, f in _dict_lines() if len(w) >= 2 and int(f) >= COMMON_FREQ)


@lru_cache(maxsize=1)
def frequent_words() -> frozenset[str]:
    """Dictionary words of two or more characters with jieba frequency ≥ 1000 (~5k)."""
    return frozenset(w for w, f in _dict_lines() if len(w) >= 2 and len(f) >= 4)


def tokens(text: str, *, hmm: bool = False) -> list[tuple[int, int]]:
    """Spans of the words (two characters or more) jieba finds in `text`: dictionary words only,
    or also the unknown words its HMM guesses (names such as 小罗) with `hmm`."""
    return [(a, b) for _, a, b in rjieba.tokenize(text, "default", hmm) if b - a > 1]


def crossing(bounds: list[tuple[int, int]], text: str, a: int, b: int, *, common_only: bool) -> bool:
    """Whether a word of the message straddles an edge of [a, b) (大|麻雀 cuts 大麻)."""
    common = common_words() if common_only else None
    for x, y in bounds:
        if (x < a < y or x < b < y) and (common is None or text[x:y] in common):
            return True
    return False


def straddled(text: str, a: int, b: int, words: frozenset[str] | None = None) -> bool:
    """Cheap first check without the segmenter: a frequent word (jieba frequency ≥ 1000) of two to
    four characters straddles an edge of [a, b), and no frequent word starts (or ends) right at
    that edge to compete with it (抢支|出售 is left to the segmenter, 为什|么 is not). With `words`,
    any of those straddling counts, competing or not."""
    common = frequent_words() if words is None else words
    n = len(text)
    for edge in (a, b):
        if not 0 < edge < n:
            continue
        if words is None and edge == b and any(text[edge:edge + k] in common for k in (2, 3, 4) if edge + k <= n):
            continue
        if words is None and edge == a and any(text[edge - k:edge] in common for k in (2, 3, 4) if edge - k >= 0):
            continue
        for x in range(max(0, edge - 3), edge):
            for y in range(edge + 1, min(n, x + 4) + 1):
                if y - x >= 2 and text[x:y] in common:
                    return True
    return False


def inside_word(bounds: list[tuple[int, int]], a: int, b: int) -> tuple[int, int] | None:
    """The longer word of the message that contains [a, b), if any."""
    for x, y in bounds:
        if x <= a and b <= y and y - x > b - a:
            return x, y
    return None


_MID_LINE = re.compile(r"^(\S{3,6}) ", re.M)


def innocent_superstrings(find: Callable[[str], Iterable[tuple[int, int]]]) -> frozenset[str]:
    """Dictionary words that contain a listed word which a common word straddles (大麻袋, 大麻子).

    `find(text)` returns the (start, end) spans of listed words in a text; it runs once over the
    dictionary words of three to six characters joined by newlines (one C-speed pass).
    """
    common = common_words()
    out: set[str] = set()
    with files("jieba").joinpath("dict.txt").open("r", encoding="utf-8") as f:
        while chunk := f.readlines(1 << 18):  # ~256 KB at a time: bounded memory, C-speed regex
            _superstrings(_MID_LINE.findall("".join(chunk)), find, common, out)
    return frozenset(out)


def _superstrings(batch: list[str], find: Callable[[str], Iterable[tuple[int, int]]], common: frozenset[str],
                  out: set[str]) -> None:
    joined = "\n".join(batch)
    starts = list(itertools.accumulate((len(w) + 1 for w in batch), initial=0))
    for a, b in find(joined):
        i = bisect.bisect_right(starts, a) - 1
        word, base = batch[i], starts[i]
        a, b, n = a - base, b - base, len(word)
        if b > n or b - a >= n or word in out:
            continue
        if any(word[x:y] in common for x in range(n) for y in range(x + 2, n + 1)
               if (x < a < y or x < b < y) and y - x < n):
            out.add(word)
