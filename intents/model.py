"""FAQ entries and match results: plain data shared by the engine, store, CLI and console."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class FaqEntry:
    """One answer with the several ways members ask for it, and where it applies."""

    id: str
    answer: str
    questions: list[str]
    tags: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    enabled: bool = True
    hits: int = 0
    unhelpful: int = 0
    # only senders with one of these member tags (members/); empty = anyone
    member_tags: list[str] = field(default_factory=list)

    def applies_to(self, chat_id: str | None, chat_tags: list[str] | None, private: bool,
                   member_tags: frozenset[str] | None = None) -> bool:
        """Unscoped entries apply everywhere; scoped ones in their groups or tagged groups, and a
        member-tag target only to senders with one of the tags (None: sender unknown, no check)."""
        if self.member_tags and member_tags is not None and not member_tags.intersection(self.member_tags):
            return False
        if not self.groups and not self.tags:
            return True
        if private or chat_id is None:
            return True
        return chat_id in self.groups or bool(set(self.tags) & set(chat_tags or ()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Candidate:
    """One FAQ entry's best phrasing for a question, with the scores that ranked it."""

    entry_id: str
    question: str
    score: float
    bm25: float = 0.0
    features: dict[str, float] = field(default_factory=dict)
    # shares a word that says what the question is about (not only 什么/怎么/时候 …)
    keyword: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry_id, "question": self.question, "score": round(self.score, 2),
            "bm25": round(self.bm25, 3), "features": {k: round(v, 2) for k, v in self.features.items()},
            "keyword": self.keyword,
        }


@dataclass(slots=True)
class Match:
    """The engine's verdict on one question: answer, suggest or silent."""

    outcome: str  # "answer" | "suggest" | "silent"
    candidates: list[Candidate]
    text: str = ""

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def score(self) -> float:
        return self.candidates[0].score if self.candidates else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "text": self.text,
                "candidates": [c.to_dict() for c in self.candidates]}
