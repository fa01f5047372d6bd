"""Conflicts on save: a phrasing that already belongs to another entry, or that the engine
would answer with another entry at a high score. Saving such an entry silently would change
what members get (two identical options in "您是想问", or another entry's answer), so the
console, the import and the CLI show each conflict with both entries and a choice:

- merge: the two become one entry (the other entry gets this one's phrasings);
- move:  the phrasing stays here and leaves the other entry;
- keep:  both are kept; members asking it get a suggestion list with both entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intents.engine import FaqEngine
from intents.model import FaqEntry
from intents.normalize import compact

CHOICES = {"merge": "合并为一个条目", "move": "把问法移到本条目", "keep": "都保留（成员会看到两个选项）"}


@dataclass(slots=True)
class Conflict:
    """One phrasing of the entry being saved and the other entry that has or answers it."""

    entry_id: str
    phrasing: str
    other_id: str
    other_question: str
    other_answer: str
    score: float
    # the same words (after normalisation) are a phrasing of the other entry
    identical: bool

    @property
    def reason(self) -> str:
        if self.identical:
            return f"问法“{self.phrasing}”已经是条目 {self.other_id} 的问法"
        return (f"问法“{self.phrasing}”与条目 {self.other_id} 的“{self.other_question}”"
                f"非常接近（{self.score:.0f} 分），机器人会直接用那条回答")

    def to_dict(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "phrasing": self.phrasing, "other_id": self.other_id,
                "other_question": self.other_question, "other_answer": self.other_answer,
                "score": round(self.score, 1), "identical": self.identical, "reason": self.reason}


class FaqConflict(ValueError):
    """Raised by a save or an import that has conflicts and no choice for them."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        first = conflicts[0]
        more = f"（另有 {len(conflicts) - 1} 处）" if len(conflicts) > 1 else ""
        super().__init__(f"条目 {first.entry_id}：{first.reason}{more}")


def find_conflicts(engine: FaqEngine, entries: list[FaqEntry],
                   owners: dict[str, tuple[str, str]] | None = None) -> list[Conflict]:
    """Conflicts of entries about to be saved with the engine's other entries (and with each
    other, for an import). `owners`: compact phrasing -> (entry id, phrasing), built here if
    not given."""
    if owners is None:
        owners = phrasing_owners(engine)
    saving = {e.id for e in entries}
    out: list[Conflict] = []
    seen_in_batch: dict[str, tuple[str, str]] = {}
    for entry in entries:
        if not entry.enabled:
            continue
        for phrasing in dict.fromkeys(q.strip() for q in entry.questions if q.strip()):
            key = compact(phrasing)
            if not key:
                continue
            owner = owners.get(key)
            if owner is not None and owner[0] not in saving and owner[0] != entry.id:
                out.append(_conflict(engine, entry.id, phrasing, owner[0], owner[1], 100.0, True))
                continue
            twin = seen_in_batch.get(key)
            if twin is not None and twin[0] != entry.id:
                out.append(Conflict(entry.id, phrasing, twin[0], twin[1], "", 100.0, True))
                continue
            seen_in_batch[key] = (entry.id, phrasing)
            close = _answered_by_other(engine, phrasing, entry.id, saving)
            if close is not None:
                out.append(close)
    return out


def phrasing_owners(engine: FaqEngine) -> dict[str, tuple[str, str]]:
    return {compact(question): (entry_id, question) for entry_id, question in engine.phrasings()}


def _answered_by_other(engine: FaqEngine, phrasing: str, entry_id: str,
                       saving: set[str]) -> Conflict | None:
    cands = [c for c in engine.candidates(phrasing, 4) if c.entry_id != entry_id]
    if not cands or cands[0].entry_id in saving:
        return None
    best = cands[0]
    # the other entry would be answered outright: above the answer threshold, on its own
    if engine.decide(cands[:1]) != "answer":
        return None
    return _conflict(engine, entry_id, phrasing, best.entry_id, best.question, best.score, False)


def _conflict(engine: FaqEngine, entry_id: str, phrasing: str, other_id: str, other_question: str,
              score: float, identical: bool) -> Conflict:
    other = engine.entries.get(other_id)
    return Conflict(entry_id, phrasing, other_id, other_question, other.answer if other else "",
                    score, identical)
