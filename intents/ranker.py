"""Re-ranking of BM25 candidates with rapidfuzz: character-level and token-level similarity.

Only the few retrieved candidates are scored here, never the whole FAQ. The final
score (0..100) is a weighted mean of:
- `char`:  fuzz.ratio over the normalised characters (typos, word order kept);
- `token`: fuzz.token_sort_ratio over jieba content words (word order ignored);
- `overlap`: IDF-weighted Dice overlap of words and character bigrams, taken from the
  index, so rare shared words ("花呗", "年费") count more than common ones ("怎么").
The weights were chosen with `qunbot faq eval` on the ATEC and LCQMC sets (docs/faq.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from intents.index import BM25Index
from intents.tokenize import Tokens


@dataclass(frozen=True, slots=True)
class Weights:
    char: float = 0.3
    token: float = 0.2
    overlap: float = 0.5


DEFAULT_WEIGHTS = Weights()
# a same-sounding match is nearly, not fully, as good as the same characters
SOUND_WEIGHT = 0.95


class Ranker:
    """Scores (question, phrasing) pairs; IDF comes from the live index."""

    def __init__(self, index: BM25Index, weights: Weights = DEFAULT_WEIGHTS,
                 idf_source: BM25Index | None = None) -> None:
        self.index = index
        self.weights = weights
        # where IDF comes from: the retrieval index itself, or another one (clustering a few
        # unanswered questions borrows the FAQ's statistics: a tiny index has no useful IDF)
        self.idf_source = idf_source

    def query_mass(self, query: Tokens) -> float:
        return (self.idf_source or self.index).mass(query.term_set)

    def features(self, query: Tokens, q_mass: float, doc: Tokens, doc_id: int) -> dict[str, float]:
        char = fuzz.ratio(query.text, doc.text)
        if char < 100:
            char = max(char, SOUND_WEIGHT * fuzz.ratio(query.sound, doc.sound))
        token = fuzz.token_sort_ratio(query.joined, doc.joined) if query.words and doc.words else 0.0
        source = self.idf_source
        if source is None:
            source = self.index
            total = q_mass + source.doc_mass(doc_id)
        else:
            total = q_mass + source.mass(doc.term_set)
        common = source.mass(query.term_set & doc.term_set)
        overlap = 200.0 * common / total if total else 0.0
        return {"char": char, "token": token, "overlap": overlap}

    def score(self, feats: dict[str, float]) -> float:
        w = self.weights
        total = w.char + w.token + w.overlap
        return (w.char * feats["char"] + w.token * feats["token"] + w.overlap * feats["overlap"]) / total
