"""The one template language: every context renders every variable it names and refuses the others."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from bot.kernel import templates
from bot.kernel.templates import CONTEXTS, VARIABLES, render, validate

NOW = datetime(2026, 12, 4, 20, 5)
SAMPLE = {name: f"<{name}值>" for name in VARIABLES}


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize("variable", sorted(VARIABLES))
def test_every_context_renders_its_variables_and_refuses_the_others(context, variable):
    text = f"开头 {{{variable}}} 结尾"
    errors = validate(text, context)
    if variable in CONTEXTS[context].variables:
        assert errors == []
        assert render(text, context, SAMPLE) == f"开头 <{variable}值> 结尾"
    else:
        assert len(errors) == 1 and f"{{{variable}}}" in errors[0]
        # the error lists what may be used here
        assert all(f"{{{v}}}" in errors[0] for v in CONTEXTS[context].variables)
        # a text saved before the check still never sends a literal {name}
        assert "{" not in render(text, context, SAMPLE)


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_a_text_with_all_of_a_contexts_variables_renders_without_braces(context):
    text = "".join(f"{{{v}}}|" for v in CONTEXTS[context].variables)
    assert validate(text, context) == []
    out = render(text, context, SAMPLE)
    assert "{" not in out and out.count("|") == len(CONTEXTS[context].variables)


def test_unknown_name_in_any_script_is_refused_with_the_valid_ones():
    errors = validate("你好 {昵称}，欢迎来到 {grop}", "member")
    assert errors[0].startswith("未知的占位符 {昵称}，此处可用：{group} {date} {time} {weekday} {nickname}")
    assert errors[1].startswith("未知的占位符 {grop}")


def test_member_variable_in_a_group_post_names_where_it_belongs():
    (error,) = validate("{nickname} 你好", "group")
    assert "{nickname}" in error and "「已知成员" in error and "此处可用：{group} {date} {time} {weekday}" in error


def test_double_braces_and_regex_counts_stay_literal():
    assert validate("{{group}} 订单\\d{6}", "group") == []
    assert render("{{group}} 订单\\d{6}", "group", {"group": "宝妈群"}) == "{group} 订单\\d{6}"


def test_values_are_inserted_once_and_never_parsed_again():
    assert render("{nickname}@{group}", "member", {"nickname": "{group}", "group": "宝妈群"}) == "{group}@宝妈群"


def test_variant_lines_choose_one_line_per_run():
    text = "今晚 8 点秒杀\n{variant}快来抢～\n{variant}手慢无～\n{variant}错过等一年～\n{group} 专享"
    assert validate(text, "group") == []
    seen = {render(text, "group", {"group": "宝妈群"}, random.Random(seed)) for seed in range(40)}
    assert len(seen) == 3
    for out in seen:
        lines = out.split("\n")
        assert lines[0] == "今晚 8 点秒杀" and lines[2] == "宝妈群 专享"
        assert lines[1] in {"快来抢～", "手慢无～", "错过等一年～"}


def test_variant_in_the_middle_of_a_line_is_refused():
    (error,) = validate("快来 {variant} 抢", "group")
    assert "{variant} 只能写在一行的开头" in error


def test_time_values_are_local_date_time_and_chinese_weekday():
    assert templates.time_values(NOW) == {"date": "2026-12-04", "time": "20:05", "weekday": "星期五"}
