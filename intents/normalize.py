"""Text normalisation shared by indexing and querying: one canonical form per question."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.readings import readings
from bot.t2s import to_simplified

# anything that is not a letter, digit or CJK ideograph separates words
_NOISE = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_QUESTION_WORDS = (
    "吗", "么", "怎么", "怎样", "如何", "什么", "啥", "多久", "多少", "多长", "哪", "几",
    "能不能", "可不可以", "可以", "是不是", "有没有", "会不会", "为什么", "为何", "咋", "呢",
    "请问", "求助", "求问",
)


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Full-width→half-width, traditional→simplified, lower case, punctuation→single space."""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text).lower()
    return _NOISE.sub(" ", text).strip()


def compact(text: str) -> str:
    """The normalised text without spaces: what character-level scores compare."""
    return normalize(text).replace(" ", "")


_QUESTION_RE = re.compile("|".join(map(re.escape, _QUESTION_WORDS)))


def looks_like_question(text: str) -> bool:
    """Question mark or a question word: what a member asking something usually writes."""
    if "?" in unicodedata.normalize("NFKC", text):
        return True
    # the normalised text, which the FAQ match then finds cached (one conversion per message)
    return _QUESTION_RE.search(normalize(text)) is not None


def _build_sound_table() -> dict[int, str]:
    """Each CJK character → one private-use character per toneless syllable (first reading)."""
    syllables: dict[str, str] = {}
    table: dict[int, str] = {}
    for ch, bare in readings().items():
        if bare not in syllables:
            syllables[bare] = chr(0xE000 + len(syllables))
        table[ord(ch)] = syllables[bare]
    return table


_SOUND = _build_sound_table()


def sound(text: str) -> str:
    """Homophones become equal: "什么时侯" and "什么时候" have the same sound string."""
    return text.translate(_SOUND)
