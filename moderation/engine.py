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
from moderation.config import ACTION_RANK, ModerationSettings
from moderation.lexicon import Lexicon
from moderation.normalize import Normalized, Normalizer
from moderation.pinyin import PinyinMatcher
from moderation.rules import RULE_LABELS, RuleHit, TextRules, Traffic
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

    def as_dict(self) -> dict[str, Any]:
        d = {"rule": self.rule, "category": self.category, "action": self.action,
             "start": self.start, "end": self.end, "word": self.word, "severity": self.severity}
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
        lexicon = Lexicon(self.normalizer, words, allow_words, category_action=s.category_action)
        rules = TextRules(s.rules, [*s.rules.allowed_domains, *allow_domains])
        pinyin = PinyinMatcher(lexicon) if s.normalize.pinyin else None
        return Compiled(self.normalizer, lexicon, rules, pinyin, spam)

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
            word_hits, triggered = c.lexicon.scan(folded)
            for wh in word_hits:
                a, b = norm.span_from_folded(wh.start, wh.end)
                e = wh.entry
                hits.append(Hit("word", e.category, e.action, a, b, e.word, e.severity, e.id))
            if c.pinyin is not None:
                hits.extend(c.pinyin.hits(norm, c.lexicon))
            rule_hits = c.rules.check(norm, triggered)
            if rule_hits:
                hits.extend(map(_rule_hit, rule_hits))
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
    return Hit(rh.rule, rh.label, rh.action, rh.start, rh.end, rh.detail, 2)
