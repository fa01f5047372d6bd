"""A FAQ rebuild (dictionary change, replacing import) does not hold up recording (issue 16 #13).

Re-segmenting every phrasing is CPU work of up to a second for 20k phrasings. It used to run
on the store's writer thread, so every commit (a member's message being recorded) waited for
it. Here the rebuild is held open until a message has been recorded: that only finishes when
the rebuild is not in the writer's way.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import FormData

from bot.adapters.base import RecordingUnavailable
from bot.kernel.events import ChatKind, Event
from bot.web.app import create_app
from bot.web.keys import BOT
from intents.engine import FaqEngine
from intents.model import FaqEntry
from tests.conftest import login, make_settings

PHRASINGS = 2000
FIXTURE = Path(__file__).parent / "fixtures" / "faq" / "faq.jsonl"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path, bot={"demo": False})))


def _form(action: str, csrf: str) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    if action == "dictionary":
        form.add_field("word", "小熊公仔")
        form.add_field("kind", "word")
    else:  # replacing every entry by an upload rebuilds the index too
        form.add_field("mode", "replace")
        form.add_field("file", FIXTURE.read_bytes(), filename="faq.jsonl")
    return form


@pytest.mark.parametrize("action", ["dictionary", "import"])
async def test_a_message_is_recorded_while_the_faq_index_is_rebuilt(client, monkeypatch, action):
    bot = client.app[BOT]
    faq = bot.faq_stage.faq
    entries = [FaqEntry(id=f"e{i}", answer=f"答案{i}", questions=[f"第{i}号商品什么时候发货{j}" for j in range(4)])
               for i in range(PHRASINGS // 4)]
    await bot.store.run(faq.import_entries, entries, True)
    csrf = await login(client, "ops", "manager")

    building, recorded = threading.Event(), threading.Event()
    order: list[str] = []
    real_load = FaqEngine.load

    def held_load(self, items):
        # the rebuild waits (at most 10 s) for the message to be recorded
        building.set()
        recorded.wait(10)
        real_load(self, items)
        order.append("reloaded")

    monkeypatch.setattr(FaqEngine, "load", held_load)
    post = asyncio.create_task(client.post(f"/faq/{action}", data=_form(action, csrf), allow_redirects=False))
    assert await asyncio.to_thread(building.wait, 10)
    event = Event(platform="sim", chat_id="g1", chat_kind=ChatKind.GROUP, sender_id="u1", sender_name="王妈妈",
                  message_id="during-reload", time=datetime.now(UTC), text="在吗")
    try:
        await bot.submit(event)
        order.append("recorded")
    except RecordingUnavailable:
        order.append("recording unavailable")
    finally:
        recorded.set()
    resp = await post
    assert resp.status == 302
    assert order == ["recorded", "reloaded"]
    assert await bot.store.run(bot.store.messages.exists, event.uid)
    if action == "dictionary":  # the new word is in the swapped-in tokenizer, the index complete
        assert "小熊公仔" in faq.tokenizer.words("我想要小熊公仔")
        assert faq.engine.phrasing_count == PHRASINGS
    else:
        assert faq.engine.match("什么时候发货").outcome == "answer"
