"""Fuzzing the text paths every message takes: normaliser, lexicon, keyword matcher, FAQ
matcher and the platform parsers. No exception may escape, spans must stay inside the
original text, and no input may be catastrophically slow."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.callback_guard import MalformedXml, UnsafeXml, parse_xml
from bot.adapters.onebot_events import MalformedEvent, parse_cq, v11_event, v12_event
from intents.engine import FaqEngine
from intents.faqfile import read_file
from moderation.config import ModerationSettings
from moderation.engine import Moderator
from moderation.normalize import Normalizer
from tests.keywords_helpers import Harness

FAQ_FIXTURE = Path(__file__).parent / "fixtures" / "faq" / "faq.jsonl"

# Chinese, full-width, math alphabet, emoji, combining marks, separators: what spammers use
chat_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),
        st.characters(min_codepoint=0x1D400, max_codepoint=0x1D7FF),
        st.characters(min_codepoint=0x2460, max_codepoint=0x24FF),
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1F64F),
        st.characters(min_codepoint=0x0300, max_codepoint=0x036F),
        st.sampled_from(list("加微信VvＶ➕＋+*-_ .。,，!！?？@#[]{}()<>\\/0123456789壹贰叁①②③點com")),
        st.characters(codec="utf-8"),
    ),
    max_size=300,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    m = Moderator(ModerationSettings())
    m.load([{"id": i, "word": w, "category": "广告", "severity": 2, "action": "review"}
            for i, w in enumerate(["加微信", "刷单", "兼职日结", "傻逼", "代开发票", "VX"], 1)],
           allow_words=["微信支付"], allow_domains=["example.com"])
    return m


@pytest.fixture(scope="module")
def faq() -> FaqEngine:
    engine = FaqEngine()
    engine.load(read_file(FAQ_FIXTURE))
    return engine


@pytest.fixture(scope="module")
def normalizer():
    return Normalizer()  # ~7 ms to build: once, not per example


@FUZZ
@given(chat_text)
def test_normalizer_maps_every_span_back_inside_the_original(normalizer, text):
    normalized = normalizer(text)
    for start in range(0, len(normalized.compact), 7):
        a, b = normalized.span_from_compact(start, min(start + 3, len(normalized.compact)))
        assert 0 <= a <= b <= len(text)


@FUZZ
@given(chat_text)
def test_moderation_never_raises_and_highlights_inside_the_message(moderator, text):
    verdict = moderator.check_text(text)
    for hit in verdict.hits:
        assert 0 <= hit.start <= hit.end <= len(text)


@FUZZ
@given(chat_text)
def test_faq_matcher_never_raises_and_scores_stay_in_range(faq, text):
    match = faq.match(text)
    assert match.outcome in ("answer", "suggest", "silent")
    assert all(0 <= c.score <= 100 for c in match.candidates)


@pytest.fixture(scope="module")
def keywords(tmp_path_factory):
    rules = [
        {"keyword": "优惠券", "match": "contains", "reply": "领券 {nickname}"},
        {"keyword": "群规", "match": "exact", "reply": "群规"},
        {"keyword": "秒杀", "match": "prefix", "reply": "秒杀"},
        {"keyword": r"订单\s*\d{6,}", "match": "regex", "reply": "订单"},
        {"keyword": "怎么退款", "match": "fuzzy", "threshold": 80, "reply": "退款"},
    ]
    return Harness(tmp_path_factory.mktemp("kw"), rules)


@FUZZ
@given(chat_text)
def test_keyword_matcher_never_raises(keywords, text):
    for m in keywords.engine.match(text):
        assert m.rule is not None


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(lambda t: f"<xml>{t}</xml>")))
def test_xml_parser_refuses_cleanly(data):
    try:
        parsed = parse_xml(data)
    except (MalformedXml, UnsafeXml):
        return
    assert isinstance(parsed, dict)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=12), c, max_size=5)),
    max_leaves=15,
)
onebot_payloads = st.fixed_dictionaries(
    {"post_type": st.sampled_from(["message", "notice", "meta_event", "request", "x"]),
     "type": st.sampled_from(["message", "notice", "meta"]),
     "message_type": st.sampled_from(["group", "private", "x"]),
     "detail_type": st.sampled_from(["group", "private", "group_member_increase", "x"]),
     "notice_type": st.sampled_from(["group_increase", "group_decrease", "x"])},
    optional={"message": json_values, "group_id": json_values, "user_id": json_values,
              "message_id": json_values, "time": json_values, "sender": json_values,
              "alt_message": json_values, "self": json_values, "raw_message": json_values},
)


@FUZZ
@given(onebot_payloads)
def test_onebot_event_parsers_reject_or_translate(payload):
    for parse in (v11_event, v12_event):
        try:
            event = parse(payload, "10000")
        except MalformedEvent:
            continue  # refused with 400 over HTTP, logged over WebSocket
        assert event is None or isinstance(event.text, str)


@FUZZ
@given(st.text(max_size=300))
def test_cq_code_parser_never_raises(message):
    segments = parse_cq(message)
    assert all(isinstance(s, dict) and "type" in s for s in segments)
