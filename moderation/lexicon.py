"""The word lexicon compiled into one Aho-Corasick automaton, with allowlist and rule triggers.

Lexicon words, allowlist words and the trigger words of the contact rules share one automaton
over the normalised (`folded`) text, so one pass finds everything and adding words does not make
matching slower per message. An allowlisted word suppresses every lexicon hit inside it
(e.g. a product name that contains a listed word).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ahocorasick

from moderation.charfreq import FREQUENT_CHARS
from moderation.config import ACTION_RANK
from moderation.normalize import Normalizer

# kind bits of an automaton value (one sound key may be several kinds at once)
WORD, ALLOW, TRIGGER, COMPOSE, NOOP, SOUND_TRIGGER = 1, 2, 4, 8, 16, 32
# pyahocorasick looks up a node's children by linear search in insertion order. Inserting
# "<char><SENTINEL>" for the most frequent characters first puts them at the front of the root's
# child list, so a common character is found after a few comparisons instead of a full scan.
MAX_HITS = 50
MAX_SCANNED = 1000
SENTINEL = "\U0010ffff"

# Words that make the contact rules (WeChat id, QQ, 加我) worth running on a message.
CONTACT_TRIGGERS = (
    "微信", "威信", "薇信", "维信", "v信", "vx", "wx", "weixin", "wechat", "加v", "加微", "加我",
    "私聊", "私我", "qq", "扣扣", "企鹅", "加q", "加扣", "球球", "微芯", "徽信",
    "v号", "vx号", "q号", "绿泡泡", "jiaweixin", "jiawx", "siliao",
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One lexicon word as stored, with its matching key."""

    id: int
    word: str
    key: str
    category: str
    severity: int
    action: str
    # latin/digit-only words ("bt", "qq") must not match inside a longer latin word ("dly", "qqmusic")
    ascii: bool = False


@dataclass(slots=True)
class WordHit:
    entry: Entry
    start: int  # in the text the automaton ran on
    end: int


class Scan:
    """Everything one automaton pass found in a message."""

    __slots__ = ("composable", "hits", "homophones", "triggered")

    def __init__(self, hits: list[WordHit], triggered: bool, homophones: list[WordHit], composable: bool) -> None:
        self.hits, self.triggered, self.homophones, self.composable = hits, triggered, homophones, composable


