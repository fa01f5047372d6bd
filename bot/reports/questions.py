"""Unanswered questions grouped into clusters: the FAQ entries a manager should add next."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

TOP_N = 20


@dataclass
class Cluster:
    """Similar unanswered questions: the most asked phrasing and how often the group was asked."""

    text: str
    count: int
    variants: list[str] = field(default_factory=list)


_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_question(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def cluster_questions(texts: list[tuple[str, int]], limit: int = TOP_N, threshold: float = 70.0) -> list[Cluster]:
    """Greedy clustering of (text, count) by normalised similarity; biggest clusters first."""
    from rapidfuzz import fuzz, process

    groups: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for text, n in texts:
        norm = normalize_question(text)
        if norm:
            groups[norm].append((text, n))
    ordered = sorted(groups.items(), key=lambda kv: -sum(n for _, n in kv[1]))
    reps: list[str] = []
    clusters: list[Cluster] = []
    for norm, members in ordered:
        count = sum(n for _, n in members)
        best = process.extractOne(norm, reps, scorer=fuzz.ratio, score_cutoff=threshold) if reps else None
        phrasing = max(members, key=lambda m: m[1])[0]
        if best is None:
            reps.append(norm)
            clusters.append(Cluster(text=phrasing, count=count, variants=[]))
        else:
            target = clusters[best[2]]
            target.count += count
            if len(target.variants) < 5 and phrasing != target.text:
                target.variants.append(phrasing)
    clusters.sort(key=lambda c: -c.count)
    return clusters[:limit]
