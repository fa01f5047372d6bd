"""Re-ranking of BM25 candidates with rapidfuzz: character-level and token-level similarity.

Only the few retrieved candidates are scored here, never the whole FAQ. The final
score (0..100) is a weighted mean of:
- `char`:  fuzz.ratio over the normalised characters (typos, word order kept);
- `token`: fuzz.token_sort_ratio over jieba content words (word order ignored), as fuzz.ratio
  over the words sorted once per text;
- `overlap`: IDF-weighted Dice overlap of words and character bigrams, taken from the
  index, so rare shared words ("花呗", "年费") count more than common ones ("怎么").
The weights were chosen with `qunbot faq eval` on the ATEC and LCQMC sets (docs/faq.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.fuzz import ratio

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


# (score, char, token, overlap), each 0..100: a plain tuple, built for every retrieved phrasing
Scores = tuple[float, float, float, float]
FEATURES = ("char", "token", "overlap")


def features(scores: Scores) -> dict[str, float]:
    """The features a score is made of, by name (what traces and `faq eval` show)."""
    return dict(zip(FEATURES, scores[1:], strict=True))


class Ranker:
    """Scores (question, phrasing) pairs; IDF comes from the live index."""

    def __init__(self, index: BM25Index, weights: Weights = DEFAULT_WEIGHTS,
                 idf_source: BM25Index | None = None) -> None:
        self.index = index
        self.weights = weights
        # where IDF comes from: the retrieval index itself, or another one (clustering a few
        # unanswered questions borrows the FAQ's statistics: a tiny index has no useful IDF)
        self.idf_source = idf_source

    def score_all(self, query: Tokens, docs: list[tuple[int, Tokens]]) -> list[Scores]:
        """Scores of each (doc id, tokens) against the question, in the given order.

        One loop with local names: it runs for every retrieved phrasing of every question.
        """
        # (an empty idf_source is still the source: every term then weighs the same)
        source = self.index if self.idf_source is None else self.idf_source
        doc_mass = source.doc_mass if self.idf_source is None else None
        idf = source.idf_map(query.term_set)
        q_mass = sum(idf.values())
        idf_of = idf.__getitem__
        q_text, q_sound, q_sorted, q_terms = query.text, query.sound, query.sorted_words, query.term_set
        has_words = bool(query.words)
        w = self.weights
        wc, wt, wo, wsum = w.char, w.token, w.overlap, w.char + w.token + w.overlap
        out = []
        for doc_id, doc in docs:
            char = ratio(q_text, doc.text)
            if char < 100:
                # the sound only wins above char / SOUND_WEIGHT: below that cutoff rapidfuzz
                # may stop early and returns 0 (the margin keeps the boundary case exact)
                heard = SOUND_WEIGHT * ratio(q_sound, doc.sound, score_cutoff=char / SOUND_WEIGHT - 1e-9)
                if heard > char:
                    char = heard
            # token_sort_ratio is ratio over the sorted words: sorted once per text, not per pair
            token = ratio(q_sorted, doc.sorted_words) if has_words and doc.words else 0.0
            total = q_mass + (doc_mass(doc_id) if doc_mass is not None else source.mass(doc.term_set))
            overlap = 200.0 * sum(map(idf_of, q_terms & doc.term_set)) / total if total else 0.0
            out.append(((wc * char + wt * token + wo * overlap) / wsum, char, token, overlap))
        return out
