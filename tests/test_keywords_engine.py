"""Keyword auto-replies as members and managers see them: what answers, when, and why."""

from __future__ import annotations

import pytest

from keywords.manage import save_rule
from tests.keywords_helpers import Harness


@pytest.fixture
def make(tmp_path):
    made: list[Harness] = []

    def factory(*rules, **sections) -> Harness:
        h = Harness(tmp_path / f"h{len(made)}", list(rules), **sections)
        made.append(h)
        return h

    yield factory
    for h in made:
        h.close()


def rule(keyword: str, reply: str = "", **kw):
    if "replies" in kw:
        return {"keyword": keyword, **kw}
    return {"keyword": keyword, "reply": reply or f"答:{keyword}", **kw}


@pytest.mark.parametrize(("match", "keyword", "text", "hit"), [
    ("exact", "价格", "价格", True),
    ("exact", "价格", " 价格？", True),           # outer spaces and punctuation ignored
    ("exact", "价格", "价格多少", False),
    ("prefix", "报名", "报名参加活动", True),
    ("prefix", "报名", "我要报名", False),
    ("contains", "退款", "请问怎么退款呀", True),
    ("contains", "vip", "我是ＶＩＰ会员", True),      # full-width and case ignored
    ("contains", "退款", "我要退货", False),
    ("regex", r"订单\d{6}", "订单123456到哪了", True),
    ("regex", r"订单\d{6}", "订单12到哪了", False),
    ("fuzzy", "怎么申请退款", "怎么申请退钱", True),
    ("fuzzy", "怎么申请退款", "今天天气不错", False),
])
async def test_each_match_mode_answers_only_matching_text(make, match, keyword, text, hit):
    h = make(rule(keyword, match=match, threshold=75))
    assert (await h.answer(text) is not None) is hit


async def test_rule_can_opt_out_of_normalisation(make):
    h = make(rule("VIP", match="exact", normalize=False))
    assert await h.answer("VIP") == "答:VIP"
    assert await h.answer("vip") is None
    assert await h.answer("ＶＩＰ") is None


async def test_fuzzy_threshold_is_per_rule(make):
    h = make(rule("怎么申请退款", match="fuzzy", threshold=95))
    assert await h.answer("怎么申请退钱") is None
    assert await h.answer("怎么申请退款") is not None


@pytest.mark.parametrize(("spec", "where", "hit"), [
    ({"scope": "group"}, {"chat": "g_mom"}, True),
    ({"scope": "group"}, {"private": True}, False),
    ({"scope": "private"}, {"private": True}, True),
    ({"scope": "private"}, {"chat": "g_mom"}, False),
    ({"scope": "mention"}, {"chat": "g_mom"}, False),
    ({"scope": "mention"}, {"chat": "g_mom", "to_me": True}, True),
    ({"groups": ["g_vip"]}, {"chat": "g_mom"}, False),
    ({"groups": ["g_vip"]}, {"chat": "g_vip"}, True),
    ({"groups": ["VIP群"]}, {"chat": "g_vip"}, True),     # by name as well as id
    ({"tags": ["宝妈"]}, {"chat": "g_mom"}, True),
    ({"tags": ["宝妈"]}, {"chat": "g_student"}, False),
])
async def test_scope_limits_where_a_rule_answers(make, spec, where, hit):
    h = make(rule("优惠", **spec))
    assert (await h.answer("有优惠吗", **where) is not None) is hit


async def test_higher_priority_wins_over_more_specific(make):
    h = make(rule("退款", "普通", match="exact"), rule("退", "优先", priority=5))
    assert await h.answer("退款") == "优先"


async def test_priority_tie_is_broken_by_specificity_then_length(make):
    h = make(
        rule("退款", "包含", match="contains"),
        rule("退款", "完全", match="exact"),
        rule("退", "短的", match="prefix"),
        rule("退款流程", "长的", match="prefix"),
    )
    assert await h.answer("退款") == "完全"
    assert await h.answer("退款流程是什么") == "长的"
    decision = await h.send("退款流程是什么")
    assert decision.detail["keyword"] == "退款流程"
    others = {o["keyword"] for o in decision.detail["others"]}
    assert others == {"退", "退款"}
    assert "另有 2 条规则也匹配" in decision.reason


async def test_cooldown_blocks_second_answer_in_same_group(make):
    h = make(rule("优惠", cooldown="60s"))
    assert await h.answer("有优惠吗") is not None
    second = await h.send("还有优惠吗", sender="u2")
    assert second.outcome == "cooldown" and second.stop and not second.replies
    assert "冷却" in second.reason
    assert await h.answer("优惠？", chat="g_vip") is not None  # another group is not affected
    h.clock.advance(61)
    assert await h.answer("有优惠吗") is not None


async def test_member_cooldown_blocks_the_same_member_only(make):
    h = make(rule("签到", member_cooldown="1h"))
    assert await h.answer("签到", sender="u1") is not None
    assert await h.answer("签到", sender="u1") is None
    assert await h.answer("签到", sender="u2") is not None
    h.clock.advance(3601)
    assert await h.answer("签到", sender="u1") is not None


async def test_dry_run_consumes_no_cooldown_and_counts_no_hit(make):
    h = make(rule("优惠", cooldown="60s"))
    tried = await h.send("优惠", dry_run=True)
    assert tried.outcome == "answered"
    assert await h.answer("优惠") is not None
    h.engine.flush_hits()
    assert h.store.keywords.list_rules()[0]["hits"] == 1


