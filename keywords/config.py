"""[[keywords]] and [[welcome]] tables of config.toml.

Every field is checked at load by the same validation the console and the importer use
(`rules.clean_rule`), so a bad regex or time window stops start-up naming `keywords[3].active`.
The slow-regex measurement runs once for all config rules at load too (`bot.config`), so
`check-config` refuses what `run` refuses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.durations import Duration

MatchMode = Literal["exact", "contains", "prefix", "regex", "fuzzy"]


class _SpecChecked:
    """Config tables validated by building their cleaned spec (errors name the key)."""

    def spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def validate(self) -> None:
        from keywords.rules import RuleError

        try:
            self.spec()
        except RuleError as exc:
            name, reason = next(iter(exc.errors.items()))
            raise ValueError(f"{name}: {reason}") from None


@dataclass(frozen=True)
class KeywordRuleConfig(_SpecChecked):
    """One auto-reply rule; the same field names are used by CSV/JSON import and export."""

    keyword: str
    match: MatchMode = "contains"
    reply: str = ""
    replies: list[str] = field(default_factory=list)
    # chat ids or names; empty = not restricted
    groups: list[str] = field(default_factory=list)
    # chat tags (学生/宝妈/上班族/VIP …); empty = not restricted
    tags: list[str] = field(default_factory=list)
    scope: Literal["all", "group", "private", "mention"] = "all"
    priority: int = 0
    # per rule per chat, and per rule per member
    cooldown: Duration = Duration(0)
    member_cooldown: Duration = Duration(0)
    # fuzzy rules: minimum similarity 1–100
    threshold: float = 80.0
    # "19:00-23:00", several separated by commas; empty = all day
    active: str = ""
    # "2026-11-01..2026-11-11", inclusive, either end may be empty
    dates: str = ""
    mode: Literal["random", "round_robin"] = "random"
    kind: Literal["text", "link", "image"] = "text"
    url: str = ""
    title: str = ""
    image: str = ""
    # answer the sender privately instead of in the group
    private: bool = False
    # ignore case, full/half width and outer spaces/punctuation (default)
    normalize: bool = True
    enabled: bool = True
    # stable id; derived from keyword/match/scope/groups/tags when empty
    id: str = ""

    def spec(self) -> dict[str, Any]:
        """The cleaned rule spec (raises RuleError)."""
        from keywords.rules import clean_rule, config_id

        spec = clean_rule({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if not spec["id"]:
            spec["id"] = config_id(spec)
        return spec



@dataclass(frozen=True)
class WelcomeConfig(_SpecChecked):
    """A welcome message for new members of the listed groups / tagged groups (all groups when both empty)."""

    text: str
    groups: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    # joins within this window after the first one are welcomed together in one message
    window: Duration = Duration(10)
    enabled: bool = True
    id: str = ""

    def spec(self) -> dict[str, Any]:
        from keywords.welcome import clean_welcome, welcome_config_id

        spec = clean_welcome({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if not spec["id"]:
            spec["id"] = welcome_config_id(spec)
        return spec

