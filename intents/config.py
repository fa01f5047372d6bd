"""[faq] section of config.toml."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.durations import Duration


@dataclass(frozen=True)
class FaqSettings:
    """FAQ matching: thresholds on the 0–100 score, and how the bot talks in chats."""

    enabled: bool = True
    # score >= answer_threshold (and ahead of the runner-up by answer_margin): answer
    answer_threshold: float = 70.0
    answer_margin: float = 5.0
    # suggest_threshold <= score: "您是想问：1. … 2. …"; below: stay silent
    suggest_threshold: float = 55.0
    suggest_max: int = 3
    # phrasings retrieved by BM25 before re-ranking
    candidates: int = 12
    # group chats: only messages that look like questions (question word, "?", @bot)
    group_questions_only: bool = True
    # group chats may also be told to never suggest (a list in a busy group is noise)
    group_suggest: bool = True
    # a member's "1"/"2" picks a suggestion within this time
    suggest_ttl: Duration = Duration(180)
    # "没用"/"不对" within this time after an answer marks it unhelpful
    feedback_window: Duration = Duration(300)
    feedback_words: list[str] = field(default_factory=lambda: ["没用", "不对", "答非所问", "没帮助", "不是这个"])
    feedback_reply: str = "收到，抱歉没帮上忙，已记录给管理员。"
    # entries marked "没用" on >= this share of answers (after demote_min_hits) are only suggested
    demote_unhelpful_ratio: float = 0.3
    demote_min_hits: int = 5
    mention_sender: bool = True
    log_unanswered: bool = True
    min_length: int = 2
    max_length: int = 200

    def validate(self) -> None:
        for name in ("answer_threshold", "suggest_threshold", "answer_margin"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name}: 必须在 0 到 100 之间")
        if self.suggest_threshold > self.answer_threshold:
            raise ValueError("suggest_threshold: 不能高于 answer_threshold")
        if not 1 <= self.suggest_max <= 9:
            raise ValueError("suggest_max: 必须在 1 到 9 之间")
        if not 1 <= self.candidates <= 200:
            raise ValueError("candidates: 必须在 1 到 200 之间")
        if not 0 < self.demote_unhelpful_ratio <= 1:
            raise ValueError("demote_unhelpful_ratio: 必须大于 0 且不超过 1")
        if self.min_length < 1 or self.max_length < self.min_length:
            raise ValueError("max_length: 不能小于 min_length（min_length 至少为 1）")
