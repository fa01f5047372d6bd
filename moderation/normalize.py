"""Text normalisation before matching, with a map back to the member's original characters.

Three views of one message are produced:

- `mapped` (computed only when needed): every character replaced one-to-one (full width → half
  width, variants such as ①/𝟙/𝐀, traditional → simplified, case folding, configured
  confusables). Same length as the original, so offsets are identical; links are looked for
  here because dots survive.
- `compact`: `mapped` without noise characters (punctuation, symbols, emoji, spaces) so that
  words broken up by a member (傻*逼, 微 信, 加-V) are whole again; contacts are looked for here.
- `folded`: `compact` with runs of repeated characters collapsed; the lexicon matches here.

The hot path is one `str.translate` (map and drop noise in one C loop) and one regex probe for
repeats; the index maps back to the original text are only computed when something matched.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.t2s import char_table
from moderation.config import NormalizeSettings

_CN_NUMERALS = {
    "零": "0", "〇": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7",
    "八": "8", "九": "9", "壹": "1", "贰": "2", "叁": "3", "肆": "4", "伍": "5", "陆": "6", "柒": "7",
    "捌": "8", "玖": "9", "幺": "1", "两": "2",
}
# Look-alike letters from other scripts, and the plus signs spammers write for 加 (➕V = 加V).
_LOOKALIKES = dict(zip(
    "АВСЕНКМОРТХаеорсухкмтнвіјΑΒΕΖΗΙΚΜΝΟΡΤΥΧονρτυχ",
    "ABCEHKMOPTXaeopcyxkmthbijABEZHIKMNOPTYXovptux", strict=True,
)) | {"+": "加", "➕": "加", "＋": "加", "﹢": "加", "✚": "加"}
# Ranges whose compatibility forms are letters or digits written differently.
# Kangxi radicals and CJK radicals used for ordinary characters (⼤⿇ = 大麻), Roman numerals (Ⅴ),
# compatibility ideographs and enclosed ideographs (🈶 = 有) are in Unicode's NFKC data too.
_VARIANT_RANGES = [
    (0x00B2, 0x00B9), (0x2070, 0x209F), (0x2100, 0x218F), (0x2460, 0x24FF), (0x2E80, 0x2FDF),
    (0x3200, 0x32FF), (0xF900, 0xFAFF), (0x1D400, 0x1D7FF), (0x1F100, 0x1F2FF),
]
_DINGBAT_DIGITS = [(0x2776, "123456789"), (0x2780, "123456789"), (0x278A, "123456789")]
_SQUARED_LETTERS = [(0x1F130, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), (0x1F170, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                    (0x1F1E6, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
# Scripts spammers append as invisible-looking padding (ᚠ, ᚰ); treated as noise.
_NOISE_BLOCKS = [(0x16A0, 0x16FF)]
_NOISE_SCAN = [(0, 0x3400), (0xA000, 0x10000), (0x1F000, 0x1FB00), (0xE0000, 0xE0080)]


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Single-character traditional → simplified pairs (positions stay where they were)."""
    return {cp: ch for cp, ch in char_table().items() if len(ch) == 1}


@lru_cache(maxsize=1)
def _variant_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for lo, hi in _VARIANT_RANGES:
        for cp in range(lo, hi + 1):
            nf = unicodedata.normalize("NFKC", chr(cp))
            if len(nf) > 1:
                # parenthesised and full-stop forms: ⑴ = "(1)", ⒈ = "1.", ㈠ = "(一)", ⒜ = "(a)"
                nf = nf.strip("().")
            if len(nf) == 1 and nf.isalnum() and nf != chr(cp):
                table[cp] = nf
    for start, digits in _DINGBAT_DIGITS:
        for i, d in enumerate(digits):
            table[start + i] = d
    for start, letters in _SQUARED_LETTERS:
        for i, ch in enumerate(letters):
            table[start + i] = ch
    for cp, target in _confusables().items():
        table.setdefault(cp, target)
    table.update({ord(k): v for k, v in _LOOKALIKES.items()})
    return table


@lru_cache(maxsize=1)
def _confusables() -> dict[int, str]:
    """Letters and digits of other scripts that Unicode's TR39 confusables data (as shipped by
    confusable_homoglyphs, MIT) lists as looking like an ASCII letter or digit (Ѵ → v, ꓚ → c), and
    radicals/strokes that look like an ordinary CJK character."""
    import json
    from importlib.resources import files

    data = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
    out: dict[int, str] = {}
    for ch, alts in data.items():
        if len(ch) != 1 or ch.isascii() or "\u4e00" <= ch <= "\u9fff":
            continue
        radical = 0x2E80 <= ord(ch) <= 0x2FDF or 0x31C0 <= ord(ch) <= 0x31EF
        if not radical and unicodedata.category(ch)[0] not in "LN":
            continue
        targets = [a["c"] for a in alts if len(a["c"]) == 1]
        ascii_ = [t for t in targets if t.isascii() and t.isalnum()]
        letters = [t for t in ascii_ if t.isalpha()]
        if letters or ascii_:
            out[ord(ch)] = (letters or ascii_)[0]
        elif radical:
            han = [t for t in targets if "\u4e00" <= t <= "\u9fff"]
            if han:
                out[ord(ch)] = han[0]
    return out


def lookalike_codepoints() -> frozenset[int]:
    """Code points the variant step maps to another character (for naming the technique 形近字)."""
    return frozenset(_variant_table())


