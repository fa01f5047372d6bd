"""The sentence-embedding score in the FAQ ranker: paraphrases, edits, the vector cache on
disk, batching on the event loop, and `semantic = false`."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from intents.engine import FaqEngine
from intents.faqfile import read_file
from intents.model import FaqEntry
from intents.semantic import Batcher, Embedder, VectorStore, shared_model
from intents.service import DEMO_FAQ

# the wordings the issue reported as missed by the demo entries
REWORDINGS = {
    "我能自己去店里拿货吗": "pickup", "能不能到门店取货": "pickup", "自提点在哪": "pickup",
    "可以到店里自己拿吗": "pickup", "快递到哪了": "logistics", "东西啥时候发": "shipping",
    "怎么退钱": "refund",
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(shared_model())


@pytest.fixture(scope="module")
def demo(embedder: Embedder) -> FaqEngine:
    engine = FaqEngine(embedder=embedder)
    engine.load(read_file(DEMO_FAQ))
    return engine


@pytest.mark.parametrize("question", list(REWORDINGS))
def test_demo_entries_catch_everyday_rewordings(demo: FaqEngine, question: str) -> None:
    match = demo.match(question)
    assert match.outcome in ("answer", "suggest")
    assert match.candidates[0].entry_id == REWORDINGS[question]


@pytest.mark.parametrize("question", ["今天天气怎么样", "什么时候结婚", "你们老板是谁"])
def test_off_topic_questions_stay_silent(demo: FaqEngine, question: str) -> None:
    assert demo.match(question).outcome == "silent"


def test_a_paraphrase_lexical_matching_leaves_silent_is_found_by_meaning(demo: FaqEngine) -> None:
    lexical = FaqEngine()
    lexical.load(read_file(DEMO_FAQ))
    question = "能不能到门店取货"
    assert lexical.match(question).outcome == "silent"
    match = demo.match(question)
    assert match.outcome in ("answer", "suggest") and match.candidates[0].entry_id == "pickup"
    assert match.candidates[0].fused and match.candidates[0].features["semantic"] > 60


def test_edits_update_the_vectors_in_place(embedder: Embedder) -> None:
    engine = FaqEngine(embedder=embedder)
    engine.load([FaqEntry("shipping", "48 小时内发货。", ["什么时候发货"])])
    engine.upsert(FaqEntry("pickup", "可以到店自提。", ["可以自提吗", "门店自提怎么弄"]))
    assert engine.candidates("能不能到门店取货")[0].entry_id == "pickup"
    engine.remove("pickup")
    assert all(c.entry_id != "pickup" for c in engine.candidates("能不能到门店取货"))
    assert len(engine.vectors.row_of) == 1 if engine.vectors else False


def test_vectors_are_cached_on_disk_by_model_version(tmp_path) -> None:
    model = shared_model()
    first = Embedder(model, VectorStore(tmp_path, model.name))
    first.phrasings(["什么时候发货", "可以自提吗"])
    first.persist()
    assert (tmp_path / f"faq-vectors-{model.name}.npz").exists()
    second = Embedder(model, VectorStore(tmp_path, model.name))
    vectors = second.phrasings(["什么时候发货", "可以自提吗"])
    assert second.encoded == 0
    assert np.allclose(vectors, first.phrasings(["什么时候发货", "可以自提吗"]))
    # another model version starts afresh
    assert Embedder(model, VectorStore(tmp_path, "other-model"))._phrasings == {}


def test_a_damaged_vector_cache_is_ignored(tmp_path) -> None:
    model = shared_model()
    (tmp_path / f"faq-vectors-{model.name}.npz").write_bytes(b"not a zip")
    embedder = Embedder(model, VectorStore(tmp_path, model.name))
    assert embedder.phrasings(["可以自提吗"]).shape == (1, model.dim)


async def test_concurrent_questions_are_encoded_in_one_batch_off_the_loop() -> None:
    embedder = Embedder(shared_model())
    batcher = Batcher(embedder)
    questions = ["东西啥时候发", "怎么退钱", "快递到哪了", "东西啥时候发", "能不能到门店取货"]
    vectors = await asyncio.gather(*(batcher.vector(q) for q in questions))
    assert np.allclose(vectors[0], vectors[3])
    # the first question starts a model call; the others wait for it and go in the next one
    assert batcher.batches <= 2 and embedder.encoded == 4
    assert np.allclose(vectors[1], embedder.question("怎么退钱"))


def test_without_an_embedder_the_lexical_engine_works_alone() -> None:
    engine = FaqEngine()
    engine.load(read_file(DEMO_FAQ))
    match = engine.match("怎么申请退款")
    assert match.outcome == "answer" and not match.candidates[0].fused
    assert engine.vectors is None


# -- in the pipeline stage -----------------------------------------------------------------

def _stage(tmp_path, **faq):
    from datetime import UTC, datetime

    from bot.kernel.clock import FakeClock
    from bot.kernel.events import ChatKind, Event
    from bot.services import Services
    from bot.store import Store
    from intents.stage import FaqStage
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, bot={"demo": False}, faq=faq)
    store = Store(settings.database_path)
    store.faq.import_entries([e.to_dict() for e in read_file(DEMO_FAQ)], replace=True)
    stage = FaqStage(Services(settings=settings, store=store, clock=FakeClock()))

    def event(text: str) -> Event:
        return Event(platform="sim", chat_id="g1", chat_kind=ChatKind.GROUP, sender_id="u1",
                     sender_name="成员", message_id=text, time=datetime.now(UTC), text=text)

    return stage, store, event


async def test_the_stage_answers_a_paraphrase_with_the_vector_computed_off_the_loop(tmp_path) -> None:
    from bot.kernel.pipeline import Context

    stage, store, event = _stage(tmp_path)
    try:
        decision = await stage(event("能不能到门店取货？"), Context(now=stage.clock.now()))
        assert decision.outcome in ("answered", "suggested")
        assert "可以自提吗" in decision.replies[0].text or "自提" in decision.replies[0].text
        assert stage.faq.batcher is not None and stage.faq.batcher.batches == 1
        # the phrasing vectors went to the disk cache of this data_dir
        assert list((tmp_path / "data" / "cache").glob("faq-vectors-*.npz"))
    finally:
        store.close()


async def test_semantic_false_loads_no_model_and_the_lexical_engine_answers(tmp_path) -> None:
    from bot.kernel.pipeline import Context

    stage, store, event = _stage(tmp_path, semantic=False)
    try:
        assert stage.faq.embedder is None and stage.faq.engine.vectors is None
        decision = await stage(event("怎么申请退款？"), Context(now=stage.clock.now()))
        assert decision.outcome == "answered" and decision.replies[0].text.startswith("在订单页")
        assert (await stage(event("能不能到门店取货？"), Context(now=stage.clock.now()))).outcome == "pass"
    finally:
        store.close()


@pytest.mark.parametrize(("text", "key"), [
    ("[faq]\nsemantic_weight = 1.5\n", "faq.semantic_weight"),
    ("[faq]\nsemantic_suggest_threshold = 90\n", "faq.semantic_suggest_threshold"),
])
def test_broken_semantic_settings_name_the_key(tmp_path, text: str, key: str) -> None:
    from bot.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == key and str(path) in str(info.value)
