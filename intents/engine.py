"""The FAQ engine: entries, the incremental index, retrieval, re-ranking and thresholds."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from intents.index import BM25Index
from intents.model import Candidate, FaqEntry, Match
from intents.ranker import DEFAULT_WEIGHTS, Ranker, Scores, Weights, features
from intents.tokenize import Tokenizer, Tokens

# character similarity at which a question counts as the phrasing itself (typos included)
NEAR_IDENTICAL = 90.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    answer: float = 70.0
    suggest: float = 55.0
    # the best entry must lead the runner-up by this much to be answered outright
    margin: float = 5.0
    # retrieved phrasings per question (before grouping by entry)
    candidates: int = 12
    # an entry members often mark unhelpful is only suggested, never answered outright
    demote_ratio: float = 0.3
    demote_min_hits: int = 5


class FaqEngine:
    """Answers questions from FAQ entries; edits update the index in place (no rebuild)."""

    def __init__(self, tokenizer: Tokenizer | None = None, thresholds: Thresholds | None = None,
                 weights: Weights = DEFAULT_WEIGHTS, idf_source: BM25Index | None = None) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        self.thresholds = thresholds or Thresholds()
        self.index = BM25Index()
        self.ranker = Ranker(self.index, weights, idf_source)
        self.entries: dict[str, FaqEntry] = {}
        self._docs: dict[int, tuple[str, str, Tokens]] = {}  # doc id -> (entry id, phrasing, tokens)
        self._entry_docs: dict[str, list[int]] = {}
        # entries limited to some groups or tags; while there are none, matching skips the check
        self._scoped: set[str] = set()
        self._next_doc = 0
        self._lock = threading.RLock()
        self.version = 0

    # -- entries ----------------------------------------------------------------------

    def load(self, entries: Iterable[FaqEntry]) -> None:
        with self._lock:
            for entry_id in list(self.entries):
                self.remove(entry_id)
            for entry in entries:
                self.upsert(entry)

    def upsert(self, entry: FaqEntry) -> None:
        """Add or replace one entry: only its own phrasings are re-indexed."""
        with self._lock:
            self._unindex(entry.id)
            self.entries[entry.id] = entry
            if entry.groups or entry.tags or entry.member_tags:
                self._scoped.add(entry.id)
            else:
                self._scoped.discard(entry.id)
            docs: list[int] = []
            if entry.enabled:
                for question in dict.fromkeys(q.strip() for q in entry.questions):
                    if not question:
                        continue
                    tokens = self.tokenizer.tokens(question)
                    if not tokens.terms:
                        continue
                    doc = self._next_doc
                    self._next_doc += 1
                    self._docs[doc] = (entry.id, question, tokens)
                    self.index.add(doc, tokens.terms)
                    docs.append(doc)
            self._entry_docs[entry.id] = docs
            self.version += 1

    def remove(self, entry_id: str) -> None:
        with self._lock:
            self._unindex(entry_id)
            self.entries.pop(entry_id, None)
            self._scoped.discard(entry_id)
            self.version += 1

    def _unindex(self, entry_id: str) -> None:
        for doc in self._entry_docs.pop(entry_id, ()):
            self.index.remove(doc)
            self._docs.pop(doc, None)

    @property
    def phrasing_count(self) -> int:
        return len(self._docs)

    # -- matching ---------------------------------------------------------------------

    def candidates(self, text: str, limit: int = 5, *, chat_id: str | None = None,
                   chat_tags: list[str] | None = None, private: bool = False,
                   member_tags: frozenset[str] | None = None) -> list[Candidate]:
        """The best entries for a question, best first, one candidate per entry."""
        with self._lock:
            query = self.tokenizer.tokens(text)
            if not query.terms:
                return []
            docs = self._docs
            accept = None
            if self._scoped and ((chat_id is not None and not private) or member_tags is not None):
                entries = self.entries

                def accept(doc: int) -> bool:
                    return entries[docs[doc][0]].applies_to(chat_id, chat_tags, private, member_tags)

            hits = self.index.search(query.terms, self.thresholds.candidates, accept)
            scored = self.ranker.score_all(query, [(doc, docs[doc][2]) for doc, _ in hits])
            # each entry's best phrasing; Candidates are built only for the few returned
            best: dict[str, tuple[Scores, float, int]] = {}
            for (doc, bm25), scores in zip(hits, scored, strict=True):
                entry_id = docs[doc][0]
                current = best.get(entry_id)
                if current is None or scores[0] > current[0][0]:
                    best[entry_id] = (scores, bm25, doc)
            ranked = sorted(best.items(), key=lambda kv: (-kv[1][0][0], -kv[1][1], kv[0]))[:limit]
            result = []
            for entry_id, (scores, bm25, doc) in ranked:
                _, question, tokens = docs[doc]
                keyword = not query.keywords.isdisjoint(tokens.keywords) or scores[1] >= NEAR_IDENTICAL
                result.append(Candidate(entry_id, question, scores[0], bm25, features(scores), keyword))
        return result

    def match(self, text: str, *, chat_id: str | None = None, chat_tags: list[str] | None = None,
              private: bool = False, suggest_max: int = 3, member_tags: frozenset[str] | None = None) -> Match:
        cands = self.candidates(text, max(suggest_max, 3), chat_id=chat_id,
                                chat_tags=chat_tags, private=private, member_tags=member_tags)
        outcome = self.decide(cands)
        if outcome == "suggest":
            cands = [c for c in cands if c.score >= self.thresholds.suggest and (c.keyword)][:suggest_max]
        return Match(outcome=outcome, candidates=cands, text=text)

    def decide(self, cands: list[Candidate], answer: float | None = None,
               suggest: float | None = None) -> str:
        """answer / suggest / silent for ranked candidates (thresholds overridable for sweeps)."""
        t = self.thresholds
        answer = t.answer if answer is None else answer
        suggest = t.suggest if suggest is None else suggest
        if not cands:
            return "silent"
        best = cands[0]
        runner_up = cands[1].score if len(cands) > 1 else 0.0
        if (best.score >= answer and best.score - runner_up >= t.margin and (best.keyword)
                and not self.demoted(best.entry_id)):
            return "answer"
        # a suggestion also needs a shared keyword: "什么时候结婚" is not about 发货
        return "suggest" if best.score >= suggest and (best.keyword) else "silent"

    def demoted(self, entry_id: str) -> bool:
        """Members said "没用" to at least demote_ratio of this entry's answers."""
        entry = self.entries.get(entry_id)
        t = self.thresholds
        return (entry is not None and entry.hits >= t.demote_min_hits
                and entry.unhelpful >= t.demote_ratio * entry.hits)

    def count(self, entry_id: str, *, hit: bool = False, unhelpful: bool = False) -> None:
        """Keep the in-memory counters in step with the database's."""
        entry = self.entries.get(entry_id)
        if entry is not None:
            entry.hits += int(hit)
            entry.unhelpful += int(unhelpful)
