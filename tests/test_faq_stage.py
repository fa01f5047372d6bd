"""The FAQ stage in a chat: question filter, suggest-then-pick, feedback, edits, unanswered log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.kernel.clock import FakeClock
from bot.kernel.events import ChatKind, Event
from bot.kernel.pipeline import Context
from bot.services import Services
from bot.store import Store
from intents.faqfile import read_file
from intents.stage import FaqStage
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "faq" / "faq.jsonl"
_ids = iter(range(1, 1_000_000))


def msg(text: str, *, chat: str = "g1", sender: str = "u1", private: bool = False,
        to_me: bool = False) -> Event:
    return Event(platform="sim", chat_id=sender if private else chat,
                 chat_kind=ChatKind.PRIVATE if private else ChatKind.GROUP, sender_id=sender,
                 sender_name="成员", message_id=f"m{next(_ids)}", time=datetime.now(UTC), text=text,
                 to_me=to_me)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_stage(tmp_path, clock):
    stores: list[Store] = []

    def build(**faq) -> FaqStage:
        settings = make_settings(tmp_path, bot={"demo": False}, faq=faq)
        store = Store(settings.database_path)
        stores.append(store)
        entries = read_file(FIXTURE)
        store.faq.import_entries([e.to_dict() for e in entries], replace=True)
        return FaqStage(Services(settings=settings, store=store, clock=clock))

    yield build
    for s in stores:
        s.close()


@pytest.fixture
def stage(make_stage) -> FaqStage:
    return make_stage()


async def ask(stage: FaqStage, event: Event, *, dry_run: bool = False):
    return await stage(event, Context(now=stage.clock.now(), dry_run=dry_run))


async def test_group_question_is_answered_and_counted(stage):
    decision = await ask(stage, msg("發票怎麼開？"))
    assert decision.outcome == "answered" and decision.stop
    assert decision.replies[0].text.startswith("可以开电子发票")
    assert decision.detail["entry_id"] == "invoice"
    assert stage.store.faq.get_entry("invoice")["hits"] == 1


async def test_group_statement_that_is_not_a_question_stays_silent(stage):
    decision = await ask(stage, msg("申请退款"))
    assert decision.outcome == "pass" and not decision.replies
    assert "不像提问" in decision.reason


async def test_mention_or_private_chat_answers_without_question_words(stage):
    assert (await ask(stage, msg("申请退款", to_me=True))).outcome == "answered"
    assert (await ask(stage, msg("申请退款", private=True, sender="u9"))).outcome == "answered"


async def test_off_topic_question_stays_silent_and_is_logged(stage):
    decision = await ask(stage, msg("今天晚上吃什么呢？"))
    assert decision.outcome == "pass" and not decision.replies
    logged = stage.store.faq.open_unanswered()
    assert [r["text"] for r in logged] == ["今天晚上吃什么呢？"]


async def test_suggestion_then_number_answers_the_chosen_entry(stage):
    first = await ask(stage, msg("付款后多久发货呀？", sender="u1"))
    assert first.outcome == "suggested"
    assert first.replies[0].text.startswith("您是想问：\n1. 什么时候发货")
    second = await ask(stage, msg("1", sender="u1"))
    assert second.outcome == "answered"
    assert second.replies[0].text.startswith("付款后 48 小时内发货")
    assert second.detail["via"] == "suggest"
    # the pick is consumed: another "1" is just a message
    assert (await ask(stage, msg("1", sender="u1"))).outcome == "pass"


async def test_other_member_or_late_reply_cannot_pick_a_suggestion(stage, clock):
    await ask(stage, msg("付款后多久发货呀？", sender="u1"))
    assert (await ask(stage, msg("1", sender="u2"))).outcome == "pass"
    clock.advance(stage.settings.suggest_ttl + 1)
    assert (await ask(stage, msg("1", sender="u1"))).outcome == "pass"


async def test_edited_faq_answers_the_next_message(stage):
    assert (await ask(stage, msg("能开专票吗？"))).outcome == "pass"
    faq = stage.faq
    entry = faq.get("invoice").to_dict()
    entry["questions"].append("能开专票吗")
    entry["answer"] = "专票请联系客服。"
    faq.save(entry)
    decision = await ask(stage, msg("能开专票吗？"))
    assert decision.outcome == "answered" and decision.replies[0].text == "专票请联系客服。"


async def test_import_by_another_process_is_picked_up_without_restart(stage, clock):
    stage.store.faq.import_entries(
        [{"id": "gift", "answer": "满 99 送赠品。", "questions": ["有没有赠品"]}], replace=False)
    clock.advance(11)
    decision = await ask(stage, msg("有没有赠品？"))
    assert decision.outcome == "answered" and decision.detail["entry_id"] == "gift"


async def test_member_feedback_marks_the_answer_unhelpful(stage, clock):
    await ask(stage, msg("发票怎么开？", sender="u1"))
    clock.advance(30)
    decision = await ask(stage, msg("没用", sender="u1"))
    assert decision.outcome == "feedback"
    assert stage.store.faq.get_entry("invoice")["unhelpful"] == 1
    assert stage.store.faq.stats()["unhelpful"] == 1
    # only once per answer, and not after the window
    assert (await ask(stage, msg("没用", sender="u1"))).outcome == "pass"


async def test_feedback_after_the_window_is_ignored(stage, clock):
    await ask(stage, msg("发票怎么开？", sender="u1"))
    clock.advance(stage.settings.feedback_window + 1)
    assert (await ask(stage, msg("不对", sender="u1"))).outcome == "pass"
    assert stage.store.faq.get_entry("invoice")["unhelpful"] == 0


async def test_dry_run_decides_but_changes_nothing(stage):
    decision = await ask(stage, msg("发票怎么开？"), dry_run=True)
    assert decision.outcome == "answered"
    assert stage.store.faq.get_entry("invoice")["hits"] == 0
    await ask(stage, msg("付款后多久发货呀？"), dry_run=True)
    assert (await ask(stage, msg("1"))).outcome == "pass"
    assert stage.store.faq.open_unanswered() == []


async def test_disabled_faq_passes_everything(make_stage):
    stage = make_stage(enabled=False)
    assert (await ask(stage, msg("发票怎么开？"))).outcome == "pass"


async def test_group_suggest_off_keeps_groups_quiet_but_private_chat_suggests(make_stage):
    stage = make_stage(group_suggest=False)
    assert (await ask(stage, msg("付款后多久发货呀？"))).replies == []
    assert (await ask(stage, msg("付款后多久发货呀？", private=True))).outcome == "suggested"


async def test_running_bot_answers_a_group_question_from_the_faq(tmp_path):
    from bot.adapters.sim import SimAdapter
    from bot.runtime import Bot

    settings = make_settings(tmp_path, bot={"demo": False})
    store = Store(settings.database_path)
    store.faq.import_entries([e.to_dict() for e in read_file(FIXTURE)], replace=True)
    bot = Bot(settings, store, adapters={"sim": SimAdapter()})
    await bot.start()
    try:
        outcome = await bot.handle(msg("请问什么时候发货？"))
        assert outcome.status == "answered"
        assert outcome.replies[0].text.startswith("付款后 48 小时内发货")
        assert outcome.decisions[-1].stage == "intents"
    finally:
        await bot.stop()
        store.close()


async def test_entry_often_marked_unhelpful_is_suggested_instead_of_answered(stage, clock):
    for member in ("u1", "u2", "u3", "u4", "u5"):
        assert (await ask(stage, msg("发票怎么开？", sender=member))).outcome == "answered"
    for member in ("u1", "u2"):
        assert (await ask(stage, msg("答非所问", sender=member))).outcome == "feedback"
    decision = await ask(stage, msg("发票怎么开？", sender="u6"))
    assert decision.outcome == "suggested"
    assert decision.replies[0].text.startswith("您是想问：\n1. 可以开发票吗")
