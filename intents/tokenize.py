"""jieba word segmentation (jieba-rs) with a user dictionary, stop words and synonyms."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from sys import intern

import rjieba

from intents.normalize import normalize, sound

DATA_DIR = Path(__file__).parent / "data"


def _read_list(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


DEFAULT_STOP_WORDS: frozenset[str] = frozenset(_read_list(DATA_DIR / "stopwords.txt"))
GENERIC_WORDS: frozenset[str] = frozenset(_read_list(DATA_DIR / "generic_words.txt"))
# politeness and particles: dropped even from the character-level text ("请问…呀" = "…")
FILLER_WORDS = frozenset([
    "请问", "你好", "您好", "谢谢", "麻烦", "一下",
    "啊", "呀", "吧", "呢", "哦", "嘛", "哈", "啦", "哎", "唉", "嗯", "呃", "哇", "噢", "喔",
])
DEFAULT_SYNONYMS: dict[str, str] = dict(
    line.split()[:2] for line in _read_list(DATA_DIR / "synonyms.txt") if len(line.split()) >= 2
)


@dataclass(frozen=True, slots=True)
class Tokens:
    """One text's terms: content words (for token scores) and index terms (words + bigrams)."""

    text: str  # normalised, without spaces
    words: tuple[str, ...]
    terms: tuple[str, ...]
    term_set: frozenset[str]
    # content words sorted and joined by spaces: token_sort_ratio's form, made once per text
    sorted_words: str
    # content words that say what the question is about, and their character bigrams
    # (so a typo inside a word, 优惠卷/优惠券, still shares "优惠")
    keywords: frozenset[str]
    sound: str  # toneless pinyin, one character per syllable: homophone typos compare equal


CACHE_SIZE = 4096
# a word a manager adds is meant to be kept whole: as frequent as jieba's common words
USER_WORD_FREQ = 20000


def _shipped_words() -> dict[str, int | None]:
    words: dict[str, int | None] = {}
    for line in _read_list(DATA_DIR / "userdict.txt"):
        parts = line.split()
        words[parts[0]] = int(parts[1]) if len(parts) > 1 else None
    return words


SHIPPED_WORDS = _shipped_words()
_BASE: rjieba.Jieba | None = None
_BASE_LOCK = threading.Lock()


def _dictionary(extra: dict[str, int]) -> rjieba.Jieba:
    """jieba's main dictionary, the shipped user dictionary and `extra` (about 0.1 s)."""
    jb = rjieba.Jieba()
    for word, freq in (SHIPPED_WORDS | extra).items():
        jb.add_word(word, freq, None)
    return jb


def _shared_dictionary() -> rjieba.Jieba:
    """The one dictionary every tokenizer without words of its own uses (24 MB each)."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            _BASE = _dictionary({})
        return _BASE


def _keywords(words: list[str]) -> frozenset[str]:
    keys = [w for w in words if w not in GENERIC_WORDS]
    return frozenset(keys + [w[i:i + 2] for w in keys if len(w) > 2 for i in range(len(w) - 1)])


def _word_key(word: str) -> str:
    return normalize(word).replace(" ", "")


class Tokenizer:
    """jieba segmentation (jieba-rs) with its own words, stop words and synonyms.

    A dictionary in use is never changed: a change builds a new one and swaps it in, so a
    question segmented on another thread sees either the old words or the new ones.
    """

    def __init__(self, user_words: Iterable[tuple[str, int | None]] = (),
                 stop_words: Iterable[str] = (), synonyms: dict[str, str] | None = None) -> None:
        self._lock = threading.RLock()  # word changes read, then replace, the current sets
        self._cache: dict[str, Tokens] = {}
        self._user_words: dict[str, int] = {}
        self._synonym_words: dict[str, int] = {}
        self._jieba = _shared_dictionary()
        self.stop_words = set(DEFAULT_STOP_WORDS) | set(stop_words)
        self.synonyms: dict[str, str] = dict(DEFAULT_SYNONYMS)
        if synonyms:
            self.set_synonyms(synonyms)
        self.set_user_words(dict(user_words))

    def _rebuild(self, user_words: dict[str, int], synonym_words: dict[str, int]) -> None:
        with self._lock:
            if user_words == self._user_words and synonym_words == self._synonym_words:
                return
            extra = synonym_words | user_words
            self._jieba = _dictionary(extra) if extra else _shared_dictionary()
            self._user_words, self._synonym_words = user_words, synonym_words
            self._cache.clear()

    def set_user_words(self, words: dict[str, int | None]) -> None:
        """Replace the managers' words (word → jieba frequency, None for the default)."""
        keyed = {_word_key(w): freq or USER_WORD_FREQ for w, freq in words.items()}
        with self._lock:
            self._rebuild({k: v for k, v in keyed.items() if k}, self._synonym_words)

    def add_word(self, word: str, freq: int | None = None) -> None:
        with self._lock:
            self.set_user_words({**self._user_words, word: freq})

    def remove_word(self, word: str) -> None:
        """The word is segmented as jieba's own dictionary has it again."""
        key = _word_key(word)
        with self._lock:
            self._rebuild({w: f for w, f in self._user_words.items() if w != key}, self._synonym_words)

    def set_stop_words(self, words: Iterable[str]) -> None:
        self.stop_words = set(DEFAULT_STOP_WORDS) | {normalize(w) for w in words if normalize(w)}
        self._cache.clear()

    def set_synonyms(self, synonyms: dict[str, str]) -> None:
        extra = {_word_key(k): _word_key(v) for k, v in synonyms.items() if _word_key(k)}
        # a synonym must come out of segmentation whole to be mapped
        with self._lock:
            self._rebuild(self._user_words, dict.fromkeys(extra, USER_WORD_FREQ))
        self.synonyms = {**DEFAULT_SYNONYMS, **extra}
        self._cache.clear()

    def clear_cache(self) -> None:
        self._cache.clear()

    def words(self, text: str) -> list[str]:
        """Content words of a text: normalised, segmented, synonyms mapped, stop words dropped."""
        return self._segment(text)[1]

    def _segment(self, text: str) -> tuple[list[str], list[str]]:
        """(every word with synonyms mapped, the content words among them)."""
        mapped: list[str] = []
        content: list[str] = []
        syn, stop, jb = self.synonyms, self.stop_words, self._jieba
        for chunk in normalize(text).split():
            for word in jb.cut(chunk, False):
                word = syn.get(word, word)
                mapped.append(word)
                if word not in stop:
                    content.append(word)
        return mapped, content

    def tokens(self, text: str) -> Tokens:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        mapped, words = self._segment(text)
        # character-level features see the text with synonyms already mapped
        compact = "".join(w for w in mapped if w not in FILLER_WORDS)
        # interned: the index, every phrasing and the question share one object per term, so
        # lookups and set intersections compare pointers (and the index holds each term once)
        terms = [intern(f"w{w}") for w in words]
        terms += [intern(f"b{compact[i:i + 2]}") for i in range(len(compact) - 1)]
        if len(compact) == 1:
            terms.append(intern(f"b{compact}"))
        result = Tokens(compact, tuple(words), tuple(terms), frozenset(terms), " ".join(sorted(words)),
                        _keywords(words), sound(compact))
        # repeated questions hit this; a few KB per entry, so it stays small
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[text] = result
        return result