class Lexicon:
    """An immutable compiled lexicon; build a new one to change words (hot reload swaps it).

    The automaton runs over the message's sound view (`moderation.sound`: each Chinese character
    replaced by the class of its reading), so that one pass finds the listed words, their
    homophones (every reading of each listed character), allowlisted words, contact triggers and
    split-character runs (`compose`). A match is literal when the folded text at its span is the
    key itself; everything else is a homophone candidate.
    """

    def __init__(
        self, normalizer: Normalizer, entries: list[dict[str, Any]], allow: list[str],
        *, category_action: Any = None, triggers: tuple[str, ...] = CONTACT_TRIGGERS,
        homophones: bool = True, compose: Any = None,
    ) -> None:
        from moderation import sound

        self.normalizer = normalizer
        self.sound_table = table = sound.char_table()
        self.skipped: list[str] = []
        self.entries: dict[str, Entry] = {}
        automaton = ahocorasick.Automaton()
        for row in entries:
            key = normalizer.word(row["word"])
            if len(key) < 2:
                self.skipped.append(row["word"])
                continue
            action = row.get("action") or (category_action(row["category"]) if category_action else "review")
            entry = Entry(int(row.get("id") or 0), row["word"], key, row["category"],
                          int(row.get("severity") or 2), action, key.isascii() and key.isalnum())
            old = self.entries.get(key)
            if old is None or (ACTION_RANK[entry.action], entry.severity) > (ACTION_RANK[old.action], old.severity):
                self.entries[key] = entry
        # sound key -> [length, kind bits, entry a non-literal match stands for (a homophone)]
        payload: dict[str, list[Any]] = {}

        def put(skey: str, length: int, bit: int, entry: Entry | None = None) -> None:
            slot = payload.get(skey)
            if slot is None:
                payload[skey] = [length, bit, entry]
                return
            slot[1] |= bit
            if entry is not None and (slot[2] is None or _rank(entry) > _rank(slot[2])):
                slot[2] = entry

        for ch in dict.fromkeys(frequent_chars().translate(table)):
            payload[ch + SENTINEL] = [2, NOOP, None]
        for key, entry in self.entries.items():
            put(key.translate(table), len(key), WORD)
            if homophones and sum(1 for ch in key if _is_han(ch)) >= 2:
                for variant in sound.variants(key):
                    put(variant, len(key), WORD, entry)
                spoken = sound.spoken(key, entry.word)
                if spoken != key:  # 6合彩 also as 六合彩 said aloud (liu he cai)
                    for variant in sound.variants(spoken):
                        put(variant, len(key), WORD, entry)
        self.allow_keys: set[str] = set()
        for word in allow:
            key = normalizer.word(word)
            if key:
                # an allowlisted word that is also listed is no hit at all
                self.allow_keys.add(key)
                put(key.translate(table), len(key), ALLOW)
        self.trigger_keys = {k for w in triggers if len(k := normalizer.word(w)) >= 2}
        for key in self.trigger_keys:
            # channel names also by sound (伟信, 卫芯 name WeChat too; first readings only: 信 also
            # reads shen, and 为什(么) would trigger the contact rules on every question); the
            # other triggers literally (加微 ≈ 价位 is everyday talk)
            put(key.translate(table), len(key), SOUND_TRIGGER if key in _SOUND_TRIGGERS else TRIGGER)
        # split-character runs -> the character they spell (`moderation.chaizi.table(keys, normalizer)`)
        self.compose: dict[str, str] = compose(self.entries, normalizer) if compose is not None else {}
        if self.compose:
            # the pass runs over sounds: a component run that sounds like an everyday word (手几 ≈
            # 手机) would make the check run on every such message, so those runs are left out
            from moderation.words import frequent_words

            everyday = {w.translate(table) for w in frequent_words()}
            for seq in self.compose:
                skey = seq.translate(table)
                if skey not in everyday:
                    put(skey, len(seq), COMPOSE)
        for skey, value in payload.items():
            automaton.add_word(skey, tuple(value))
        self.size = len(self.entries)
        self._empty = not self.entries and not self.allow_keys and not self.trigger_keys and not self.compose
        if not self._empty:
            automaton.make_automaton()
        self.automaton = automaton

    def scan(self, text: str) -> tuple[list[WordHit], bool]:
        """Lexicon hits not covered by an allowlisted word, and whether a contact trigger occurred."""
        found = self.scan_all(text)
        return found.hits, found.triggered

    def scan_all(self, text: str, sound: str | None = None) -> Scan:
        """Literal hits, contact trigger, homophone candidates and split-character runs of `text`
        (folded); `sound` is `text` translated by `sound_table` when the caller has it."""
        if self._empty:
            return _NOTHING_FOUND
        if sound is None:
            sound = text.translate(self.sound_table)
        found = list(self.automaton.iter(sound))
        if not found:  # the common case: a clean message
            return _NOTHING_FOUND
        hits: list[WordHit] = []
        homophones: list[WordHit] = []
        allowed: list[tuple[int, int]] = []
        triggered = composable = False
        entries, trigger_keys = self.entries, self.trigger_keys
        for end, (length, bits, homophone) in found:
            if bits == NOOP:
                continue
            start = end + 1 - length
            seg = text[start:end + 1]
            if bits & WORD:
                entry = entries.get(seg)
                if entry is not None:
                    # a 100 KB paste may repeat a word thousands of times: keep a bounded number
                    if entry.ascii and not _standalone(text, start, end + 1):
                        pass
                    elif len(hits) < MAX_SCANNED:
                        hits.append(WordHit(entry, start, end + 1))
                        if not triggered and seg in trigger_keys:
                            triggered = True
                elif homophone is not None and len(homophones) < MAX_HITS:
                    homophones.append(WordHit(homophone, start, end + 1))
            if bits & SOUND_TRIGGER or (bits & TRIGGER and seg in trigger_keys):
                triggered = True
            if bits & ALLOW and seg in self.allow_keys:
                allowed.append((start, end + 1))
            if bits & COMPOSE and seg in self.compose:
                composable = True
        if hits and allowed:
            hits = [h for h in hits if not any(a <= h.start and h.end <= b for a, b in allowed)]
        if homophones and (allowed or hits):
            homophones = [h for h in homophones if not any(a <= h.start and h.end <= b for a, b in allowed)
                          and not any(w.start < h.end and h.start < w.end for w in hits)]
        if len(hits) > 1:
            # one hit per listed word and message is enough
            first: dict[str, WordHit] = {}
            for h in hits:
                first.setdefault(h.entry.key, h)
            hits = list(first.values())[:MAX_HITS]
        return Scan(hits or _NOTHING, triggered, homophones or _NOTHING, composable)

    def literal_spans(self, text: str) -> list[tuple[int, int]]:
        """Spans of listed words in `text` (no allowlist, no limit): for building word lists."""
        if self._empty:
            return []
        out = []
        for end, (length, bits, _) in self.automaton.iter(text.translate(self.sound_table)):
            if bits & WORD and text[end + 1 - length:end + 1] in self.entries:
                out.append((end + 1 - length, end + 1))
        return out


_SOUND_TRIGGERS = frozenset({"微信", "威信", "薇信", "维信", "微芯", "徽信", "扣扣", "企鹅", "球球"})
_NOTHING: list[WordHit] = []  # shared, never mutated: callers only iterate
_NOTHING_FOUND = Scan(_NOTHING, False, _NOTHING, False)


def _rank(entry: Entry) -> tuple[int, int]:
    return ACTION_RANK[entry.action], entry.severity


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def _standalone(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


def frequent_chars() -> str:
    """ASCII letters and digits, then the most frequent Chinese characters."""
    return "eaoinstrlcdhumpgbfywkvxzjq0123456789" + FREQUENT_CHARS
