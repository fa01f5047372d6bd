"""A learned spam score, trained at run time.

A logistic regression over character n-grams of the normalised text (rare characters, bigrams,
trigrams: the normaliser has already undone width, variants, traditional forms and the noise
spammers put between characters) plus a few signals read off the text as the member wrote it,
which obfuscation itself produces: the share of rare characters, of noise, of compatibility
forms (𝐀, ①, ｗ), of characters outside the basic plane, digit runs, length and Latin letters.

It is trained from labelled messages the operator provides (`qunbot moderation train`) and from
moderators' review decisions (confirm = spam, approve = not spam). No trained model ships with
qunbot. Its action is capped at "review" until its measured false-positive rate on a held-out
fifth of the samples is at most 1%, so it never punishes anyone on its own before that.

Logistic regression rather than naive Bayes: naive Bayes sums the evidence of overlapping
n-grams as if independent, so its probabilities crowd at 0 and 1 and no threshold kept false
positives under 2% at a useful recall (docs/moderation.md has the figures).
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from moderation.charfreq import FREQUENT_CHARS

MIN_SAMPLES = 20  # of each class
MIN_COUNT = 2  # n-grams seen in fewer training messages are dropped
MAX_FPR_TO_PUNISH = 0.01
L2 = 1e-5
ITERATIONS = 300
LEARNING_RATE = 0.1

_FREQUENT = frozenset(FREQUENT_CHARS)
_DIGIT_RUN = re.compile(r"\d+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_ASTRAL = re.compile(r"[\U00010000-\U0010FFFF]")
_DROP_FREQUENT = dict.fromkeys(map(ord, FREQUENT_CHARS))


def features(compact: str) -> list[str]:
    """Rare characters, character bigrams and trigrams of a normalised (compact) text."""
    n = len(compact)
    grams = ["1" + ch for ch in compact if ch not in _FREQUENT]
    grams += [compact[i : i + 2] for i in range(n - 1)]
    grams += [compact[i : i + 3] for i in range(n - 2)]
    return grams


SIGNALS = ("rare_han", "noise", "astral", "compat", "digits5", "digits8", "digits11", "length", "short", "latin")


def signals(compact: str, original: str) -> tuple[float, ...]:
    """Numeric signals of obfuscation, between 0 and 1, read off both views of the text (in SIGNALS order)."""
    length = len(original) or 1
    han = len(_HAN.findall(compact))
    rare = len(_HAN.findall(compact.translate(_DROP_FREQUENT))) if han else 0
    longest_digits = max(map(len, _DIGIT_RUN.findall(compact)), default=0)
    return (
        rare / han if han else 0.0,
        1.0 - len(compact) / length,
        len(_ASTRAL.findall(original)) / length,
        0.0 if unicodedata.is_normalized("NFKC", original)
        else sum(1 for ch in original if unicodedata.normalize("NFKC", ch) != ch) / length,
        float(longest_digits >= 5),
        float(longest_digits >= 8),
        float(longest_digits >= 11),
        min(len(compact), 60) / 60,
        float(len(compact) <= 4),
        len(_LATIN.findall(compact)) / len(compact) if compact else 0.0,
    )


@dataclass
class SpamModel:
    """Logistic-regression weights per n-gram and per signal; `probability(text)` is P(spam | text)."""

    weights: dict[str, float]
    bias: float
    signal_weights: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    holdout_fpr: float | None = None
    holdout_recall: float | None = None

    def log_odds(self, compact: str, original: str | None = None) -> float:
        get = self.weights.get
        total = self.bias
        for g in set(features(compact)):  # presence, as trained
            total += get(g, 0.0)
        if self.signal_weights:
            weights = self.signal_weights
            values = signals(compact, compact if original is None else original)
            total += sum(weights[name] * value for name, value in zip(SIGNALS, values, strict=True))
        return total

    def probability(self, compact: str, original: str | None = None) -> float:
        """P(spam) of a normalised text; `original` (as the member wrote it) adds the signals."""
        if len(compact) < 2:
            return 0.0
        total = self.log_odds(compact, original)
        if total > 35:
            return 1.0
        if total < -35:
            return 0.0
        return 1.0 / (1.0 + math.exp(-total))

    def may_punish(self) -> bool:
        return self.holdout_fpr is not None and self.holdout_fpr <= MAX_FPR_TO_PUNISH

    @classmethod
    def fit(cls, samples: Sequence[tuple[str, bool]], originals: Sequence[str] | None = None) -> SpamModel:
        """Train on (compact text, is spam) pairs; `originals` are the texts as written, same order."""
        grams = [set(features(text)) for text, _ in samples]
        seen = Counter(g for row in grams for g in row)  # in how many messages
        vocab = {g: i for i, g in enumerate(g for g, n in seen.items() if n >= MIN_COUNT)}
        width = len(vocab) + len(SIGNALS)
        columns: list[int] = []
        values: list[float] = []
        lengths: list[int] = []
        for i, ((text, _), row) in enumerate(zip(samples, grams, strict=True)):
            hits = [vocab[g] for g in row if g in vocab]
            columns += hits
            columns += range(len(vocab), width)
            values += [1.0] * len(hits)
            values += signals(text, originals[i] if originals is not None else text)
            lengths.append(len(hits) + len(SIGNALS))
        labels = np.array([1.0 if y else 0.0 for _, y in samples])
        w, bias = _logistic(np.array(columns, dtype=np.int64), np.array(values),
                            np.repeat(np.arange(len(samples)), lengths), labels, width)
        weights = {g: float(w[i]) for g, i in vocab.items() if abs(w[i]) > 1e-3}
        signal_weights = {name: float(w[len(vocab) + j]) for j, name in enumerate(SIGNALS)}
        return cls(weights, bias, signal_weights, samples=len(samples))


def _logistic(columns: np.ndarray, values: np.ndarray, rows: np.ndarray, labels: np.ndarray,
              width: int) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression on a sparse matrix (row, column, value), full-batch Adam."""
    n = len(labels)
    w = np.zeros(width)
    bias = 0.0
    m, v = np.zeros(width), np.zeros(width)
    mb = vb = 0.0
    for t in range(1, ITERATIONS + 1):
        z = np.bincount(rows, weights=w[columns] * values, minlength=n) + bias
        err = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35))) - labels
        grad = np.bincount(columns, weights=err[rows] * values, minlength=width) / n + L2 * w
        gb = float(err.mean())
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= LEARNING_RATE * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        mb = 0.9 * mb + 0.1 * gb
        vb = 0.999 * vb + 0.001 * gb * gb
        bias -= LEARNING_RATE * (mb / (1 - 0.9**t)) / (math.sqrt(vb / (1 - 0.999**t)) + 1e-8)
    return w, bias


