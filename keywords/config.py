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

from bot.kernel.durations import Duration

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
            problems = [ValueError(f"{name}: {reason}") for name, reason in exc.errors.items()]
            if len(problems) == 1:
                raise problems[0] from None
            raise ExceptionGroup("rule", problems) from None  # the loader reports each field


@dataclass(frozen=True)
class KeywordRuleConfig(_SpecChecked):
    """One auto-reply rule; the same field names are used by CSV/JSON import and export."""

    # the word, phrase or regular expression to look for (at most 200 characters)
    keyword: str
    # exact: whole message; prefix: starts with it; contains: anywhere; regex: re.search;
    # fuzzy: rapidfuzz similarity >= threshold
    match: MatchMode = "contains"
    # the reply text; {nickname}, {group}, {date}, {time}, {weekday} are filled in ({{ }} for braces)
    reply: str = ""
    # several reply variants (with `reply`, all are variants); one is needed unless kind = "image"
    replies: list[str] = field(default_factory=list)
    # chat ids or names; empty = not restricted
    groups: list[str] = field(default_factory=list)
    # chat tags (学生/宝妈/上班族/VIP …); empty = not restricted
    tags: list[str] = field(default_factory=list)
    # all; group: group chats only; private: 1:1 only; mention: in groups only when @bot
    scope: Literal["all", "group", "private", "mention"] = "all"
    # when several rules match, the highest wins (-1000 … 1000)
    priority: int = 0
    # do not answer from this rule again in the same chat within this time; "0" = no cooldown
    cooldown: Duration = Duration(0)
    # do not answer the same member again from this rule in the same chat within this time
    member_cooldown: Duration = Duration(0)
    # fuzzy rules: minimum similarity 1–100
    threshold: float = 80.0
    # "19:00-23:00" in [bot] timezone, several separated by commas; may cross midnight; empty = all day
    active: str = ""
    # "2026-11-01..2026-11-11", inclusive, either end may be empty
    dates: str = ""
    # how a variant is picked: random, or round_robin (in turn, per chat)
    mode: Literal["random", "round_robin"] = "random"
    # text; link: a link card (needs url); image: an image (needs image); platforms that cannot
    # show cards or images get the text plus the link
    kind: Literal["text", "link", "image"] = "text"
    # link cards: the http:// or https:// address the card opens
    url: str = ""
    # link cards: the card's title (placeholders allowed); empty: the reply's first line
    title: str = ""
    # image replies: the image's http:// or https:// address
    image: str = ""
    # answer the sender privately instead of in the group
    private: bool = False
    # ignore case, full/half width and outer spaces/punctuation (default)
    normalize: bool = True
    # false keeps the rule but never answers with it
    enabled: bool = True
    # stable id; derived from keyword/match/scope/groups/tags when empty
    id: str = ""
    # member tags (客户标签, e.g. VIP): only senders with one of them get this answer; empty = anyone
    member_tags: list[str] = field(default_factory=list)

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

    # the welcome; {nickname} (all names of the window), {count}, {group}, {date}, {time}, {weekday}
    text: str
    # chat ids or names this welcome is for; the most specific welcome wins (groups, then tags)
    groups: list[str] = field(default_factory=list)
    # chat tags this welcome is for; both empty: every group without a more specific welcome
    tags: list[str] = field(default_factory=list)
    # joins within this window after the first one are welcomed together in one message
    window: Duration = Duration(10)
    # false keeps the welcome but never sends it
    enabled: bool = True
    # stable id; derived from groups/tags when empty
    id: str = ""
    # member tags (客户标签, e.g. VIP): only joining members with one of them get this welcome, and
    # they get it before a welcome for everybody on the same level; empty = anyone
    member_tags: list[str] = field(default_factory=list)

    def spec(self) -> dict[str, Any]:
        from keywords.welcome import clean_welcome, welcome_config_id

        spec = clean_welcome({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if not spec["id"]:
            spec["id"] = welcome_config_id(spec)
        return spec