async def test_time_window_uses_configured_time_zone(make):
    h = make(rule("秒杀", active="19:00-23:00"))
    # START is 10:00 in Asia/Shanghai
    decision = await h.send("秒杀开始了吗")
    assert not decision.replies and "时间段" in decision.reason
    h.clock.advance(9 * 3600)  # 19:00 Shanghai
    assert await h.answer("秒杀开始了吗") is not None
    h.clock.advance(4 * 3600)  # 23:00
    assert await h.answer("秒杀开始了吗") is None


async def test_time_window_may_cross_midnight(make):
    h = make(rule("夜猫子", active="22:00-02:00"))
    h.clock.advance(13 * 3600 + 30 * 60)  # 23:30
    assert await h.answer("夜猫子") is not None
    h.clock.advance(2 * 3600)  # 01:30
    assert await h.answer("夜猫子") is not None
    h.clock.advance(3600)  # 02:30
    assert await h.answer("夜猫子") is None


async def test_date_range_limits_a_campaign_rule(make):
    h = make(rule("双十一", dates="2026-11-01..2026-11-22"))
    assert await h.answer("双十一还有吗") is None  # START is 2026-11-23
    h2 = make(rule("双十一", dates="2026-11-20..2026-11-23"))
    assert await h2.answer("双十一还有吗") is not None


async def test_template_fills_nickname_group_date_time(make):
    h = make(rule("你好", "{nickname} 你好，欢迎来到{group}！现在是 {date} {time}"))
    assert await h.answer("你好") == "王妈妈 你好，欢迎来到宝妈群！现在是 2026-11-23 10:00"


@pytest.mark.parametrize("nickname", ["{group}", "<b>张三</b>", "{{x}}", "a\u202eb"])
async def test_user_values_appear_literally_in_templates(make, nickname):
    h = make(rule("你好", "你好 {nickname}，这里是{group}"))
    text = await h.answer("你好", name=nickname)
    expected = nickname.replace("\u202e", "")
    assert text == f"你好 {expected}，这里是宝妈群"


async def test_round_robin_variants_take_turns_per_chat(make):
    h = make(rule("早", replies=["早上好", "早安", "早呀"], mode="round_robin"))
    assert [await h.answer("早") for _ in range(4)] == ["早上好", "早安", "早呀", "早上好"]
    assert await h.answer("早", chat="g_vip") == "早上好"


async def test_random_variants_come_from_the_injected_rng(make):
    h = make(rule("早", replies=["早上好", "早安", "早呀"]))
    seen = {await h.answer("早") for _ in range(30)}
    assert seen == {"早上好", "早安", "早呀"}


async def test_link_and_image_replies_carry_a_text_fallback(make):
    h = make(
        rule("活动", "点击查看{nickname}专属活动", kind="link", url="https://example.com/a", title="双十一活动"),
        rule("二维码", "", kind="image", image="https://example.com/qr.png"),
    )
    link = (await h.send("活动")).replies[0]
    assert (link.kind, link.url, link.title) == ("link", "https://example.com/a", "双十一活动")
    assert link.text == "点击查看王妈妈专属活动\nhttps://example.com/a"
    image = (await h.send("二维码")).replies[0]
    assert image.kind == "image" and image.image == "https://example.com/qr.png" and image.text


async def test_private_rule_answers_the_sender_privately(make):
    h = make(rule("资料", "资料发你了", private=True))
    reply = (await h.send("求资料")).replies[0]
    assert reply.private is True


async def test_disabled_rule_does_not_answer(make):
    h = make(rule("优惠", enabled=False))
    assert await h.answer("优惠") is None


async def test_hits_are_counted_in_batches_with_last_hit_time(make):
    h = make(rule("优惠"))
    for _ in range(3):
        await h.answer("优惠")
    assert h.store.keywords.list_rules()[0]["hits"] == 0  # not yet written: batched
    h.engine.flush_hits()
    row = h.store.keywords.list_rules()[0]
    assert row["hits"] == 3 and row["last_hit_at"].startswith("2026-11-23T02:00")


async def test_rule_saved_after_start_answers_after_reload(make):
    h = make()
    assert await h.answer("团购") is None
    save_rule(h.store, rule("团购"), source="cli")
    h.engine.reload()
    assert await h.answer("团购") == "答:团购"


async def test_excluded_matches_are_explained(make):
    h = make(rule("优惠", groups=["g_vip"]))
    decision = await h.send("优惠")
    assert decision.outcome == "pass"
    assert decision.detail["excluded"][0]["why"] == "不在适用的群或标签内"


async def test_rules_changed_by_another_process_are_picked_up_without_restart(make):
    from bot.store import Store

    h = make()
    other = Store(h.settings.database_path)  # e.g. `qunbot keywords import` while the bot runs
    try:
        save_rule(other, rule("拼单"), source="import")
    finally:
        other.close()
    assert await h.answer("拼单") is None  # not yet: checked every couple of seconds
    h.clock.advance(3)
    await h.answer("拼单")  # starts the background check
    await h.engine._maintaining
    assert await h.answer("拼单") == "答:拼单"


def test_any_nickname_is_inserted_literally_and_only_once():
    from hypothesis import given
    from hypothesis import strategies as st

    from keywords.templates import clean_value, render

    @given(st.text(max_size=40))
    def check(nickname):
        value = clean_value(nickname)
        out = render("[{nickname}] 欢迎来到{group}", {"nickname": value, "group": "宝妈群"})
        assert out == f"[{value}] 欢迎来到宝妈群"

    check()


def test_normalisation_ignores_width_case_and_outer_punctuation():
    from keywords.normalize import normalize

    assert normalize("  ＶＩＰ　价格？！ ") == "vip 价格"
    assert normalize("【优惠】") == "优惠"
    assert normalize("退款😭😭") == "退款"
    assert normalize("!!!") == ""
