"""The FAQ engine: entries, the incremental index, retrieval, re-ranking and thresholds."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from intents.index import BM25Index
from intents.model import Candidate, FaqEntry, Match
from intents.ranker import DEFAULT_WEIGHTS, Ranker, Scores, Weights, features
from intents.semantic import Embedder, VectorMatrix
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
    # -- semantic score (used only when the engine has an embedder) --
    # share of the fused score that is 100·cosine: w·100·cos + (1−w)·lexical
    semantic_weight: float = 0.7
    # thresholds on the fused score (its scale differs from the lexical one)
    semantic_answer: float = 83.0
    semantic_suggest: float = 60.0
    semantic_margin: float = 8.0
    # a cosine at which a question is about the phrasing even without a shared keyword
    semantic_keyword: float = 0.62
    # phrasings taken by cosine (over all phrasings) besides BM25's candidates
    semantic_candidates: int = 8
    # a lexical answer leading the runner-up by this much is final: no vector is computed
    confident_margin: float = 20.0


class FaqEngine:
    """Answers questions from FAQ entries; edits update the index in place (no rebuild)."""

    def __init__(self, tokenizer: Tokenizer | None = None, thresholds: Thresholds | None = None,
                 weights: Weights = DEFAULT_WEIGHTS, idf_source: BM25Index | None = None,
                 embedder: Embedder | None = None) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        # None: the lexical engine alone ([faq] semantic = false)
        self.embedder = embedder
        self.vectors = VectorMatrix(embedder.dim) if embedder else None
        self.thresholds = thresholds or Thresholds()
        self.index = BM25Index()
        self.ranker = Ranker(self.index, weights, idf_source)
        self.entries: dict[str, FaqEntry] = {}
        self._docs: dict[int, tuple[str, str, Tokens]] = {}  # doc id -> (entry id, phrasing, tokens)
        self._entry_docs: dict[str, list[int]] = {}
        # entries limited to some groups or tags; while there are none, matching skips the check
        self._scoped: set[str] = set()
        self._next_doc = 0
        # phrasing vectors computed in one batch by load(), used by its upserts
        self._preloaded: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()
        self.version = 0

    # -- entries ----------------------------------------------------------------------

    def load(self, entries: Iterable[FaqEntry]) -> None:
        entries = list(entries)
        with self._lock:
            for entry_id in list(self.entries):
                self.remove(entry_id)
            if self.embedder is not None and self.vectors is not None:
                # one batched model call for every phrasing not cached yet (not one per entry),
                # and one matrix sized for all of them
                texts = list(dict.fromkeys(q.strip() for e in entries if e.enabled for q in e.questions if q.strip()))
                self._preloaded = dict(zip(texts, self.embedder.phrasing_rows(texts), strict=True))
                self.vectors.reserve(len(texts))
            try:
                for entry in entries:
                    self.upsert(entry)
            finally:
                self._preloaded = {}

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
            texts: list[str] = []
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
                    texts.append(question)
            if self.embedder is not None and self.vectors is not None and docs:
                pre = self._preloaded
                if all(t in pre for t in texts):
                    self.vectors.add(docs, [pre[t] for t in texts])
                else:
                    self.vectors.add(docs, self.embedder.phrasings(texts))
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
            if self.vectors is not None:
                self.vectors.remove(doc)
            self._docs.pop(doc, None)

    def phrasings(self) -> list[tuple[str, str]]:
        """(entry id, phrasing) of every indexed phrasing."""
        with self._lock:
            return [(entry_id, question) for entry_id, question, _ in self._docs.values()]

    @property
    def phrasing_count(self) -> int:
        return len(self._docs)

    # -- matching ---------------------------------------------------------------------

    @property
    def semantic(self) -> bool:
        return self.embedder is not None

    def candidates(self, text: str, limit: int = 5, *, chat_id: str | None = None,
                   chat_tags: list[str] | None = None, private: bool = False,
                   vector: np.ndarray | None = None, encode: bool = True,
                   member_tags: frozenset[str] | None = None) -> list[Candidate]:
        """The best entries for a question, best first, one candidate per entry."""
        return self._rank(text, limit, chat_id, chat_tags, private, vector, encode, member_tags=member_tags)[0]

    def _rank(self, text: str, limit: int, chat_id: str | None, chat_tags: list[str] | None,
              private: bool, vector: np.ndarray | None, encode: bool,
              state: tuple[int, Tokens, list[tuple[int, float]], list[Scores]] | None = None,
              member_tags: frozenset[str] | None = None,
              ) -> tuple[list[Candidate], bool, tuple[int, Tokens, list[tuple[int, float]], list[Scores]] | None]:
        """Candidates; whether a question vector was needed but not given (encode=False); and
        the lexical work, which the call with the vector reuses if nothing was edited meanwhile."""
        with self._lock:
            docs = self._docs
            accept = None
            if self._scoped and ((chat_id is not None and not private) or member_tags is not None):
                entries = self.entries

                def accept(doc: int) -> bool:
                    return entries[docs[doc][0]].applies_to(chat_id, chat_tags, private, member_tags)

            if state is not None and state[0] == self.version:
                _, query, hits, scored = state
            else:
                query = self.tokenizer.tokens(text)
                hits = self.index.search(query.terms, self.thresholds.candidates, accept) if query.terms else []
                scored = self.ranker.score_all(query, [(doc, docs[doc][2]) for doc, _ in hits])
            lexical = self._group(query, hits, scored, None, max(limit, 3))
            if self.embedder is None or self.vectors is None or not docs or self._confident(lexical):
                return lexical[:limit], False, None
            if vector is None:
                vector = self.embedder.cached(text)
            if vector is None:
                if not encode:
                    return lexical[:limit], True, (self.version, query, hits, scored)
                vector = self.embedder.question(text)
            t = self.thresholds
            cosine = dict(self.vectors.top(vector, t.semantic_candidates + len(hits)))
            if accept is not None:
                cosine = {d: c for d, c in cosine.items() if accept(d)}
            bm25 = dict(hits)
            # BM25's candidates are scored whatever their cosine; the cosine's best whatever
            # their words (BM25's top list misses paraphrases with no word in common)
            extra = [d for d in list(cosine)[:t.semantic_candidates] if d not in bm25]
            pool = [*bm25, *extra]
            missing = [d for d in pool if d not in cosine]
            if missing:
                cosine.update(self.vectors.cosine(vector, missing))
            scores = scored + self.ranker.score_all(query, [(d, docs[d][2]) for d in extra]) if extra else scored
            pairs = [(d, bm25.get(d, 0.0)) for d in pool]
            return self._group(query, pairs, scores, cosine, limit), False, None

    def _confident(self, lexical: list[Candidate]) -> bool:
        """The lexical stage answers outright, well ahead of the runner-up."""
        if not lexical or self.decide(lexical) != "answer":
            return False
        runner_up = lexical[1].score if len(lexical) > 1 else 0.0
        return lexical[0].score - runner_up >= self.thresholds.confident_margin

    def _group(self, query: Tokens, hits: list[tuple[int, float]], scored: list[Scores],
               cosine: dict[int, float] | None, limit: int) -> list[Candidate]:
        """Each entry's best phrasing; Candidates are built only for the few returned."""
        docs = self._docs
        w = self.thresholds.semantic_weight
        best: dict[str, tuple[float, Scores, float, int]] = {}
        for (doc, bm25), scores in zip(hits, scored, strict=True):
            total = scores[0]
            if cosine is not None:
                total = w * 100.0 * max(cosine.get(doc, 0.0), 0.0) + (1 - w) * total
            entry_id = docs[doc][0]
            current = best.get(entry_id)
            if current is None or total > current[0]:
                best[entry_id] = (total, scores, bm25, doc)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], -kv[1][2], kv[0]))[:limit]
        result = []
        for entry_id, (total, scores, bm25, doc) in ranked:
            _, question, tokens = docs[doc]
            keyword = not query.keywords.isdisjoint(tokens.keywords) or scores[1] >= NEAR_IDENTICAL
            feats = features(scores)
            if cosine is not None:
                cos = cosine.get(doc, 0.0)
                feats = {**feats, "lexical": scores[0], "semantic": 100.0 * cos}
                keyword = keyword or cos >= self.thresholds.semantic_keyword
            result.append(Candidate(entry_id, question, total, bm25, feats, keyword, cosine is not None))
        return result

    def match(self, text: str, *, chat_id: str | None = None, chat_tags: list[str] | None = None,
              private: bool = False, suggest_max: int = 3, vector: np.ndarray | None = None,
              encode: bool = True, after: Match | None = None,
              member_tags: frozenset[str] | None = None) -> Match:
        """The verdict on a question. encode=False (the event loop): a question that needs a
        vector not in the cache comes back with `pending` set; compute the vector elsewhere
        and call again with it. `member_tags`: the asking member's tags (entries may target them)."""
        state = after.lexical if after is not None else None
        cands, pending, lexical = self._rank(text, max(suggest_max, 3), chat_id, chat_tags, private,
                                             vector, encode, state, member_tags=member_tags)
        outcome = self.decide(cands)
        if outcome == "suggest":
            floor = self._limits(cands[0])[1]
            cands = [c for c in cands if c.score >= floor and (c.keyword)][:suggest_max]
        return Match(outcome=outcome, candidates=cands, text=text, pending=pending, lexical=lexical)

    def _limits(self, best: Candidate) -> tuple[float, float, float]:
        """(answer, suggest, margin) on the scale of the candidate's score."""
        t = self.thresholds
        if best.fused:
            return t.semantic_answer, t.semantic_suggest, t.semantic_margin
        return t.answer, t.suggest, t.margin

    def suggest_floor(self, best: Candidate) -> float:
        return self._limits(best)[1]

    @property
    def answer_threshold(self) -> float:
        """The answer threshold members mostly meet: the fused one with semantic on."""
        return self.thresholds.semantic_answer if self.semantic else self.thresholds.answer

    def decide(self, cands: list[Candidate], answer: float | None = None,
               suggest: float | None = None) -> str:
        """answer / suggest / silent for ranked candidates (thresholds overridable for sweeps)."""
        if not cands:
            return "silent"
        best = cands[0]
        t_answer, t_suggest, margin = self._limits(best)
        answer = t_answer if answer is None else answer
        suggest = t_suggest if suggest is None else suggest
        runner_up = cands[1].score if len(cands) > 1 else 0.0
        if (best.score >= answer and best.score - runner_up >= margin and (best.keyword)
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
