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
# The other readings of polyphones (行 hang after xing, 乐 yue after le): "char<TAB>syllable,syllable"
# per line, for the characters that have more than one toneless reading in use. Moderation compares
# lexicon words by every such reading. "In use" means the reading occurs in pypinyin's phrase
# dictionary: its character table also lists archaic readings (机 wei, 宅 du) that would make
# everyday words sound like listed ones.
OTHER_PATH = Path(__file__).parent / "data" / "readings_other.txt"


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


@lru_cache(maxsize=1)
def other_readings() -> dict[str, tuple[str, ...]]:
    """Character → its readings after the first, for polyphones (every reading pypinyin lists)."""
    table: dict[str, tuple[str, ...]] = {}
    with OTHER_PATH.open(encoding="utf-8") as f:
        for line in f:
            ch, _, rest = line.rstrip("\n").partition("\t")
            table[ch] = tuple(rest.split(","))
    return table


def all_readings(ch: str) -> tuple[str, ...]:
    """Every toneless reading of a character, the most common first (empty if unknown)."""
    first = readings().get(ch)
    if first is None:
        return ()
    return (first, *other_readings().get(ch, ()))


def _plain(syllable: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", syllable) if not unicodedata.combining(c))


def others_from_pypinyin() -> dict[str, tuple[str, ...]]:
    """The readings after the first that occur in pypinyin's phrases (tests and regeneration)."""
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    used: dict[str, set[str]] = {}
    for phrase, syllables in phrases_dict.items():
        if len(phrase) == len(syllables):
            for ch, options in zip(phrase, syllables, strict=True):
                used.setdefault(ch, set()).update(_plain(o) for o in options)
    table: dict[str, tuple[str, ...]] = {}
    for code, listed in pinyin_dict.items():
        plain = list(dict.fromkeys(_plain(r) for r in listed.split(",")))
        others = tuple(r for r in plain[1:] if r in used.get(chr(code), ()))
        if others:
            table[chr(code)] = others
    return table


def write_others(path: Path = OTHER_PATH) -> int:
    table = others_from_pypinyin()
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for ch, rest in table.items():
            f.write(f"{ch}\t{','.join(rest)}\n")
    return len(table)


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
    write_others(Path(sys.argv[1]).with_name(OTHER_PATH.name) if len(sys.argv) > 1 else OTHER_PATH)
    print(f"{count} characters written to {sys.argv[1] if len(sys.argv) > 1 else PATH}")
