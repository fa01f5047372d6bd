"""Each normalisation step, switchable, and the map back to what the member wrote."""

from __future__ import annotations

import pytest

from moderation.config import NormalizeSettings
from moderation.normalize import Normalizer


def norm(text: str, **switches) -> str:
    return Normalizer(NormalizeSettings(**switches))(text).folded


@pytest.mark.parametrize(
    ("step", "text", "expected"),
    [
        ("fullwidth", "ＶＸ１２３", "vx123"),
        ("traditional", "發財微信號", "发财微信号"),
        ("casefold", "WeiXin", "weixin"),
        ("noise", "傻*逼 微 信 加-V", "傻逼微信加v"),
        ("variants", "①②𝟙𝐀❶ⓥ", "121a1v"),
        ("chinese_numerals", "壹贰叁一二三", "123123"),
        ("repeats", "傻傻傻逼", "傻逼"),
    ],
)
def test_each_step_changes_text_only_when_switched_on(step, text, expected):
    assert norm(text) == expected
    off = norm(text, **{step: False})
    assert off != expected


def test_confusables_apply_only_where_configured():
    assert norm("QQ:OO7") == "qq:oo7".replace(":", "")
    assert norm("QQ:OO7", confusables={"o": "0"}) == "qq007"


def test_plus_sign_reads_as_jia():
    assert norm("➕V") == "加v"
    assert norm("+V") == "加v"


def test_repeated_digits_are_kept_for_phone_numbers():
    assert norm("13888888888") == "13888888888"


def test_math_alphabet_letters_become_ascii():
    assert norm("𝐓𝐌２９７１") == "tm2971"
    assert norm("𝕏𝘏𝘾593") == "xhc593"


def test_spans_map_back_to_original_text_through_noise_and_repeats():
    n = Normalizer()
    text = "你好，傻 傻 傻*逼！"
    result = n(text)
    start = result.folded.index("傻逼")
    a, b = result.span_from_folded(start, start + 2)
    assert text[a:b] == "傻 傻 傻*逼"


def test_span_is_identity_for_clean_text():
    result = Normalizer()("加我微信")
    assert result.span_from_folded(2, 4) == (2, 4)


def test_hundred_kilobyte_message_is_fast():
    import time

    n = Normalizer()
    text = ("正常聊天内容，大家好！" * 10_000)[:100_000]
    started = time.perf_counter()
    n(text)
    assert time.perf_counter() - started < 0.5
