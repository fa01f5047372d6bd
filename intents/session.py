"""Short-lived per-member conversation state: pending suggestions and the last answer given.

Kept in memory, keyed by (chat session, member), expiring on the injected clock. A restart
forgets it, which only means a member's "2" after a restart is treated as a new message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.kernel.clock import Clock

_CHOICE = re.compile(r"^(?:选|第)?([1-9一二三四五六七八九])(?:个|条|号)?[.。、!！)）]?$")
_CN_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", 1)}
_MAX_KEYS = 50_000

Key = tuple[str, str]


@dataclass(slots=True)
class Pending:
    entry_ids: list[str]
    question: str
    expires: float


@dataclass(slots=True)
class LastAnswer:
    # the answered message's uid: the answer row is written behind, so its row id is not known
    answer_id: int | str
    entry_id: str
    expires: float


def parse_choice(text: str) -> int | None:
    """"1", "２", "第2个", "选3", "二" → the number; anything else → None."""
    text = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    m = _CHOICE.match(text)
    if not m:
        return None
    digit = m.group(1)
    return _CN_DIGITS.get(digit) or int(digit)


class Conversations:
    """Pending "您是想问" lists and recent answers, per (chat, member)."""

    def __init__(self, clock: Clock, suggest_ttl: float, feedback_window: float) -> None:
        self.clock = clock
        self.suggest_ttl = suggest_ttl
        self.feedback_window = feedback_window
        self._pending: dict[Key, Pending] = {}
        self._answers: dict[Key, LastAnswer] = {}

    def offer(self, key: Key, entry_ids: list[str], question: str) -> None:
        self._prune()
        self._pending[key] = Pending(entry_ids, question, self.clock.monotonic() + self.suggest_ttl)

    def pending(self, key: Key) -> Pending | None:
        item = self._pending.get(key)
        if item is None or item.expires < self.clock.monotonic():
            return None
        return item

    def choose(self, key: Key, number: int, *, consume: bool = True) -> tuple[str, str] | None:
        """The entry behind suggestion `number` (1-based) and the original question."""
        item = self.pending(key)
        if item is None or not 1 <= number <= len(item.entry_ids):
            return None
        if consume:
            self._pending.pop(key, None)
        return item.entry_ids[number - 1], item.question

    def drop(self, key: Key) -> None:
        self._pending.pop(key, None)

    def answered(self, key: Key, answer_id: int | str, entry_id: str) -> None:
        self._prune()
        self._answers[key] = LastAnswer(answer_id, entry_id, self.clock.monotonic() + self.feedback_window)

    def last_answer(self, key: Key) -> LastAnswer | None:
        item = self._answers.get(key)
        if item is None or item.expires < self.clock.monotonic():
            return None
        return item

    def forget_answer(self, key: Key) -> None:
        self._answers.pop(key, None)

    def _prune(self) -> None:
        if len(self._pending) + len(self._answers) < _MAX_KEYS:
            return
        now = self.clock.monotonic()
        self._pending = {k: v for k, v in self._pending.items() if v.expires >= now}
        self._answers = {k: v for k, v in self._answers.items() if v.expires >= now}
