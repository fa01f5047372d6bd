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

WORD, ALLOW, TRIGGER, NOOP = 0, 1, 2, 3
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


class Lexicon:
    """An immutable compiled lexicon; build a new one to change words (hot reload swaps it)."""

    def __init__(
        self, normalizer: Normalizer, entries: list[dict[str, Any]], allow: list[str],
        *, category_action: Any = None, triggers: tuple[str, ...] = CONTACT_TRIGGERS,
    ) -> None:
        self.normalizer = normalizer
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
        payload: dict[str, tuple[int, int, Any]] = {}
        for ch in frequent_chars():
            payload[ch + SENTINEL] = (2, NOOP, None)
        for key, entry in self.entries.items():
            payload[key] = (len(key), WORD, entry)
        self.allow_keys: set[str] = set()
        for word in allow:
            key = normalizer.word(word)
            if key:
                # an allowlisted word that is also listed is no hit at all
                self.allow_keys.add(key)
                payload[key] = (len(key), ALLOW, None)
        self.trigger_keys = {k for w in triggers if len(k := normalizer.word(w)) >= 2}
        for key in self.trigger_keys:
            payload.setdefault(key, (len(key), TRIGGER, None))
        for key, value in payload.items():
            automaton.add_word(key, value)
        self.size = len(self.entries)
        self._empty = not self.entries and not self.allow_keys and not self.trigger_keys
        if not self._empty:
            automaton.make_automaton()
        self.automaton = automaton

    def scan(self, text: str) -> tuple[list[WordHit], bool]:
        """Lexicon hits not covered by an allowlisted word, and whether a contact trigger occurred."""
        if self._empty:
            return _NOTHING, False
        found = list(self.automaton.iter(text))
        if not found:  # the common case: a clean message
            return _NOTHING, False
        hits: list[WordHit] = []
        allowed: list[tuple[int, int]] = []
        triggered = False
        trigger_keys = self.trigger_keys
        for end, (length, kind, entry) in found:
            start = end + 1 - length
            if kind == WORD:
                # a 100 KB paste may repeat a word thousands of times: keep a bounded number
                if entry.ascii and not _standalone(text, start, end + 1):
                    continue
                if len(hits) < MAX_SCANNED:
                    hits.append(WordHit(entry, start, end + 1))
                if not triggered and entry.key in trigger_keys:
                    triggered = True
            elif kind == TRIGGER:
                triggered = True
            elif kind == ALLOW:
                allowed.append((start, end + 1))
        if hits and allowed:
            hits = [h for h in hits if not any(a <= h.start and h.end <= b for a, b in allowed)]
        if len(hits) > 1:
            # one hit per listed word and message is enough
            first: dict[str, WordHit] = {}
            for h in hits:
                first.setdefault(h.entry.key, h)
            hits = list(first.values())[:MAX_HITS]
        return hits, triggered


_NOTHING: list[WordHit] = []  # shared, never mutated: callers only iterate


def _standalone(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


def frequent_chars() -> str:
    """ASCII letters and digits, then the most frequent Chinese characters."""
    return "eaoinstrlcdhumpgbfywkvxzjq0123456789" + FREQUENT_CHARS
