"""An incremental BM25 inverted index: add and remove documents without a rebuild.

Postings hold each document's precomputed BM25 term impact, tf·(k1+1)/(tf+k1·(1−b+b·len/avg)),
against a reference average length; the impacts are recomputed only when the real average
drifts more than 10% from it, so an edit touches only the edited document's postings.

Scoring is term-at-a-time from the rarest term to the most common one. Once a term's
list would take the accumulator past its limit, that term and every later (more common)
one only update documents already there ("continue" pruning), so a common term such as
"怎么" never adds a long list: query time grows with the rare terms' lists, not with the
index size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter

DRIFT = 0.10


class BM25Index:
    """Documents are integer ids holding a bag of terms."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, accumulator_limit: int = 100) -> None:
        self.k1 = k1
        self.b = b
        self.accumulator_limit = accumulator_limit
        self.postings: dict[str, dict[int, float]] = {}
        self.doc_terms: dict[int, Counter[str]] = {}
        self.doc_len: dict[int, int] = {}
        self._total_len = 0
        self._ref_avg = 0.0
        # IDF and per-document IDF mass, valid until the next add/remove
        self._idf: dict[str, float] = {}
        self._mass: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self.doc_terms)

    @property
    def avg_len(self) -> float:
        return self._total_len / len(self.doc_terms) if self.doc_terms else 1.0

    def _impact(self, tf: int, length: int) -> float:
        k1 = self.k1
        return tf * (k1 + 1) / (tf + k1 * (1 - self.b + self.b * length / self._ref_avg))

    def add(self, doc_id: int, terms: Iterable[str]) -> None:
        if doc_id in self.doc_terms:
            self.remove(doc_id)
        self._invalidate()
        counts = Counter(terms)
        length = sum(counts.values())
        if not self._ref_avg:
            self._ref_avg = float(length or 1)
        self.doc_terms[doc_id] = counts
        self.doc_len[doc_id] = length
        self._total_len += length
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[doc_id] = self._impact(tf, length)

    def remove(self, doc_id: int) -> None:
        counts = self.doc_terms.pop(doc_id, None)
        if counts is None:
            return
        self._invalidate()
        self._total_len -= self.doc_len.pop(doc_id)
        for term in counts:
            plist = self.postings.get(term)
            if plist is not None:
                plist.pop(doc_id, None)
                if not plist:
                    del self.postings[term]

    def _invalidate(self) -> None:
        if self._idf:
            self._idf = {}
        if self._mass:
            self._mass = {}

    def _check_drift(self) -> None:
        avg = self.avg_len
        if self.doc_terms and abs(avg - self._ref_avg) > DRIFT * self._ref_avg:
            self._ref_avg = avg
            for doc, counts in self.doc_terms.items():
                length = self.doc_len[doc]
                for term, tf in counts.items():
                    self.postings[term][doc] = self._impact(tf, length)

    def idf(self, term: str) -> float:
        value = self._idf.get(term)
        if value is None:
            n = len(self.doc_terms)
            df = len(self.postings.get(term, ()))
            value = self._idf[term] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return value

    def idf_map(self, terms: Iterable[str]) -> dict[str, float]:
        """term → IDF for each of `terms` (cache hits without a method call per term)."""
        cache, idf = self._idf, self.idf
        out = {}
        for t in terms:
            value = cache.get(t)
            out[t] = value if value is not None else idf(t)
        return out

    def mass(self, terms: Iterable[str]) -> float:
        """Sum of IDF over distinct terms."""
        return sum(self.idf_map(terms).values())

    def doc_mass(self, doc_id: int) -> float:
        value = self._mass.get(doc_id)
        if value is None:
            value = self._mass[doc_id] = self.mass(self.doc_terms[doc_id])
        return value

    def search(self, terms: Sequence[str], k: int,
               accept: Callable[[int], bool] | None = None) -> list[tuple[int, float]]:
        """The k best documents as (doc id, BM25 score), best first."""
        self._check_drift()
        postings, idf_cache = self.postings, self._idf
        present = []
        counts = dict.fromkeys(terms, 1)  # query order kept; repeated terms are rare
        if len(counts) != len(terms):
            counts = Counter(terms)
        for term, qtf in counts.items():
            plist = postings.get(term)
            if plist is not None:
                present.append((len(plist), term, qtf, plist))
        # rarest first; sorting on the length alone keeps the query's order among equals
        present.sort(key=itemgetter(0))
        acc: dict[int, float] = {}
        limit = self.accumulator_limit
        for _, term, qtf, plist in present:
            idf = idf_cache.get(term)
            weight = (idf if idf is not None else self.idf(term)) * qtf
            if not acc:
                acc = {doc: weight * impact for doc, impact in plist.items()}
                continue
            if len(acc) + len(plist) > limit:
                # continue mode: only documents already found gain score (the key views'
                # intersection is computed in C, walking the smaller side)
                for doc in acc.keys() & plist.keys():
                    acc[doc] += weight * plist[doc]
                continue
            get = acc.get
            for doc, impact in plist.items():
                acc[doc] = get(doc, 0.0) + weight * impact
        if accept is None:
            # best first, ties in insertion order (as heapq.nlargest), faster for ~100 items
            return sorted(acc.items(), key=itemgetter(1), reverse=True)[:k]
        # rank first, then ask `accept` (a Python call per document) only until k are found
        best = []
        if k > 0:
            for doc in sorted(acc, key=acc.__getitem__, reverse=True):
                if accept(doc):
                    best.append(doc)
                    if len(best) == k:
                        break
        return [(doc, acc[doc]) for doc in best]
