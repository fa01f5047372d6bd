"""Optional homophone matching: lexicon words and messages compared by toneless pinyin.

威信 and 微信 both read `wei xin`. Each Chinese character becomes its first (most common) reading,
other characters stay themselves; syllables are separated by "|" so that matches cannot start or
end inside a syllable. A sound-alike that cuts through a real word of the message (今晚啥|比赛 ≈
傻逼) is dropped, using jieba's segmentation. Off by default: `qunbot moderation eval` reports
what it costs in precision.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

import ahocorasick
import rjieba

from bot.readings import readings

if TYPE_CHECKING:
    from moderation.engine import Hit
    from moderation.lexicon import Entry, Lexicon
    from moderation.normalize import Normalized


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def syllables(text: str) -> list[str]:
    table = readings()
    return [table.get(ch, ch) for ch in text]


def _word_bounds(text: str) -> list[tuple[int, int]]:
    """Multi-character words of `text` as jieba segments it (only called when pinyin matched)."""
    # rjieba's module-level instance: jieba's own dictionary, loaded when rjieba is imported
    return [(start, end) for _, start, end in rjieba.tokenize(text, "default", True) if end - start > 1]


class PinyinMatcher:
    """One automaton over the pinyin of every lexicon word with at least two Chinese characters."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.automaton = ahocorasick.Automaton()
        count = 0
        for key, entry in lexicon.entries.items():
            if sum(1 for ch in key if _is_han(ch)) < 2:
                continue
            self.automaton.add_word("|" + "|".join(syllables(key)) + "|", (len(key), entry))
            count += 1
        self.size = count
        if count:
            self.automaton.make_automaton()

    def hits(self, norm: Normalized, lexicon: Lexicon) -> list[Hit]:
        """Homophone hits not already found literally and not inside an allowlisted word."""
        from moderation.engine import Hit
        from moderation.lexicon import ALLOW, WORD

        found = self.scan(norm.folded)
        if not found:
            return []
        covered = [(end + 1 - length, end + 1, kind) for end, (length, kind, _) in lexicon.automaton.iter(norm.folded)
                   if kind in (WORD, ALLOW)] if not lexicon._empty else []
        out = []
        bounds = _word_bounds(norm.folded)
        for entry, a, b in found:
            if any(x <= a and b <= y for x, y, _ in covered) or any(
                    kind == WORD and x < b and a < y for x, y, kind in covered):
                continue
            if any(x < a < y or x < b < y for x, y in bounds):
                continue  # crosses a real word (今晚啥|比赛, 小罗聊|了): an innocent sound-alike
            oa, ob = norm.span_from_folded(a, b)
            out.append(Hit("pinyin", entry.category, entry.action, oa, ob, entry.word, entry.severity, entry.id))
        return out

    def scan(self, text: str) -> list[tuple[Entry, int, int]]:
        """(entry, start, end) in `text` (folded) for each homophone match."""
        if not self.size:
            return []
        tokens = syllables(text)
        joined = "|" + "|".join(tokens) + "|"
        found = []
        starts: list[int] | None = None
        for end, (length, entry) in self.automaton.iter(joined):
            if starts is None:
                starts, pos = [], 1
                for tok in tokens:
                    starts.append(pos)
                    pos += len(tok) + 1
            last = bisect.bisect_right(starts, end - 1) - 1
            first = last - length + 1
            if first >= 0:
                found.append((entry, first, last + 1))
        return found
