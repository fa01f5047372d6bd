"""The moderation engine: normalise, match lexicon and rules, score — synchronous and fast.

`Moderator.inspect` is the hot path (no I/O); the pipeline stage turns its verdict into actions,
strikes and review-queue entries. `reload()` rebuilds the compiled state from the store and swaps
it in one assignment, so edits take effect without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.kernel.events import ChatKind, Event
from moderation import emoji
from moderation import words as dictwords
from moderation.chaizi import TECHNIQUE as CHAIZI
from moderation.chaizi import Composer
from moderation.chaizi import table as chaizi_table
from moderation.config import ACTION_RANK, ModerationSettings
from moderation.context import has_signal
from moderation.lexicon import Lexicon
from moderation.normalize import Normalized, Normalizer, lookalike_codepoints
from moderation.pinyin import LATIN_PROBE, Candidate, PinyinMatcher, crosses_a_word
from moderation.rules import CONTACT_RE, RULE_LABELS, RuleHit, TextRules, Traffic
from moderation.spam import SpamModel, train

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("qunbot.moderation")


@dataclass(slots=True)
class Hit:
    """One reason to act on a message, with the span the member wrote."""

    rule: str  # "word", "pinyin", "link", "phone", … "spam_score"
    category: str  # lexicon category or the rule's zh-CN label
    action: str
    start: int = 0
    end: int = 0
    word: str = ""  # the listed word, or what the rule found
    severity: int = 2
    entry_id: int = 0
    score: float | None = None
    # zh-CN name of the evasion seen through: 谐音, 拼音, 拆字, 形近字, 表情替字, 拆分联系方式
    technique: str = ""

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rule": self.rule, "category": self.category, "action": self.action,
                             "start": self.start, "end": self.end, "word": self.word, "severity": self.severity}
        if self.technique:
            d["technique"] = self.technique
        if self.entry_id:
            d["entry_id"] = self.entry_id
        if self.score is not None:
            d["score"] = round(self.score, 4)
        return d


@dataclass(slots=True)
class Verdict:
    norm: Normalized
    hits: list[Hit] = field(default_factory=list)

    @property
    def action(self) -> str:
        return max((h.action for h in self.hits), key=ACTION_RANK.__getitem__, default="allow")

    @property
    def top(self) -> Hit | None:
        if not self.hits:
            return None
        return max(self.hits, key=lambda h: (ACTION_RANK[h.action], h.severity))


@dataclass(slots=True)
class Compiled:
    """Everything derived from settings + store, swapped atomically on reload."""

    normalizer: Normalizer
    lexicon: Lexicon
    rules: TextRules
    pinyin: PinyinMatcher | None = None
    spam: SpamModel | None = None
    composer: Composer | None = None
    # dictionary words that contain a listed word but mean something else (大麻袋)
    superstrings: frozenset[str] | None = None


class Moderator:
    """Compiled lexicon, rules and spam model; `inspect` one message at a time."""

    def __init__(self, settings: ModerationSettings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store
        self.traffic = Traffic(settings.rules)
        self.normalizer = Normalizer(settings.normalize)
        self.compiled = self.compile([], [], [])
        # called after each reload (the stage refreshes its moderator list)
        self.on_reload: Callable[[], None] | None = None
        # the store's change counter at the last reload (CLI edits bump it)
        self.version = -1

    # -- building -------------------------------------------------------------------

    def compile(self, words: list[dict[str, Any]], allow_words: list[str], allow_domains: list[str],
                spam: SpamModel | None = None) -> Compiled:
        s = self.settings
        n = s.normalize
        lexicon = Lexicon(self.normalizer, words, allow_words, category_action=s.category_action,
                          homophones=n.pinyin or n.latin_pinyin, compose=chaizi_table if n.chaizi else None)
        rules = TextRules(s.rules, [*s.rules.allowed_domains, *allow_domains])
        pinyin = None
        if n.pinyin or n.latin_pinyin:
            pinyin = PinyinMatcher(lexicon, latin=n.latin_pinyin, homophones=n.pinyin)
        composer = Composer(lexicon) if lexicon.compose else None
        superstrings = None
        if n.superstrings and lexicon.size:
            superstrings = dictwords.innocent_superstrings(lexicon.literal_spans) - lexicon.allow_keys
        return Compiled(self.normalizer, lexicon, rules, pinyin, spam, composer, superstrings)

    def load(self, words: list[dict[str, Any]], allow_words: Sequence[str] = (), allow_domains: Sequence[str] = (),
             spam: SpamModel | None = None) -> None:
        self.compiled = self.compile(list(words), list(allow_words), list(allow_domains), spam)

    def reload(self) -> dict[str, int]:
        """Rebuild from the store (lexicon, allowlists, spam samples); safe to call any time."""
        if self.store is None:
            return {"words": self.compiled.lexicon.size}
        repo = self.store.lexicon
        spam, samples = None, []
        with self.store.reading():  # a read-only connection: never holds up the writer
            self.version = repo.version()
            words = repo.list_words(enabled_only=True)
            allow = repo.list_allow()
            if self.settings.rules.spam_score:
                samples = repo.spam_samples()
        if self.settings.rules.spam_score:
            spam = train([(self.normalizer(t).compact, y) for t, y in samples],
                         self.settings.rules.spam_threshold, [t for t, _ in samples])
        compiled = self.compile(
            words, [a["value"] for a in allow if a["kind"] == "word"],
            [a["value"] for a in allow if a["kind"] == "domain"], spam,
        )
        self.compiled = compiled
        if self.on_reload is not None:
            self.on_reload()
        log.info("moderation reloaded: %d words, %d skipped", compiled.lexicon.size, len(compiled.lexicon.skipped))
        return {"words": compiled.lexicon.size, "skipped": len(compiled.lexicon.skipped),
                "allow": len(allow), "spam_samples": spam.samples if spam else 0}

    # -- the hot path -----------------------------------------------------------------

    def inspect(self, event: Event, now: float, *, record: bool = True, traffic: bool = True) -> Verdict:
        """Every reason to act on this message (empty hits for a clean one)."""
        c = self.compiled
        norm = c.normalizer(event.text)
        verdict = Verdict(norm)
        hits = verdict.hits
        folded = norm.folded
        if folded:
            scan = c.lexicon.scan_all(folded)
            word_hits, triggered = scan.hits, scan.triggered
            if word_hits and c.superstrings is not None:
                word_hits = _not_superstrings(word_hits, folded, c.superstrings)
            for wh in word_hits:
                a, b = norm.span_from_folded(wh.start, wh.end)
                e = wh.entry
                hits.append(Hit("word", e.category, e.action, a, b, e.word, e.severity, e.id,
                                technique=_lookalike(norm.original, a, b)))
            weak: list[Candidate] = []
            if c.pinyin is not None and (scan.homophones or LATIN_PROBE.search(folded) is not None):
                for cand in c.pinyin.candidates(norm, scan.homophones):
                    if cand.needs_signal:
                        weak.append(cand)
                    else:
                        hits.append(_sound_hit(cand))
            if c.composer is not None and scan.composable:
                for wh, a, b in c.composer.hits(norm, c.lexicon):
                    e = wh.entry
                    hits.append(Hit("word", e.category, e.action, a, b, e.word, e.severity, e.id, technique=CHAIZI))
            rule_hits = c.rules.check(norm, triggered)
            for rh in rule_hits:
                rule_hit = _rule_hit(rh)
                if not rule_hit.technique and rule_hit.end > rule_hit.start:
                    rule_hit.technique = _lookalike(event.text, rule_hit.start, rule_hit.end)  # ⑴⑶⑻…, 𝐰𝐱
                hits.append(rule_hit)
            # emoji are noise: a message that lost no character to noise has none
            if (self.settings.normalize.emoji_chars and len(norm.compact) != len(event.text)
                    and not emoji.CHARS.isdisjoint(event.text)):
                hits.extend(self._emoji(c, norm, weak))
            if weak:
                hits.extend(_sound_hit(w) for w in self._confirmed(c, norm, hits, weak))
        if event.attachments:
            hits.extend(map(_rule_hit, c.rules.attachments(event.attachments)))
        if traffic:
            rule_hits = self.traffic.check(event.session_key, event.sender_id, folded, now, record)
            if rule_hits:
                hits.extend(map(_rule_hit, rule_hits))
        if c.spam is not None and not hits and len(norm.compact) >= 4:
            hit = self._spam(c.spam, norm, event.text)
            if hit is not None:
                hits.append(hit)
        return verdict

    def _confirmed(self, c: Compiled, norm: Normalized, hits: list[Hit], weak: list[Candidate]) -> list[Candidate]:
        """Weak matches with a second signal: a contact or link hit, an invitation or money pattern,
        the spam score, or another listed word of the same category (a noisy list's 客服 does not
        make 没有 ≈ 美幼 a hit)."""
        spam_p = c.spam.probability(norm.compact) if c.spam is not None else None
        if not has_signal(norm.compact, sum(1 for h in hits if h.rule not in _WORD_RULES), spam_p):
            categories = {h.category for h in hits if h.rule in _WORD_RULES}
            weak = [w for w in weak if w.entry.category in categories]
        return [w for w in weak if not crosses_a_word(norm.folded, w)]

    def _emoji(self, c: Compiled, norm: Normalized, weak: list[Candidate]) -> list[Hit]:
        """Hits that need an emoji read as its character, inside a word or a contact channel."""
        text, units = emoji.view(norm.original, c.normalizer.compact_table)
        out: list[Hit] = []

        def inside(a: int, b: int) -> bool:
            span = units[a:b]
            return any(u[1] for u in span) and not all(u[1] for u in span)

        found = c.lexicon.scan_all(text)
        for wh in found.hits:
            if inside(wh.start, wh.end):
                e = wh.entry
                out.append(Hit("word", e.category, e.action, units[wh.start][0], units[wh.end - 1][0] + 1,
                               e.word, e.severity, e.id, technique=emoji.TECHNIQUE))
        if c.pinyin is not None and c.pinyin.homophones:
            bounds = None
            for wh in found.homophones:
                a, b = wh.start, wh.end
                if not inside(a, b):
                    continue
                bounds = bounds if bounds is not None else dictwords.tokens(text)
                if dictwords.crossing(bounds, text, a, b, common_only=False):
                    continue
                cand = Candidate(wh.entry, units[a][0], units[b - 1][0] + 1, emoji.TECHNIQUE,
                                 text[a:b] in dictwords.common_words())
                if cand.needs_signal:
                    weak.append(cand)
                else:
                    out.append(_sound_hit(cand))
        s = self.settings.rules
        if s.wechat:
            for m in CONTACT_RE.finditer(text):
                if m.lastgroup != "solicit" and inside(*m.span()):
                    rule = "wechat" if m.group("wechat") else "qq"
                    out.append(Hit(rule, RULE_LABELS[rule], s.wechat_action, units[m.start()][0],
                                   units[m.end() - 1][0] + 1, m.group(), 2, technique=emoji.TECHNIQUE))
        return out

    def _spam(self, model: SpamModel, norm: Normalized, text: str) -> Hit | None:
        p = model.probability(norm.compact, text)
        if p < self.settings.rules.spam_threshold:
            return None
        action = self.settings.rules.spam_action
        if ACTION_RANK[action] > ACTION_RANK["review"] and not model.may_punish():
            action = "review"
        return Hit("spam_score", RULE_LABELS["spam_score"], action, 0, len(text), "", 1, score=p)

    def check_text(self, text: str) -> Verdict:
        """Match a bare text (CLI `check`, evaluation, console preview): no traffic rules, no state."""
        event = Event("check", "check", ChatKind.GROUP, "check", "", "check", _EPOCH, text)
        return self.inspect(event, 0.0, record=False, traffic=False)


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _rule_hit(rh: RuleHit) -> Hit:
    return Hit(rh.rule, rh.label, rh.action, rh.start, rh.end, rh.detail, 2, technique=rh.technique)


def _sound_hit(cand: Candidate) -> Hit:
    e = cand.entry
    rule = "pinyin" if cand.technique == "谐音" else ("latin" if cand.technique == "拼音" else "word")
    return Hit(rule, e.category, e.action, cand.start, cand.end, e.word, e.severity, e.id, technique=cand.technique)


_WORD_RULES = frozenset({"word", "pinyin", "latin"})
_LOOKALIKES: frozenset[int] | None = None


def _lookalike(original: str, a: int, b: int) -> str:
    """形近字 when the member wrote the word with look-alike characters (⼤⿇, 𝐰𝐱)."""
    global _LOOKALIKES
    if _LOOKALIKES is None:
        _LOOKALIKES = lookalike_codepoints()
    return "形近字" if any(ord(ch) in _LOOKALIKES for ch in original[a:b]) else ""


def _not_superstrings(hits: list[Any], folded: str, superstrings: frozenset[str]) -> list[Any]:
    """Drop hits inside an everyday longer word: one the segmenter cuts through with a common word
    (大|麻雀) or a dictionary word known to contain the listed word innocently (大麻袋). The
    segmenter only runs when some common word straddles a hit at all (string lookups first)."""
    common = dictwords.common_words()
    bounds: list[tuple[int, int]] | None = None
    kept = []
    n = len(folded)
    for h in hits:
        a, b = h.start, h.end
        if any(folded[x:y] in superstrings for x in range(max(0, a - 4), a + 1)
               for y in range(b, min(n, x + 6) + 1) if y - x > b - a):
            continue
        if dictwords.straddled(folded, a, b, common):
            bounds = bounds if bounds is not None else dictwords.tokens(folded)
            if dictwords.crossing(bounds, folded, a, b, common_only=True):
                continue
        kept.append(h)
    return kept
