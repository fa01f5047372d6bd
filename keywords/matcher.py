"""Finds every rule whose keyword matches a text, without looping over all rules.

exact → dict lookup; contains and prefix → one Aho-Corasick automaton (pyahocorasick);
regex → compiled once, and run only when the automaton found the pattern's required literal
(patterns without one always run), each run bounded by a timeout (a rule that runs out of time
does not match that message, and `on_timeout` is told); fuzzy → rapidfuzz over candidates that share a character
bigram with the text (inverted index), best-first and capped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import ahocorasick
from rapidfuzz import fuzz

from keywords.normalize import normalize
from keywords.regexcheck import MATCH_BUDGET_SECONDS, REGEX_TEXT_LIMIT
from keywords.rules import Rule

MAX_FUZZY_CANDIDATES = 64
# fuzzy rules compare against the start of a message: they are meant for short questions
FUZZY_TEXT_LIMIT = 300
_CONTAINS, _PREFIX, _LITERAL = 0, 1, 2


@dataclass(slots=True)
class Match:
    rule: Rule
    matched: str
    score: float = 100.0


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _min_shared(length: int, distinct_bigrams: int, threshold: float) -> int:
    """A lower bound on shared bigrams for a (partial) ratio >= threshold.

    rapidfuzz's ratio is 100 * (1 - indel_distance / (2 * length)) against a window of the keyword's
    length, so at most `2 * length * (1 - threshold / 100)` insertions/deletions separate them, and
    each one breaks at most two of the keyword's bigrams.
    """
    edits = int(2 * length * (1 - threshold / 100))
    return max(1, distinct_bigrams - 2 * edits)


class _Side:
    """The indexes of rules that see the same text (normalised, or raw for opted-out rules)."""

    def __init__(self, rules: list[Rule], budget: float, on_timeout: Callable[[Rule], None]) -> None:
        self.budget = budget
        self.on_timeout = on_timeout
        self.exact: dict[str, list[Rule]] = defaultdict(list)
        self.always_regex: list[Rule] = []
        self.fuzzy: dict[str, list[Rule]] = defaultdict(list)
        # fewest keyword bigrams a text must share with a fuzzy rule to possibly reach its threshold
        self.fuzzy_min: dict[int, int] = {}
        patterns: dict[str, list[tuple[int, Rule]]] = defaultdict(list)
        for rule in rules:
            if rule.match == "exact":
                self.exact[rule.keyword].append(rule)
            elif rule.match == "contains":
                patterns[rule.keyword].append((_CONTAINS, rule))
            elif rule.match == "prefix":
                patterns[rule.keyword].append((_PREFIX, rule))
            elif rule.match == "regex":
                if rule.literals:
                    for literal in rule.literals:
                        patterns[literal].append((_LITERAL, rule))
                else:
                    self.always_regex.append(rule)
            elif rule.match == "fuzzy":
                grams = _bigrams(rule.keyword)
                for gram in grams:
                    self.fuzzy[gram].append(rule)
                self.fuzzy_min[rule.rowid] = _min_shared(len(rule.keyword), len(grams), rule.spec["threshold"])
        self.exact = dict(self.exact)
        self.fuzzy = dict(self.fuzzy)
        self.automaton: ahocorasick.Automaton | None = None
        if patterns:
            automaton = ahocorasick.Automaton()
            for key, entries in patterns.items():
                automaton.add_word(key, (len(key), tuple(entries)))
            automaton.make_automaton()
            self.automaton = automaton

    def match(self, text: str, out: dict[int, Match]) -> None:
        for rule in self.exact.get(text, ()):
            out[rule.rowid] = Match(rule, text)
        regexes: dict[int, Rule] = {}
        for rule in self.always_regex:
            regexes[rule.rowid] = rule
        if self.automaton is not None and text:
            for end, (length, entries) in self.automaton.iter(text):
                for kind, rule in entries:
                    if kind == _CONTAINS:
                        if rule.rowid not in out:
                            out[rule.rowid] = Match(rule, rule.keyword)
                    elif kind == _PREFIX:
                        if end + 1 == length and rule.rowid not in out:
                            out[rule.rowid] = Match(rule, rule.keyword)
                    else:
                        regexes[rule.rowid] = rule
        if regexes:
            head = text[:REGEX_TEXT_LIMIT]
            for rule in regexes.values():
                if rule.rowid in out:
                    continue
                try:
                    # a rule gets here only with match == "regex", which always has its compiled pattern
                    m = rule.regex.search(head, timeout=self.budget)  # type: ignore[union-attr]
                except TimeoutError:
                    self.on_timeout(rule)
                    continue
                if m is not None:
                    out[rule.rowid] = Match(rule, m.group(0))
        if self.fuzzy and len(text) >= 2:
            self._fuzzy(text[:FUZZY_TEXT_LIMIT], out)

    def _fuzzy(self, text: str, out: dict[int, Match]) -> None:
        shared: dict[int, int] = defaultdict(int)
        rules: dict[int, Rule] = {}
        for gram in _bigrams(text):
            for rule in self.fuzzy.get(gram, ()):
                shared[rule.rowid] += 1
                rules[rule.rowid] = rule
        need = self.fuzzy_min
        shared = {k: n for k, n in shared.items() if n >= need[k]}
        if not shared:
            return
        best = sorted(shared, key=shared.__getitem__, reverse=True)[:MAX_FUZZY_CANDIDATES]
        for rowid in best:
            if rowid in out:
                continue
            rule = rules[rowid]
            cutoff = rule.spec["threshold"]
            if len(text) <= len(rule.keyword):
                score = fuzz.ratio(rule.keyword, text, score_cutoff=cutoff)
            else:
                score = fuzz.partial_ratio(rule.keyword, text, score_cutoff=cutoff)
            if score:
                out[rowid] = Match(rule, rule.keyword, round(score, 1))


class Matcher:
    """All enabled rules, indexed; `match(text)` returns every rule whose keyword matches."""

    def __init__(
        self, rules: list[Rule], *, budget: float = MATCH_BUDGET_SECONDS,
        on_timeout: Callable[[Rule], None] = lambda rule: None,
    ) -> None:
        self.rules = rules
        self.norm = _Side([r for r in rules if r.normalize], budget, on_timeout)
        raw = [r for r in rules if not r.normalize]
        self.raw = _Side(raw, budget, on_timeout) if raw else None

    def match(self, text: str) -> list[Match]:
        out: dict[int, Match] = {}
        self.norm.match(normalize(text), out)
        if self.raw is not None:
            self.raw.match(text, out)
        return list(out.values())
