"""Per-group / per-tag moderation policies ([[moderation.policies]] in config.toml).

A policy overrides, for the groups it names or the groups carrying one of its tags, the
category actions and the strike ladder (e.g. 售后群 more lenient, VIP群 warn only), and holds
the group's member rules: probation after joining, mute on entry until a confirmation
phrase, how join requests are answered, and curfew (全员禁言) windows. The first matching
policy wins; a group no policy names follows the global [moderation] settings.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bot.kernel.durations import Duration

# the module, not its names: moderation.config imports this module while it loads
from moderation import config as _config

if TYPE_CHECKING:
    from moderation.config import ModerationSettings
    from moderation.engine import Hit

PROBATION_KINDS = ("link", "image", "card", "qrcode", "miniprogram")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_window(text: str) -> tuple[int, int]:
    """"23:00-07:00" as (start minute, end minute) of the day; may wrap past midnight."""
    m = _WINDOW.match(text.strip())
    if not m or text.strip()[:5] == text.strip()[6:]:
        raise ValueError(f"时间段 {text!r} 应写成 \"HH:MM-HH:MM\"（开始和结束不能相同）")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    return h1 * 60 + m1, h2 * 60 + m2


@dataclass(frozen=True)
class PolicySettings:
    """One [[moderation.policies]] entry: which groups it covers and what it changes there."""

    # shown in the moderation trace ("按“售后群”策略")
    name: str = ""
    # chat ids or names of the groups it covers
    groups: list[str] = field(default_factory=list)
    # group tags it covers (a group with any of these tags)
    tags: list[str] = field(default_factory=list)
    # action per lexicon category in these groups, overriding [moderation].categories and the words' own actions
    categories: dict[str, str] = field(default_factory=dict)
    # the strike ladder in these groups (empty: the global one)
    ladder: list[str] = field(default_factory=list)
    # the strongest action taken in these groups (e.g. "warn": warn only); "" for no cap
    max_action: str = ""
    # new-member probation: this long after joining, links, images, cards, QR codes and
    # mini-programs are held ("0": no probation)
    probation: Duration = Duration(0)
    # what probation does with such a message: review (hold for a moderator) or recall
    probation_action: Literal["review", "recall"] = "review"
    # the kinds probation covers: link, image, card, qrcode, miniprogram
    probation_kinds: list[str] = field(default_factory=lambda: list(PROBATION_KINDS))
    # mute a member on entry until they send confirm_phrase (needs confirm_phrase; "0": off)
    entry_mute: Duration = Duration(0)
    # the phrase that lifts the entry mute, sent in the group or privately to the bot (e.g. 我已阅读群规)
    confirm_phrase: str = ""
    # join requests: the answer must contain one of these words, else the request is refused
    # (empty: no keyword needed)
    join_keywords: list[str] = field(default_factory=list)
    # join requests that pass the checks: approve, or review (held in the console's queue)
    join_default: Literal["approve", "review"] = "review"
    # reason sent with a refused join request
    join_refuse_reason: str = "验证信息不符合入群要求"
    # curfew (全员禁言) windows in the bot's timezone, e.g. ["23:00-07:00"]
    curfew: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if not self.groups and not self.tags:
            raise ValueError("groups: 策略至少要指定 groups 或 tags 之一")
        for category, action in self.categories.items():
            _config.check_action(action, f"categories.{category}")
        if self.max_action:
            _config.check_action(self.max_action, "max_action")
        for i, step in enumerate(self.ladder):
            try:
                _config.parse_step(step)
            except ValueError as exc:
                raise ValueError(f"ladder[{i}]: {exc}") from None
        for kind in self.probation_kinds:
            if kind not in PROBATION_KINDS:
                raise ValueError(f"probation_kinds: 未知类型 {kind!r}（可用：{'、'.join(PROBATION_KINDS)}）")
        if float(self.entry_mute) and not self.confirm_phrase.strip():
            raise ValueError("confirm_phrase: entry_mute 需要同时设置确认口令")
        for i, window in enumerate(self.curfew):
            try:
                parse_window(window)
            except ValueError as exc:
                raise ValueError(f"curfew[{i}]: {exc}") from None

    @property
    def label(self) -> str:
        return self.name or "、".join(self.groups + self.tags)

    def covers(self, chat_id: str, chat_name: str, chat_tags: list[str]) -> bool:
        return chat_id in self.groups or (bool(chat_name) and chat_name in self.groups) or bool(
            set(self.tags) & set(chat_tags))


def policy_for(policies: list[PolicySettings], chat_id: str, chat_name: str,
               chat_tags: list[str]) -> PolicySettings | None:
    """The first policy covering the group, or None."""
    for policy in policies:
        if policy.covers(chat_id, chat_name, chat_tags):
            return policy
    return None


def effective_settings(settings: ModerationSettings, policy: PolicySettings | None) -> ModerationSettings:
    """The settings `plan()` uses in a group: the policy's ladder instead of the global one."""
    if policy is None or not policy.ladder:
        return settings
    return dataclasses.replace(settings, ladder=list(policy.ladder))


def adjust_hits(hits: list[Hit], policy: PolicySettings | None) -> bool:
    """Apply the policy's category overrides and its cap to each hit's action; True if any changed."""
    if policy is None:
        return False
    changed = False
    for hit in hits:
        action = policy.categories.get(hit.category, hit.action)
        if policy.max_action and _config.ACTION_RANK[action] > _config.ACTION_RANK[policy.max_action]:
            action = policy.max_action
        if action != hit.action:
            hit.action, changed = action, True
    return changed