def train(samples: Iterable[tuple[str, bool]], threshold: float,
          originals: Sequence[str] | None = None) -> SpamModel | None:
    """Train on all samples after measuring false positives on a held-out fifth; None if too few.

    `samples` are (compact text, is spam); `originals`, when given, the texts as written."""
    data = [(t, bool(y)) for t, y in samples]
    raw = list(originals) if originals is not None else [t for t, _ in data]
    keep = [i for i, (t, _) in enumerate(data) if t]
    data, raw = [data[i] for i in keep], [raw[i] for i in keep]
    spam = sum(1 for _, y in data if y)
    if spam < MIN_SAMPLES or len(data) - spam < MIN_SAMPLES:
        return None
    held = [i for i, (t, _) in enumerate(data) if zlib.crc32(t.encode()) % 5 == 0]
    rest = [i for i, (t, _) in enumerate(data) if zlib.crc32(t.encode()) % 5 != 0]
    fpr = recall = None
    if held and rest:
        probe = SpamModel.fit([data[i] for i in rest], [raw[i] for i in rest])
        quality = evaluate(probe, [data[i] for i in held], threshold, [raw[i] for i in held])
        fpr, recall = quality["false_positive_rate"], quality["recall"]
    model = SpamModel.fit(data, raw)
    model.holdout_fpr, model.holdout_recall = fpr, recall
    return model


def evaluate(model: SpamModel, samples: list[tuple[str, bool]], threshold: float,
             originals: Sequence[str] | None = None) -> dict[str, float]:
    tp = fp = fn = tn = 0
    for i, (text, label) in enumerate(samples):
        flagged = model.probability(text, originals[i] if originals is not None else None) >= threshold
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
