"""Homophones (谐音) and pinyin typed in Latin letters (拼音), matched by sound against the lexicon.

Every lexicon word with at least two Chinese characters is entered into one automaton under
the sound keys of `moderation.sound` (every reading of every character, near-homophones
merged). A message is matched twice, only when cheap:

- its sound view (one `str.translate` of the folded text: 伟信 and 微信 read the same);
- when it has Latin letters, a unit list where each pinyin syllable typed in letters
  (`jia wei xin`, `dubo`, `网du`) becomes its sound class, next to the message's characters.
  A Latin word counts only if it splits entirely into pinyin syllables, and a match made of
  Latin letters alone must start and end on word boundaries, so English words and names
  (shabby, Dubai trip) do not trigger. A word typed as initials (`bjl`, `yp`) is matched
  whole and always needs a second signal.

A sound-alike that a real word of the message cuts through (今晚啥|比赛 ≈ 傻逼, 刷|蛋液) is
dropped; one that is itself a common word (菠菜 ≈ 博彩, 大妈 ≈ 大麻) is returned as needing a
second signal (`moderation.context`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from moderation import sound, words
from moderation.lexicon import WORD

if TYPE_CHECKING:
    from moderation.lexicon import Entry, Lexicon, WordHit
    from moderation.normalize import Normalized

HOMOPHONE, LATIN = "谐音", "拼音"
LATIN_PROBE = re.compile(r"[a-z]{2}")
_LATIN_WORD = re.compile(r"[a-z]+")
_VOWELS = frozenset("aeiou")
# particles and function words: a sound-alike made with them is everyday grammar (大吗 ≈ 大麻,
# 查我 ≈ 插我, 心与 ≈ 性欲, 腿有 ≈ 推油), so it needs a second signal like an everyday word does
_PARTICLES = frozenset("吗嘛吧呢啊呀哦哈了的么啦嘞咯呗喔哇我你他她它有是在与和也都就还又很刚才把被给让这那们")


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


class Candidate:
    """A sound match: the entry, its span in the original text, and whether it needs a second signal."""

    __slots__ = ("end", "entry", "needs_signal", "start", "technique", "unchecked")

    def __init__(self, entry: Entry, start: int, end: int, technique: str, needs_signal: bool,
                 unchecked: tuple[int, int] | None = None) -> None:
        self.entry, self.start, self.end = entry, start, end
        self.technique, self.needs_signal = technique, needs_signal
        # span in the folded text still to check against the segmenter (deferred until a signal)
        self.unchecked = unchecked


def crosses_a_word(folded: str, cand: Candidate) -> bool:
    """The deferred check of an everyday-word homophone: does a real word cut through it?"""
    if cand.unchecked is None:
        return False
    a, b = cand.unchecked
    return words.crossing(words.tokens(folded, hmm=True), folded, a, b, common_only=False)


class PinyinMatcher:
    """Homophone candidates of the lexicon's pass, checked against everyday words, and typed pinyin."""

    def __init__(self, lexicon: Lexicon, *, latin: bool = True, homophones: bool = True) -> None:
        self.table = lexicon.sound_table
        self.latin, self.homophones = latin, homophones
        self.lexicon = lexicon
        self.initials: dict[str, Entry] = {}
        for key, entry in lexicon.entries.items():
            if sum(1 for ch in key if _is_han(ch)) < 2:
                continue
            for ini in sound.initials_variants(sound.spoken(key, entry.word)):
                if len(ini) >= 2 and ini.isalpha():
                    self.initials.setdefault(ini, entry)
        self.size = len(lexicon.entries)

    def candidates(self, norm: Normalized, found: list[WordHit]) -> list[Candidate]:
        """Homophone and typed-pinyin matches not already found literally."""
        out: list[Candidate] = []
        if found and self.homophones:
            out = self._homophones(norm, found)
        if self.latin and self.size and LATIN_PROBE.search(norm.folded) is not None:
            out.extend(self._latin(norm))
        return out

    def _homophones(self, norm: Normalized, found: list[WordHit]) -> list[Candidate]:
        folded = norm.folded
        out: list[Candidate] = []
        bounds: list[tuple[int, int]] | None = None
        seen: set[tuple[int, int]] = set()
        common_words = words.common_words()
        for h in found:
            a, b = h.start, h.end
            if (a, b) in seen:
                continue
            seen.add((a, b))
            written = folded[a:b]
            if written in common_words or not _PARTICLES.isdisjoint(written):
                # needs a second signal anyway: the segmenter runs later, only if there is one
                oa, ob = norm.span_from_folded(a, b)
                out.append(Candidate(h.entry, oa, ob, HOMOPHONE, True, (a, b)))
                continue
            if words.straddled(folded, a, b):
                continue  # a frequent word crosses it (为什|么): no need to run the segmenter
            if bounds is None:
                bounds = words.tokens(folded, hmm=True)
            if words.crossing(bounds, folded, a, b, common_only=False):
                continue  # crosses a real word (今晚啥|比赛, 刷|蛋液, 小罗|聊): an innocent sound-alike
            common = words.inside_word(bounds, a, b) is not None
            oa, ob = norm.span_from_folded(a, b)
            out.append(Candidate(h.entry, oa, ob, HOMOPHONE, common))
        return out

    # -- pinyin typed in letters ------------------------------------------------------

    def _latin(self, norm: Normalized) -> list[Candidate]:
        # most Latin in chat is English, app names or ids: build the unit list only when some
        # word is pinyin of two syllables or more, a syllable next to a character, or listed initials
        folded = norm.folded
        for m in _LATIN_WORD.finditer(folded):
            word = m.group()
            parts = _segment(word)
            if parts is not None and (len(parts) >= 2 or m.start() > 0 or m.end() < len(folded)):
                break
            if parts is None and word in self.initials:
                break
        else:
            return []
        mapped = norm.mapped
        units: list[tuple[str, int, int, bool]] = []  # (sound char, start, end, is_latin)
        tokens: list[tuple[int, int]] = []  # unit index range of each Latin word
        initials: list[tuple[str, int, int]] = []
        noise, table = norm.normalizer.noise, self.table
        pos = 0
        for m in _LATIN_WORD.finditer(mapped):
            self._chars(mapped, pos, m.start(), units, noise, table)
            word, start = m.group(), m.start()
            parts = _segment(word)
            if parts is None:
                if 2 <= len(word) <= 6 and not _VOWELS.intersection(word):
                    initials.append((word, start, m.end()))
                units.append(("\0", start, m.end(), True))
            else:
                first = len(units)
                for s, e in parts:
                    units.append((sound.class_of(word[s:e]) or "\0", start + s, start + e, True))
                tokens.append((first, len(units)))
            pos = m.end()
        self._chars(mapped, pos, len(mapped), units, noise, table)
        out: list[Candidate] = []
        text = "".join(u[0] for u in units)
        starts = {t[0] for t in tokens}
        ends = {t[1] for t in tokens}
        for end, (length, bits, entry) in self.lexicon.automaton.iter(text):
            if entry is None or not bits & WORD:
                continue
            first, last = end + 1 - length, end + 1
            span = units[first:last]
            if not any(u[3] for u in span):
                continue  # characters only: the homophone pass covers it
            if all(u[3] for u in span) and (first not in starts or last not in ends):
                continue  # letters alone must be whole words (no "dubo" inside "dubovsky")
            out.append(Candidate(entry, span[0][1], span[-1][2], LATIN, False))
        for word, a, b in initials:
            entry = self.initials.get(word)
            # a word that is itself listed or names a channel (qq, wx) is not initials of another
            if entry is not None and word not in self.lexicon.entries and word not in self.lexicon.trigger_keys:
                out.append(Candidate(entry, a, b, LATIN, True))
        return out

    @staticmethod
    def _chars(mapped: str, a: int, b: int, units: list, noise: frozenset[int], table: dict[int, str]) -> None:
        for i in range(a, b):
            ch = mapped[i]
            cp = ord(ch)
            if cp in noise:
                continue
            cls = table.get(cp)
            units.append((cls if cls is not None else (ch if ch.isdigit() else "\0"), i, i + 1, False))


@lru_cache(maxsize=4096)
def _segment(word: str) -> tuple[tuple[int, int], ...] | None:
    """Split a Latin word into pinyin syllables (fewest syllables), or None if it cannot be."""
    syllables = sound.syllable_set()
    n = len(word)
    if n > 40:
        return None
    best: list[list[tuple[int, int]] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        path = best[i]
        if path is None:
            continue
        for j in range(min(n, i + 6), i, -1):
            if word[i:j] in syllables:
                cand = [*path, (i, j)]
                old = best[j]
                if old is None or len(cand) < len(old):
                    best[j] = cand
    found = best[n]
    return None if found is None else tuple(found)
