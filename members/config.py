"""[[member_tags]] of config.toml: tags members get by rule, recomputed as events arrive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TagWhen = Literal["joined_group_tag", "faq_entry", "keyword_rule", "silent_days", "active_messages"]

WHEN_LABELS = {
    "joined_group_tag": "加入带此标签的群", "faq_entry": "问过此常见问题", "keyword_rule": "触发过此关键词规则",
    "silent_days": "沉默天数达到", "active_messages": "7 天内发言条数达到",
}


@dataclass(frozen=True)
class MemberTagRule:
    """One rule-based member tag (客户标签)."""

    # the tag given (1–32 characters, no spaces or separators), e.g. 活跃 or VIP
    tag: str
    # joined_group_tag: joined a group that has the group tag `value`; faq_entry: asked the FAQ
    # entry `value` (its id); keyword_rule: triggered the keyword rule `value` (its id, e.g. kw12);
    # silent_days: no message for `value` days (removed when they speak again);
    # active_messages: at least `value` messages in the last 7 days (removed when fewer)
    when: TagWhen
    # the group tag, FAQ entry id or keyword rule id; or the number of days / messages
    value: str | int

    def validate(self) -> None:
        from members.service import TAG_RE

        if not TAG_RE.match(self.tag):
            raise ValueError("tag: 1–32 个字，不能含空格、逗号、分号、顿号或竖线")
        if self.when in ("silent_days", "active_messages"):
            if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
                raise ValueError("value: 应为正整数（天数或条数）")
        elif not isinstance(self.value, str) or not self.value.strip():
            raise ValueError("value: 应为非空字符串（群标签、常见问题编号或关键词规则编号）")
