"""FAQ matching as a member experiences it: paraphrases, typos, traditional and full-width text."""

from __future__ import annotations

from pathlib import Path

import pytest

from intents.engine import FaqEngine
from intents.faqfile import read_file
from intents.index import BM25Index
from intents.model import FaqEntry
from intents.normalize import looks_like_question, normalize

FIXTURE = Path(__file__).parent / "fixtures" / "faq" / "faq.jsonl"


@pytest.fixture(scope="module")
def engine() -> FaqEngine:
    e = FaqEngine()
    e.load(read_file(FIXTURE))
    return e


@pytest.mark.parametrize(("question", "expected"), [
    ("积分怎么兑换礼品", "points"),            # paraphrase
    ("七天无理由退货怎么弄", "return"),          # paraphrase with a colloquial verb
    ("优惠券怎么使用", "coupon"),                # synonym 使用 → 用
    ("退款几天能到账", "refund"),                # synonym 几天 → 多久
    ("怎么申请退歀", "refund"),                  # typo: 歀 for 款
    ("什么时侯发货", "shipping"),                # homophone typo: 侯 for 候
    ("發票怎麼開？", "invoice"),                  # traditional characters
    ("ＶＩＰ会员积分有什么用？", "points"),        # full-width letters and punctuation
])
def test_question_variants_are_answered_with_the_right_entry(engine, question, expected):
    match = engine.match(question)
    assert match.outcome == "answer", match.to_dict()
    assert match.best.entry_id == expected


@pytest.mark.parametrize("chatter", ["今天天气真好", "晚上一起吃饭吗", "你是机器人吗", "哈哈哈哈", "今天吃什么"])
def test_off_topic_chatter_gets_no_answer(engine, chatter):
    assert engine.match(chatter).outcome == "silent"


@pytest.mark.parametrize("question", ["什么时候发工资？", "我什么时候发财", "什么时候呀", "为什么耳机用不了"])
def test_sharing_only_question_words_is_neither_answered_nor_suggested(engine, question):
    assert engine.match(question).outcome == "silent"


def test_close_but_unsure_question_is_suggested_not_answered(engine):
    match = engine.match("付款后多久发货呀")
    assert match.outcome == "suggest"
    assert match.best.entry_id == "shipping"


def test_normalize_folds_width_script_case_and_punctuation():
    assert normalize("ＶＩＰ會員，積分？？") == "vip会员 积分"
    assert looks_like_question("發貨要多久") and looks_like_question("在吗?")
    assert not looks_like_question("谢谢大家")


def test_edited_entry_is_found_without_rebuilding_other_entries(engine):
    e = FaqEngine(engine.tokenizer)
    e.load(read_file(FIXTURE))
    docs_before = dict(e._docs)
    e.upsert(FaqEntry(id="coupon", answer="新答案", questions=["满减券和优惠券能一起用吗"]))
    assert e.match("满减券和优惠券能一起用吗").best.entry_id == "coupon"
    unchanged = {d: v for d, v in docs_before.items() if v[0] != "coupon"}
    assert all(e._docs[d] == v for d, v in unchanged.items()), "other entries were re-indexed"
    e.remove("coupon")
    assert all(c.entry_id != "coupon" for c in e.candidates("优惠券怎么用"))


def test_disabled_entry_is_never_matched(engine):
    e = FaqEngine(engine.tokenizer)
    e.load(read_file(FIXTURE))
    e.upsert(FaqEntry(id="invoice", answer="x", questions=["发票怎么开"], enabled=False))
    assert all(c.entry_id != "invoice" for c in e.candidates("发票怎么开"))


def test_scoped_entry_applies_only_to_its_groups_and_tags(engine):
    e = FaqEngine(engine.tokenizer)
    e.upsert(FaqEntry(id="vip", answer="VIP 专享", questions=["专属客服怎么联系"], tags=["VIP"]))
    assert e.match("专属客服怎么联系", chat_id="g1", chat_tags=["VIP"]).outcome == "answer"
    assert e.match("专属客服怎么联系", chat_id="g2", chat_tags=["学生"]).outcome == "silent"
    assert e.match("专属客服怎么联系", chat_id="u1", private=True).outcome == "answer"


def test_bm25_index_add_remove_keeps_scores_consistent():
    idx = BM25Index()
    idx.add(1, ["wa", "wb"])
    idx.add(2, ["wa", "wc"])
    idx.add(3, ["wd"])
    assert idx.search(["wb"], 5)[0][0] == 1
    idx.remove(1)
    assert idx.search(["wb"], 5) == []
    assert [d for d, _ in idx.search(["wa"], 5)] == [2]
    assert len(idx) == 2 and "wb" not in idx.postings


def test_common_terms_do_not_walk_every_posting_once_enough_candidates_exist():
    idx = BM25Index(accumulator_limit=10)
    for doc in range(5000):
        idx.add(doc, ["wcommon", f"wrare{doc % 500}"])
    hits = idx.search(["wrare7", "wcommon"], 3)
    assert {d for d, _ in hits} <= {d for d in range(5000) if d % 500 == 7}


def test_a_word_added_to_one_faq_does_not_change_another_ones_segmentation():
    from intents.tokenize import Tokenizer

    first, second = Tokenizer(), Tokenizer()
    before = second.words("我想买花西子散粉")
    first.add_word("花西子散粉")
    assert "花西子散粉" in first.words("我想买花西子散粉")
    assert second.words("我想买花西子散粉") == before
    assert Tokenizer().words("我想买花西子散粉") == before


def test_questions_segmented_while_a_manager_edits_the_dictionary_never_fail():
    """The console changes words on a worker thread while the event loop segments questions."""
    import threading

    from intents.tokenize import Tokenizer

    tokenizer = Tokenizer()
    errors: list[BaseException] = []

    def edit() -> None:
        try:
            for i in range(4):
                tokenizer.add_word(f"花西子{i}号")
                tokenizer.remove_word(f"花西子{i}号")
        except BaseException as exc:  # the test reports any failure
            errors.append(exc)

    editor = threading.Thread(target=edit)
    editor.start()
    while editor.is_alive():
        assert "发货" in tokenizer.words("什么时候发货")
        tokenizer.clear_cache()
    editor.join()
    assert not errors
    assert "花西子3号" not in tokenizer.words("我想买花西子3号")
