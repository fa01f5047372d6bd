"""Sound classes: every Chinese character and every typed pinyin syllable as one code point.

A character becomes the class of its first (most common) reading, with the near-homophones
-ng/-n folded together (一夜情 ≈ 一夜琴; zh/z, ch/c, sh/s are not: 设置 ≈ 色子, 住在 ≈ 住宅 made
everyday phrases sound like listed words), so that the
sound view of a message is one `str.translate` of its folded text, same length and offsets.
Lexicon words are entered under every reading of each of their characters (polyphones: 百家乐
reads le or yue), so a spammer's character matches whichever reading they had in mind.
Classes are private-use code points (U+E000 + n); characters with no reading stay themselves.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

from bot.readings import all_readings, other_readings, readings

_BASE = 0xE000
MAX_VARIANTS = 32  # readings combinations entered per lexicon word (polyphone-heavy words)


def fuzzy(syllable: str) -> str:
    """The near-homophone key of a toneless syllable (ang→an, eng→en, ing→in)."""
    if syllable.endswith("ng") and len(syllable) > 2 and syllable[-3] in "aei":
        syllable = syllable[:-1]
    return syllable


@lru_cache(maxsize=1)
def classes() -> dict[str, str]:
    """Fuzzy syllable → its class code point."""
    keys = sorted({fuzzy(s) for s in readings().values()})
    return {k: chr(_BASE + i) for i, k in enumerate(keys)}


def class_of(syllable: str) -> str | None:
    return classes().get(fuzzy(syllable))


@lru_cache(maxsize=1)
def char_table() -> dict[int, str]:
    """Character → class of its first reading (the `str.translate` table of the sound view)."""
    cls = classes()
    return {ord(ch): cls[fuzzy(s)] for ch, s in readings().items() if len(ch) == 1}


def is_class(ch: str) -> bool:
    return _BASE <= ord(ch) < _BASE + 0x1900


def variants(key: str) -> list[str]:
    """The sound keys of a lexicon word under every reading of its characters (capped)."""
    cls = classes()
    options: list[list[str]] = []
    for ch in key:
        found = [c for r in all_readings(ch) if (c := cls.get(fuzzy(r)))]
        options.append(list(dict.fromkeys(found)) or [ch])
    out = []
    for combo in itertools.islice(itertools.product(*options), MAX_VARIANTS):
        out.append("".join(combo))
    return out


def initials_variants(key: str) -> list[str]:
    """The pinyin initials of a lexicon word ("bjl" for 百家乐), under every reading."""
    options: list[list[str]] = []
    for ch in key:
        found = list(dict.fromkeys(r[0] for r in all_readings(ch)))
        if not found:
            if not ch.isascii():
                return []
            found = [ch]
        options.append(found)
    return ["".join(c) for c in itertools.islice(itertools.product(*options), MAX_VARIANTS)]


@lru_cache(maxsize=1)
def syllable_set() -> frozenset[str]:
    """Every toneless syllable pypinyin knows (for segmenting typed pinyin)."""
    found = set(readings().values())
    for others in other_readings().values():
        found.update(others)
    return frozenset(s for s in found if s.isascii() and s.isalpha())


def spoken(key: str, word: str) -> str:
    """The key with the characters the normaliser turned into digits given back (6合彩 → 六合彩),
    so that typed pinyin and initials (liu he cai, lhc) match the way the word is said."""
    word = word.strip().lower()
    if len(word) != len(key) or key == word:
        return key
    return "".join(w if k.isdigit() and not w.isdigit() else k for k, w in zip(key, word, strict=True))
