"""Grouping of unanswered questions by meaning, for the console's 未回答问题.

With the sentence model ([faq] semantic): each question joins the cluster whose mean vector
is closest if the cosine reaches CLUSTER_COSINE, or the cluster whose best FAQ candidate is
the same entry (both at least suggested); otherwise it starts a cluster. Without it, the
open questions are indexed in a temporary engine (one "entry" per question) and each
question not yet grouped seeds a cluster with every ungrouped question scoring at least
the threshold against it. Either way the cost is one vector or one retrieval per question.

Each cluster carries what the console pre-fills: the engine's best candidate entry over all
its wordings (by summed score, not the first wording's), and its most common wording.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    # how often each wording was asked (texts are unique, most asked first)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def label(self) -> str:
        """The most common wording: what a new entry's first phrasing is pre-filled with."""
        return self.texts[0]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "size": self.size, "ids": self.ids, "texts": self.texts,
                "counts": self.counts, "first_at": self.first_at, "last_at": self.last_at,
                "chats": self.chats, "nearest": self.nearest.to_dict() if self.nearest else None}


# cosine between a question and a cluster's mean vector to join it (multilingual USE)
CLUSTER_COSINE = 0.6


def _make(group: list[dict[str, Any]], faq: FaqEngine | None,
          best_of: dict[str, Candidate | None]) -> Cluster:
    counts = Counter(r["text"] for r in group)
    order = {t: i for i, t in enumerate(r["text"] for r in sorted(group, key=lambda r: r["id"]))}
    texts = sorted(counts, key=lambda t: (-counts[t], order[t]))
    times = sorted(r["at"] for r in group)
    cluster = Cluster(texts=texts, ids=[r["id"] for r in group], first_at=times[0], last_at=times[-1],
                      chats=sorted({r.get("chat_id") or "" for r in group} - {""}),
                      counts={t: counts[t] for t in texts})
    # the entry the engine ranks first for most of the cluster (weighted by score)
    votes: dict[str, float] = {}
    top: dict[str, Candidate] = {}
    for text in texts:
        best = best_of.get(text)
        if best is None:
            continue
        votes[best.entry_id] = votes.get(best.entry_id, 0.0) + best.score * counts[text]
        if best.entry_id not in top or best.score > top[best.entry_id].score:
            top[best.entry_id] = best
    if votes:
        cluster.nearest = top[max(votes, key=lambda k: (votes[k], k))]
    return cluster


def _best_candidates(faq: FaqEngine | None, texts: list[str]) -> dict[str, Candidate | None]:
    if faq is None:
        return {}
    out: dict[str, Candidate | None] = {}
    for text in texts:
        cands = faq.candidates(text, 1)
        out[text] = cands[0] if cands else None
    return out


def cluster_by_meaning(rows: list[dict[str, Any]], faq: FaqEngine) -> list[Cluster]:
    """Clusters by sentence vectors (faq.embedder must be set); biggest first."""
    assert faq.embedder is not None
    texts = list(dict.fromkeys(r["text"] for r in sorted(rows, key=lambda r: r["id"])))
    if not texts:
        return []
    vectors = faq.embedder.questions(texts)
    best_of = _best_candidates(faq, texts)
    floor = {t: (c is not None and c.keyword and c.score >= faq.suggest_floor(c)) for t, c in best_of.items()}
    frequency = Counter(r["text"] for r in rows)
    sums: list[np.ndarray] = []
    members: list[list[str]] = []
    entry_of: list[str | None] = []
    # most asked first: a cluster's mean starts from its most common wording
    for i in sorted(range(len(texts)), key=lambda i: (-frequency[texts[i]], i)):
        text, vector = texts[i], vectors[i]
        best = best_of.get(text)
        entry = best.entry_id if best is not None and floor[text] else None
        chosen = -1
        if sums:
            means = np.stack(sums)
            means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
            sims = means @ vector
            j = int(np.argmax(sims))
            if sims[j] >= CLUSTER_COSINE:
                chosen = j
            elif entry is not None and entry in entry_of:
                chosen = entry_of.index(entry)
        if chosen < 0:
            sums.append(vector.copy())
            members.append([text])
            entry_of.append(entry)
        else:
            sums[chosen] += vector
            members[chosen].append(text)
    by_text: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_text.setdefault(r["text"], []).append(r)
    clusters = [_make([r for t in group for r in by_text[t]], faq, best_of) for group in members]
    clusters.sort(key=lambda c: c.last_at, reverse=True)
    clusters.sort(key=lambda c: -c.size)
    return clusters


def cluster_questions(rows: list[dict[str, Any]], tokenizer: Tokenizer, faq: FaqEngine | None,
                      threshold: float) -> list[Cluster]:
    """Rows need id, text, at, chat_id; biggest clusters first."""
    if faq is not None and faq.embedder is not None:
        return cluster_by_meaning(rows, faq)
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
        clusters.append(_make(group, faq, _best_candidates(faq, list({r["text"] for r in group}))))
    clusters.sort(key=lambda c: c.last_at, reverse=True)
    clusters.sort(key=lambda c: -c.size)
    return clusters
