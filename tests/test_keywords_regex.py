"""Regex rules: refused when they do not compile, match nothing, or are catastrophically slow."""

from __future__ import annotations

import pytest

from keywords.manage import validate_rule, validate_rules
from keywords.regexcheck import check_patterns, required_literal, required_literals
from keywords.rules import RuleError


@pytest.mark.parametrize("pattern", [
    r"(a+)+$",
    r"(\w+\s?)+$",
    r"(a|aa)+$",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r".*.*.*=.*x",
])
def test_catastrophic_regex_is_rejected_when_saved(pattern):
    with pytest.raises(RuleError) as info:
        validate_rule({"keyword": pattern, "match": "regex", "reply": "x"})
    assert "过慢" in info.value.errors["keyword"]


@pytest.mark.parametrize("pattern", [
    r"^(\d+)-(\d+)$", "优惠券|红包", r"(\d+,)*\d+元", r"价格.*多少", r"[\w.]+@qq\.com", r"订单\s*\d{6,}",
])
def test_ordinary_regex_is_accepted(pattern):
    assert validate_rule({"keyword": pattern, "match": "regex", "reply": "x"})["keyword"] == pattern


@pytest.mark.parametrize(("pattern", "message"), [
    ("(订单", "无法编译"),
    ("a*", "空内容"),
    ("x" * 400, "太长"),
])
def test_broken_regex_gets_a_clear_message(pattern, message):
    with pytest.raises(RuleError) as info:
        validate_rule({"keyword": pattern, "match": "regex", "reply": "x"})
    assert message in info.value.errors["keyword"]


def test_a_batch_is_checked_in_one_go_and_each_bad_pattern_named():
    rows = [{"keyword": p, "match": "regex", "reply": "x"} for p in ("ok\\d", r"(a+)+$", "fine", r"(a|aa)+$")]
    results = validate_rules(rows)
    assert [isinstance(r, RuleError) for r in results] == [False, True, False, True]


def test_required_literal_lets_the_automaton_skip_most_regexes():
    assert required_literal(r"价格.*多少") == "价格"
    assert required_literal(r"订单\d{6}号码") == "订单"
    assert required_literal(r"VIP\d+", 2) == "vip"
    assert required_literal(r"退款|退货") == "退"  # the parser factors out the common prefix
    assert required_literal(r"优惠|红包") == ""
    assert required_literals(r"(?:退款|发货)吗") == ["发货", "退款"]
    assert required_literals(r"\d{6}") == []


def test_check_patterns_reports_compile_errors_and_slowness_by_index():
    errors = check_patterns([("ok", True), ("(", True), (r"(a+)+$", True)])
    assert set(errors) == {1, 2}
