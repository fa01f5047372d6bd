"""The first toneless pinyin reading of each Chinese character, from pypinyin's data.

FAQ matching compares questions by sound (什么时侯 = 什么时候) and moderation may match
lexicon words by sound (威信 = 微信). Both need one syllable per character. pypinyin keeps
its table as a 42,000-entry Python module that costs about 55 MB of memory once imported,
so that one syllable per character is kept in bot/data/readings.txt instead: one line per
syllable, the syllable, a tab, then its characters. `python -m bot.readings` writes it from
the installed pypinyin (a dev dependency, pinned to the release the table was made from).
"""

from __future__ import annotations

import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).parent / "data" / "readings.txt"


@lru_cache(maxsize=1)
def readings() -> dict[str, str]:
    """Character → toneless syllable (ü written as u), for every character pypinyin knows."""
    table: dict[str, str] = {}
    with PATH.open(encoding="utf-8") as f:
        for line in f:
            syllable, _, chars = line.rstrip("\n").partition("\t")
            for ch in chars:
                table[ch] = syllable
    return table


def from_pypinyin() -> dict[str, str]:
    """The same table computed from pypinyin (slow and memory-hungry: tests and regeneration)."""
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, str] = {}
    for code, listed in pinyin_dict.items():
        first = listed.split(",")[0]
        table[chr(code)] = "".join(
            c for c in unicodedata.normalize("NFKD", first) if not unicodedata.combining(c)
        )
    return table


def write(path: Path = PATH) -> int:
    by_syllable: dict[str, list[str]] = {}
    for ch, syllable in from_pypinyin().items():
        by_syllable.setdefault(syllable, []).append(ch)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for syllable, chars in by_syllable.items():
            f.write(f"{syllable}\t{''.join(chars)}\n")
    return sum(map(len, by_syllable.values()))


if __name__ == "__main__":
    count = write(Path(sys.argv[1]) if len(sys.argv) > 1 else PATH)
    print(f"{count} characters written to {sys.argv[1] if len(sys.argv) > 1 else PATH}")
