"""Grouping of unanswered questions by the same similarity the FAQ uses.

The open questions are indexed in a temporary engine (one "entry" per question); each
question not yet grouped seeds a cluster with every ungrouped question scoring at least
the threshold against it. Cost is one retrieval per question, never all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intents.engine import FaqEngine, Thresholds
from intents.index import BM25Index
from intents.model import Candidate, FaqEntry
from intents.tokenize import Tokenizer


@dataclass(slots=True)
class Cluster:
    """Similar unanswered questions, and the existing entry that comes closest."""

    texts: list[str]
    ids: list[int]
    first_at: str = ""
    last_at: str = ""
    nearest: Candidate | None = None
    chats: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def label(self) -> str:
        return self.texts[0]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "size": self.size, "ids": self.ids, "texts": self.texts,
                "first_at": self.first_at, "last_at": self.last_at, "chats": self.chats,
                "nearest": self.nearest.to_dict() if self.nearest else None}


def cluster_questions(rows: list[dict[str, Any]], tokenizer: Tokenizer, faq: FaqEngine | None,
                      threshold: float) -> list[Cluster]:
    """Rows need id, text, at, chat_id; biggest clusters first."""
    temp = FaqEngine(tokenizer, Thresholds(candidates=100),
                     idf_source=faq.index if faq is not None else BM25Index())
    by_id = {str(r["id"]): r for r in rows}
    for row in rows:
        temp.upsert(FaqEntry(id=str(row["id"]), answer="", questions=[row["text"]]))
    assigned: set[str] = set()
    clusters: list[Cluster] = []
    for row in sorted(rows, key=lambda r: r["id"]):
        seed = str(row["id"])
        if seed in assigned:
            continue
        members = [seed] + [
            c.entry_id for c in temp.candidates(row["text"], 100)
            if c.entry_id != seed and c.entry_id not in assigned and c.score >= threshold
        ]
        assigned.update(members)
        group = [by_id[m] for m in members]
        times = sorted(r["at"] for r in group)
        cluster = Cluster(
            texts=list(dict.fromkeys(r["text"] for r in group)), ids=[r["id"] for r in group],
            first_at=times[0], last_at=times[-1],
            chats=sorted({r.get("chat_id") or "" for r in group} - {""}),
        )
        if faq is not None:
            best = faq.candidates(row["text"], 1)
            cluster.nearest = best[0] if best else None
        clusters.append(cluster)
    clusters.sort(key=lambda c: c.last_at, reverse=True)
    clusters.sort(key=lambda c: -c.size)
    return clusters
