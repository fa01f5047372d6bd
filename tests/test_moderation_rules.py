"""Lexicon with allowlist, and each rule beyond words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.kernel.events import ChatKind, Event
from moderation.config import ModerationSettings, NormalizeSettings, RuleSettings
from moderation.engine import Moderator

WORDS = [
    {"id": 1, "word": "傻逼", "category": "辱骂"},
    {"id": 2, "word": "一夜情", "category": "色情"},
    {"id": 3, "word": "代开发票", "category": "广告", "action": "kick"},
    {"id": 4, "word": "黄金", "category": "赌博"},
]


def make(rules: RuleSettings | None = None, allow=(), domains=(), **norm) -> Moderator:
    m = Moderator(ModerationSettings(rules=rules or RuleSettings(), normalize=NormalizeSettings(**norm)))
    m.load(WORDS, list(allow), list(domains))
    return m


def event(text: str, sender: str = "u1", attachments=None, chat: str = "g1") -> Event:
    return Event("sim", chat, ChatKind.GROUP, sender, sender, "m1", datetime(2026, 1, 1, tzinfo=UTC), text,
                 attachments=attachments or [])


def rules_of(m: Moderator, text: str, **kw) -> list[str]:
    return [h.rule for h in m.inspect(event(text, **kw), 0.0, record=False).hits]


def test_listed_word_is_found_and_highlighted_as_written():
    m = make()
    v = m.check_text("你这个傻~逼")
    assert [(h.word, h.category) for h in v.hits] == [("傻逼", "辱骂")]
    h = v.hits[0]
    assert "你这个傻~逼"[h.start:h.end] == "傻~逼"


def test_allowlisted_word_suppresses_hit_inside_it():
    m = make(allow=["黄金时代奶粉"])
    assert m.check_text("推荐黄金时代奶粉").hits == []
    assert [h.word for h in m.check_text("来玩黄金赌局").hits] == ["黄金"]


def test_word_action_overrides_category_action():
    m = make()
    assert m.check_text("可以代开发票").action == "kick"
    assert m.check_text("傻逼").action == "strike"


def test_one_character_words_are_not_compiled():
    m = Moderator(ModerationSettings())
    m.load([{"word": "草", "category": "辱骂"}])
    assert m.compiled.lexicon.skipped == ["草"]
    assert m.check_text("草莓").hits == []


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("看这里 http://bad.example.net/x", "link"),
        ("网址 abc點com 速来", "link"),
        ("电话 138 1234 5678", "phone"),
        ("加-V：sx111505", "wechat"),
        ("微信号 abc_12345", "wechat"),
        ("QQ 12345678", "qq"),
        ("有需要的加我", "solicit"),
    ],
)
def test_text_rules_find_contacts_and_links(text, rule):
    assert rule in rules_of(make(), text)


def test_allowed_domain_is_not_a_link_hit():
    m = make(domains=["example.com"])
    assert rules_of(m, "官网 https://shop.example.com/item") == []
    assert rules_of(m, "官网 https://example.org/item") == ["link"]


def test_innocent_numbers_are_not_phones():
    assert rules_of(make(), "订单号 2024112312345678，金额 138 元") == []


@pytest.mark.parametrize("kind", ["qrcode", "miniprogram", "card"])
def test_shares_reported_by_adapter_are_flagged(kind):
    assert rules_of(make(), "", attachments=[kind]) == [kind]


def test_same_text_repeated_by_one_member_is_flooding():
    m = make(RuleSettings(flood_repeats=3, rate=False))
    e = event("快来看看我的新店开业啦")
    assert m.inspect(e, 0.0).hits == []
    assert m.inspect(e, 1.0).hits == []
    assert [h.rule for h in m.inspect(e, 2.0).hits] == ["flood"]
    # outside the window it starts again
    assert m.inspect(e, 500.0).hits == []


def test_same_text_across_members_is_flooding():
    m = make(RuleSettings(flood_members=3, rate=False))
    for i, sender in enumerate(["a", "b"]):
        assert m.inspect(event("复制这段话转发领红包", sender), float(i)).hits == []
    assert [h.rule for h in m.inspect(event("复制这段话转发领红包", "c"), 2.0).hits] == ["flood"]


def test_too_many_messages_per_member_trip_rate_rule():
    m = make(RuleSettings(rate_limit=5, rate_window=60, flood=False))
    hits = [m.inspect(event(f"消息{i}"), float(i)).hits for i in range(6)]
    assert all(not h for h in hits[:5])
    assert [h.rule for h in hits[5]] == ["rate"]
    assert m.inspect(event("later"), 200.0).hits == []


def test_dry_run_does_not_count_toward_rate():
    m = make(RuleSettings(rate_limit=2, flood=False))
    for _ in range(5):
        assert m.inspect(event("hi"), 0.0, record=False).hits == []


def test_homophones_are_caught_by_default_and_can_be_switched_off():
    # issue 22: homophones are on by default (they were opt-in before)
    m = Moderator(ModerationSettings(normalize=NormalizeSettings(pinyin=False)))
    m.load([{"word": "微信", "category": "广告"}])
    assert m.check_text("加我威信").hits and "solicit" in [h.rule for h in m.check_text("加我威信").hits]
    assert [h.rule for h in m.check_text("我的薇信").hits if h.rule in ("word", "pinyin")] == []
    p = Moderator(ModerationSettings())
    p.load([{"word": "微信", "category": "广告"}])
    hits = [h for h in p.check_text("我的薇信").hits if h.rule == "pinyin"]
    assert [(h.word, h.start, h.end, h.technique) for h in hits] == [("微信", 2, 4, "谐音")]


def test_large_lexicon_matches_long_message_quickly():
    import time

    m = Moderator(ModerationSettings())
    m.load([{"word": f"违禁词{i:05d}", "category": "其他"} for i in range(20_000)])
    text = "正常聊天内容" * 17_000  # ~100 KB
    started = time.perf_counter()
    m.check_text(text)
    assert time.perf_counter() - started < 0.5


def test_pinyin_sound_alike_cutting_through_a_real_word_is_ignored():
    p = Moderator(ModerationSettings(normalize=NormalizeSettings(pinyin=True)))
    p.load([{"word": "傻逼", "category": "辱骂"}])
    assert [h.rule for h in p.check_text("你个傻比").hits] == ["pinyin"]
    assert p.check_text("今晚啥比赛好看").hits == []


def test_obfuscated_link_name_is_tried_only_where_a_run_of_name_characters_starts():
    # the linear-time property: "aaaa…a点x" (a member's 4,000 characters) is tried once per run,
    # not once per position (quadratic: 150 ms a message); matches stay the same
    from moderation.rules import OBFUSCATED_LINK_RE

    assert OBFUSCATED_LINK_RE.match("abc点com", 1) is None
    found = [m.groups() for m in OBFUSCATED_LINK_RE.finditer("xyzdotcom和foo-bar句号cn，中文abc点cn")]
    assert found == [("xyz", "com"), ("foo-bar", "cn"), ("abc", "cn")]
