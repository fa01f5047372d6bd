"""Regex rules: refused when they do not compile, match nothing, or are catastrophically slow."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.cli import main
from bot.config import load_settings
from bot.settings_loader import ConfigError
from bot.store import Store
from keywords.io import import_file
from keywords.manage import validate_rule, validate_rules
from keywords.regexcheck import check_patterns
from keywords.regexshape import nested_repeat, required_literal, required_literals
from keywords.rules import RuleError, clean_rule
from tests.conftest import make_settings
from tests.keywords_helpers import Harness


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


# -- issue 16 #9: one check everywhere, and a time bound on every match ------------------------

ISSUE_PATTERN = r"价格(a+)+$"


def test_issue_pattern_is_refused_by_the_save_path_used_by_console_and_cli():
    with pytest.raises(RuleError) as info:
        validate_rule({"keyword": ISSUE_PATTERN, "match": "regex", "reply": "x"})
    assert "过慢" in info.value.errors["keyword"]


@pytest.mark.parametrize("pattern", [ISSUE_PATTERN, r"价格(a|aa)+$", r"价格(\w+\s?)+$"])
def test_slow_part_behind_a_required_prefix_is_found(pattern):
    # the nested ones statically, `(a|aa)+` by the measurement on 价格aaaa…!
    assert set(check_patterns([(pattern, True), (pattern, False)])) == {0, 1}


@pytest.mark.parametrize("pattern", [r"(\d+,)*\d+元", r"(?:[a-z]+\.)+com", r"(\w+\s)+再见", r"(https?://)+x"])
def test_repetitions_with_a_separator_are_not_nested_repeats(pattern):
    assert not nested_repeat(pattern)
    assert check_patterns([(pattern, True)]) == {}


def test_issue_pattern_is_refused_by_import(tmp_path):
    settings = make_settings(tmp_path, bot={"demo": False})
    path = tmp_path / "rules.csv"
    path.write_text(f"keyword,match,reply\n{ISSUE_PATTERN},regex,看公告\n价格,contains,看公告\n", encoding="utf-8")
    with Store(settings.database_path) as store:
        report = import_file(store, path, partial=True)
        assert [r["keyword"] for r in store.keywords.list_rules()] == ["价格"]
    assert "过慢" in str(report.errors)


@pytest.mark.parametrize("pattern", [r"(a+)+$", ISSUE_PATTERN])
def test_check_config_refuses_what_run_refuses(tmp_path, capsys, pattern):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bot]\ndata_dir = "{tmp_path / "data"}"\ndemo = false\n[adapters.sim]\nenabled = true\n'
        f"[[keywords]]\nkeyword = '{pattern}'\nmatch = 'regex'\nreply = '看公告'\n", encoding="utf-8",
    )
    assert main(["check-config", "--config", str(config)]) != 0
    err = capsys.readouterr()
    assert "keywords[0].keyword" in err.err + err.out and "过慢" in err.err + err.out
    with pytest.raises(ConfigError) as info:  # what `run` and every other command load
        load_settings(config)
    assert info.value.key == "keywords[0].keyword"


def test_a_slow_rule_that_slipped_in_does_not_match_and_the_other_rules_answer(tmp_path, caplog):
    h = Harness(tmp_path, [{"keyword": "价格", "reply": "看公告"}])
    try:
        # stored without the check (as before this check existed): fast in most texts, exponential
        # in 价格aaaa…b for the regex engine too
        spec = {**clean_rule({"keyword": "价格", "reply": "慢规则"}), "id": "slow",
                "keyword": r"价格(a|aa)+$", "match": "regex", "priority": 10}
        h.store.keywords.save_rules([spec], source="console")
        h.engine.reload()
        attack = "价格" + "a" * 60 + "b"
        with caplog.at_level(logging.WARNING, logger="qunbot.keywords"):
            assert asyncio.run(h.answer(attack)) == "看公告"
            assert asyncio.run(h.answer(attack)) == "看公告"
        assert h.engine.regex_timeouts == 2
        assert len([r for r in caplog.records if "time budget" in r.getMessage()]) == 1
        # the rule still answers what it matches quickly
        assert asyncio.run(h.answer("价格aa")) == "慢规则"
    finally:
        h.close()


@pytest.mark.parametrize(("pattern", "says"), [
    ("[abc", "方括号 [ 没有闭合"), ("(abc", "圆括号 ( 没有闭合"), ("a{2,1}", "m 大于 n"),
    ("*a", "前面没有可重复的内容"), ("[z-a]", "字符范围写反了"),
])
def test_a_pattern_that_does_not_compile_is_explained_in_chinese(pattern, says):
    from keywords.regexcheck import compile_pattern

    with pytest.raises(ValueError) as err:
        compile_pattern(pattern)
    message = str(err.value)
    assert says in message
    assert not any(word in message for word in ("unterminated", "missing", "nothing to repeat", "bad character"))
