"""A learned spam score, trained at run time.

A multinomial naive Bayes over character bigrams and trigrams of the normalised text. It is
trained from labelled messages the operator provides (`qunbot moderation train`) and from
moderators' review decisions (confirm = spam, approve = not spam). No trained model
ships with qunbot. Its action is capped at "review" until its measured false-positive rate on a
held-out fifth of the samples is at most 1%, so it never punishes anyone on its own before that.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MIN_SAMPLES = 20  # of each class
MIN_COUNT = 2  # features seen fewer times in training are dropped
MAX_FPR_TO_PUNISH = 0.01


def features(text: str) -> list[str]:
    """Character bigrams and trigrams of a normalised (compact) text."""
    n = len(text)
    return [text[i : i + 2] for i in range(n - 1)] + [text[i : i + 3] for i in range(n - 2)]


@dataclass
class SpamModel:
    """Multinomial naive Bayes log-likelihood ratios per n-gram; `probability(text)` is P(spam | text)."""

    weights: dict[str, float]
    bias: float
    samples: int = 0
    holdout_fpr: float | None = None
    holdout_recall: float | None = None

    def log_odds(self, compact: str) -> float:
        get = self.weights.get
        total = self.bias
        for g in features(compact):
            total += get(g, 0.0)
        return total

    def probability(self, compact: str) -> float:
        if len(compact) < 2:
            return 0.0
        total = self.log_odds(compact)
        if total > 35:
            return 1.0
        if total < -35:
            return 0.0
        return 1.0 / (1.0 + math.exp(-total))

    def may_punish(self) -> bool:
        return self.holdout_fpr is not None and self.holdout_fpr <= MAX_FPR_TO_PUNISH

    @classmethod
    def fit(cls, samples: list[tuple[str, bool]], alpha: float = 0.1) -> SpamModel:
        counts: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
        docs: Counter[bool] = Counter()
        for text, label in samples:
            counts[label].update(features(text))
            docs[label] += 1
        vocab = set(counts[True]) | set(counts[False])
        size = len(vocab) or 1
        spam_total = sum(counts[True].values()) + alpha * size
        ham_total = sum(counts[False].values()) + alpha * size
        weights = {}
        for f in vocab:
            s, h = counts[True][f], counts[False][f]
            if s + h < MIN_COUNT:
                continue
            w = math.log((s + alpha) / spam_total) - math.log((h + alpha) / ham_total)
            if abs(w) > 0.05:
                weights[f] = w
        bias = math.log((docs[True] or 1) / (docs[False] or 1))
        return cls(weights, bias, samples=len(samples))


def train(samples: Iterable[tuple[str, bool]], threshold: float) -> SpamModel | None:
    """Train on all samples after measuring false positives on a held-out fifth; None if too few."""
    data = [(t, bool(y)) for t, y in samples if t]
    spam = sum(1 for _, y in data if y)
    if spam < MIN_SAMPLES or len(data) - spam < MIN_SAMPLES:
        return None
    held = [d for d in data if zlib.crc32(d[0].encode()) % 5 == 0]
    rest = [d for d in data if zlib.crc32(d[0].encode()) % 5 != 0]
    fpr = recall = None
    if held and rest:
        probe = SpamModel.fit(rest)
        quality = evaluate(probe, held, threshold)
        fpr, recall = quality["false_positive_rate"], quality["recall"]
    model = SpamModel.fit(data)
    model.holdout_fpr, model.holdout_recall = fpr, recall
    return model


def evaluate(model: SpamModel, samples: list[tuple[str, bool]], threshold: float) -> dict[str, float]:
    tp = fp = fn = tn = 0
    for text, label in samples:
        flagged = model.probability(text) >= threshold
        if flagged and label:
            tp += 1
        elif flagged:
            fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "positives": tp + fn, "negatives": fp + tn,
    }
