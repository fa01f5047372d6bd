"""jieba word segmentation with a user dictionary, stop words and synonyms, loaded once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jieba

from intents.normalize import normalize, sound

DATA_DIR = Path(__file__).parent / "data"
jieba.setLogLevel(logging.WARNING)


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
    joined: str  # words joined by spaces, for rapidfuzz's token scorers
    # content words that say what the question is about, and their character bigrams
    # (so a typo inside a word, 优惠卷/优惠券, still shares "优惠")
    keywords: frozenset[str]
    sound: str  # toneless pinyin, one character per syllable: homophone typos compare equal


CACHE_SIZE = 4096
_BASE: jieba.Tokenizer | None = None
_BASE_LOCK = threading.Lock()


def _new_jieba() -> jieba.Tokenizer:
    """A jieba instance sharing the process's one copy of the main dictionary (plus the
    shipped user dictionary): 67 MB read once. Tokenizer copies it before changing it."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            base = jieba.Tokenizer()
            base.initialize()
            for line in _read_list(DATA_DIR / "userdict.txt"):
                parts = line.split()
                base.add_word(parts[0], int(parts[1]) if len(parts) > 1 else None)
            _BASE = base
    tk = jieba.Tokenizer()
    tk.FREQ = _BASE.FREQ
    tk.total = _BASE.total
    tk.initialized = True
    return tk


def _keywords(words: list[str]) -> frozenset[str]:
    keys = [w for w in words if w not in GENERIC_WORDS]
    return frozenset(keys + [w[i:i + 2] for w in keys if len(w) > 2 for i in range(len(w) - 1)])


class Tokenizer:
    """A private jieba instance (not the global one), initialised eagerly in the constructor."""

    def __init__(self, user_words: Iterable[tuple[str, int | None]] = (),
                 stop_words: Iterable[str] = (), synonyms: dict[str, str] | None = None) -> None:
        self._jieba = _new_jieba()
        self._shared = True  # the dictionary is the process's shared one until a word changes
        self._lock = threading.Lock()
        self._cache: dict[str, Tokens] = {}
        self.stop_words = set(DEFAULT_STOP_WORDS) | set(stop_words)
        self.synonyms: dict[str, str] = {**DEFAULT_SYNONYMS, **(synonyms or {})}
        for word, freq in user_words:
            self.add_word(word, freq)

    def _own_dictionary(self) -> None:
        """Copy the shared dictionary before the first change (15 MB, only if words change)."""
        if self._shared:
            self._jieba.FREQ = dict(self._jieba.FREQ)
            self._shared = False

    def add_word(self, word: str, freq: int | None = None) -> None:
        word = normalize(word).replace(" ", "")
        if word:
            with self._lock:
                self._own_dictionary()
                self._jieba.add_word(word, freq or 20000)
                self._cache.clear()

    def remove_word(self, word: str) -> None:
        with self._lock:
            self._own_dictionary()
            self._jieba.del_word(normalize(word).replace(" ", ""))
            self._cache.clear()

    def set_stop_words(self, words: Iterable[str]) -> None:
        self.stop_words = set(DEFAULT_STOP_WORDS) | {normalize(w) for w in words if normalize(w)}
        self._cache.clear()

    def set_synonyms(self, synonyms: dict[str, str]) -> None:
        extra = {normalize(k).replace(" ", ""): normalize(v).replace(" ", "")
                 for k, v in synonyms.items() if normalize(k)}
        if extra:
            with self._lock:
                self._own_dictionary()
                for word in extra:
                    self._jieba.add_word(word, 20000)
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
        syn, stop = self.synonyms, self.stop_words
        for chunk in normalize(text).split():
            for word in self._jieba.lcut(chunk, HMM=False):
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
        terms = [f"w{w}" for w in words]
        terms += [f"b{compact[i:i + 2]}" for i in range(len(compact) - 1)]
        if len(compact) == 1:
            terms.append(f"b{compact}")
        result = Tokens(compact, tuple(words), tuple(terms), frozenset(terms), " ".join(words),
                        _keywords(words), sound(compact))
        # repeated questions hit this; a few KB per entry, so it stays small
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[text] = result
        return result