@lru_cache(maxsize=1)
def _default_noise() -> frozenset[int]:
    noise = set()
    for lo, hi in _NOISE_SCAN:
        for cp in range(lo, hi):
            cat = unicodedata.category(chr(cp))
            if cat[0] in "PSZM" or cat in ("Cc", "Cf"):
                noise.add(cp)
    for lo, hi in _NOISE_BLOCKS:
        noise.update(range(lo, hi + 1))
    return frozenset(noise)


def _fullwidth(cp: int) -> str | None:
    if 0xFF01 <= cp <= 0xFF5E:
        return chr(cp - 0xFEE0)
    if cp == 0x3000:
        return " "
    return None


class Normalized:
    """One message in its normalised views, able to map a match back to the original."""

    __slots__ = ("_kept", "_mapped", "_units", "compact", "folded", "normalizer", "original")

    def __init__(self, original: str, compact: str, folded: str, normalizer: Normalizer) -> None:
        self.original = original
        self.compact = compact
        self.folded = folded
        self.normalizer = normalizer
        self._mapped: str | None = None
        self._kept: list[int] | None = None
        self._units: list[int] | None = None

    @property
    def mapped(self) -> str:
        """Characters replaced one-to-one, nothing removed (computed on first use)."""
        if self._mapped is None:
            self._mapped = self.original.translate(self.normalizer.table)
        return self._mapped

    def span_from_compact(self, start: int, end: int) -> tuple[int, int]:
        if len(self.compact) == len(self.original):
            return start, end
        if self._kept is None:
            self._kept = self.normalizer.kept_indices(self.original)
        return self._kept[start], self._kept[end - 1] + 1

    def span_from_folded(self, start: int, end: int) -> tuple[int, int]:
        if len(self.folded) != len(self.compact):
            if self._units is None:
                self._units = self.normalizer.fold_units(self.compact)
            units = self._units
            start, end = units[start], units[end] if end < len(units) else len(self.compact)
        return self.span_from_compact(start, end)


class Normalizer:
    """Compiled translation tables for one set of switches."""

    def __init__(self, settings: NormalizeSettings | None = None) -> None:
        self.settings = s = settings or NormalizeSettings()
        steps: list[dict[int, str]] = []
        if s.variants:
            steps.append(_variant_table())
        if s.fullwidth:
            steps.append({cp: ch for cp in [*range(0xFF01, 0xFF5F), 0x3000] if (ch := _fullwidth(cp))})
        if s.traditional:
            steps.append(_t2s_table())
        if s.chinese_numerals:
            steps.append({ord(k): v for k, v in _CN_NUMERALS.items()})
        if s.casefold:
            steps.append(_case_table())
        if s.confusables:
            steps.append({ord(k): v for k, v in s.confusables.items()})
        domain: set[int] = set()
        for step in steps:
            domain.update(step)
        self.table: dict[int, str] = {}
        for cp in domain:
            ch = chr(cp)
            for step in steps:
                ch = step.get(ord(ch), ch)
            if ch != chr(cp):
                self.table[cp] = ch
        noise: set[int] = set()
        if s.noise:
            noise = set(_default_noise()) | {ord(c) for c in s.noise_chars}
            # a character mapped to a letter (➕ → 加) is not noise
            noise -= {cp for cp, ch in self.table.items() if unicodedata.category(ch)[0] not in "PSZ"}
        self.noise = frozenset(noise)
        # one table for the hot path: map one-to-one and drop noise in a single C loop
        self.compact_table: dict[int, str | None] = dict(self.table)
        for cp, ch in self.table.items():
            if ord(ch) in noise:
                self.compact_table[cp] = None
        for cp in noise:
            if cp not in self.table:
                self.compact_table[cp] = None
        self.deleted = frozenset(cp for cp, v in self.compact_table.items() if v is None)
        if s.repeats:
            k = s.repeat_min - 1
            self.repeat_probe: re.Pattern[str] | None = re.compile(rf"(.)\1{{{k}}}", re.S)
            self.repeat_re = re.compile(rf"(\D)\1{{{k},}}", re.S)
        else:
            self.repeat_probe = None

    def __call__(self, text: str) -> Normalized:
        compact = text.translate(self.compact_table)
        folded = compact
        probe = self.repeat_probe
        if probe is not None and probe.search(compact) is not None:
            folded = self.repeat_re.sub(r"\1", compact)
        return Normalized(text, compact, folded, self)

    def word(self, text: str) -> str:
        """The matching key of a lexicon word (same steps as messages)."""
        return self(text.strip()).folded

    def kept_indices(self, original: str) -> list[int]:
        deleted = self.deleted
        return [i for i, ch in enumerate(original) if ord(ch) not in deleted]

    def fold_units(self, compact: str) -> list[int]:
        """Index in `compact` of each character of `folded`."""
        units: list[int] = []
        pos = 0
        for m in self.repeat_re.finditer(compact):
            units.extend(range(pos, m.start() + 1))
            pos = m.end()
        units.extend(range(pos, len(compact)))
        return units


@lru_cache(maxsize=1)
def _case_table() -> dict[int, str]:
    table = {}
    for cp in range(0x41, 0x5B):
        table[cp] = chr(cp + 32)
    for cp in range(0xC0, 0x3000):
        ch = chr(cp)
        low = ch.lower()
        if low != ch and len(low) == 1:
            table[cp] = low
    return table
