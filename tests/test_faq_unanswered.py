"""Unanswered questions: grouped by similarity, then turned into entries or phrasings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.kernel.clock import FakeClock
from bot.store import Store
from intents.config import FaqSettings
from intents.faqfile import FaqFileError, read_file
from intents.service import FaqService

FIXTURE = Path(__file__).parent / "fixtures" / "faq" / "faq.jsonl"
ASKED = [
    "直播间的优惠什么时候开始", "直播优惠几点开始？", "今晚直播几点开始呀",
    "可以用花呗付款吗", "支持花呗付款吗",
    "店铺在哪里",
]


@pytest.fixture
def faq(tmp_path):
    store = Store(tmp_path / "faq.db")
    service = FaqService(FaqSettings(), store, FakeClock())
    service.import_entries(read_file(FIXTURE), replace=True)
    for text in ASKED:
        store.faq.log_unanswered(text, platform="sim", chat_id="g1", sender_id="u1",
                                 outcome="silent", score=20.0, best_entry=None)
    yield service
    store.close()


def test_similar_unanswered_questions_form_one_cluster(faq):
    clusters = faq.clusters()
    groups = sorted(sorted(c.texts) for c in clusters)
    assert sorted(["可以用花呗付款吗", "支持花呗付款吗"]) in groups
    assert ["店铺在哪里"] in groups
    live = next(c for c in clusters if "直播优惠几点开始？" in c.texts)
    assert live.size >= 2
    assert clusters[0].size >= clusters[-1].size


def test_cluster_becomes_a_new_entry_that_answers_next_time(faq):
    cluster = next(c for c in faq.clusters() if "支持花呗付款吗" in c.texts)
    entry = faq.resolve(cluster.ids, new_entry={"id": "huabei", "answer": "支持花呗分期。",
                                                "questions": []})
    assert set(entry.questions) == {"可以用花呗付款吗", "支持花呗付款吗"}
    assert faq.engine.match("能用花呗付款吗").best.entry_id == "huabei"
    assert all("支持花呗付款吗" not in c.texts for c in faq.clusters())


def test_cluster_added_as_phrasings_of_an_existing_entry(faq):
    cluster = next(c for c in faq.clusters() if "店铺在哪里" in c.texts)
    faq.resolve(cluster.ids, add_to="express")
    assert "店铺在哪里" in faq.get("express").questions
    assert faq.engine.match("店铺在哪里").best.entry_id == "express"


def test_user_dictionary_and_synonyms_change_matching_without_restart(faq):
    faq.save({"id": "gift", "answer": "赠品是小熊公仔。", "questions": ["赠品是什么"]})
    assert faq.engine.match("小礼物是什么").outcome != "answer"
    faq.add_dictionary("小礼物", "synonym", target="赠品")
    assert faq.engine.match("小礼物是什么").best.entry_id == "gift"
    assert faq.engine.match("小礼物是什么").outcome == "answer"
    faq.add_dictionary("小熊公仔", "word")
    assert "小熊公仔" in faq.tokenizer.words("有小熊公仔吗")
    faq.remove_dictionary("小礼物", "synonym")
    assert faq.engine.match("小礼物是什么").outcome != "answer"
    faq.remove_dictionary("小熊公仔", "word")
    assert "小熊公仔" not in faq.tokenizer.words("有小熊公仔吗")


def test_removing_a_word_jieba_already_knew_keeps_it_whole(faq):
    """A manager adds 发货 (a word of jieba's own) and takes it back: it must not break apart."""
    faq.add_dictionary("发货", "word", freq=3)
    faq.remove_dictionary("发货", "word")
    assert "发货" in faq.tokenizer.words("今天发货吗")



def test_demo_faq_seeds_only_an_empty_faq(tmp_path):
    store = Store(tmp_path / "demo.db")
    try:
        service = FaqService(FaqSettings(), store, FakeClock())
        assert service.seed_demo() is True
        match = service.engine.match("学生证可以打折吗？", chat_id="g_student", chat_tags=["学生"])
        assert match.outcome == "answer"
        assert service.seed_demo() is False
    finally:
        store.close()


def test_new_entry_from_a_cluster_never_overwrites_an_existing_one(faq):
    cluster = next(c for c in faq.clusters() if "店铺在哪里" in c.texts)
    with pytest.raises(FaqFileError, match="已存在"):
        faq.resolve(cluster.ids, new_entry={"id": "refund", "answer": "x", "questions": []})
    assert faq.get("refund").answer.startswith("在订单页点")
