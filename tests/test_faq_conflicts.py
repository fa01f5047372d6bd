"""Saving a phrasing another entry already has (or would answer) is a conflict with a choice,
in the console, the import and the CLI; never a silent change of what members get."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp import FormData

from bot.cli import main
from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from intents.stage import option_titles
from tests.conftest import login, make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "faq" / "faq.jsonl"
TWIN = {"id": "ship-fast", "answer": "加急订单当天发货。", "questions": "什么时候发货\n加急能当天发吗"}


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path, bot={"demo": False})))


async def with_fixture(client) -> str:
    csrf = await login(client, "ops", "manager")
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("file", FIXTURE.read_bytes(), filename="faq.jsonl")
    await client.post("/faq/import", data=form)
    return csrf


def faq(client):
    return client.app[BOT].faq_stage.faq


async def save(client, csrf: str, choice: str | None = None, **fields: str):
    data = {"csrf_token": csrf, "original_id": "", "enabled": "on", **TWIN, **fields}
    if choice:
        data["on_conflict"] = choice
    return await client.post("/faq/save", data=data)


async def test_a_phrasing_of_another_entry_is_shown_as_a_conflict_and_nothing_changes(client):
    csrf = await with_fixture(client)
    resp = await save(client, csrf)
    page = await resp.text()
    assert resp.status == 409
    # both entries, with the other one's answer, and the three choices
    assert "什么时候发货" in page and "shipping" in page and "付款后 48 小时内发货" in page
    assert "合并为一个条目" in page and "把问法移到本条目" in page and "都保留" in page
    assert "ship-fast" not in faq(client).engine.entries
    assert faq(client).engine.match("什么时候发货").outcome == "answer"


async def test_keep_both_gives_members_two_distinct_options(client):
    csrf = await with_fixture(client)
    resp = await save(client, csrf, "keep")
    assert resp.status == 200 and "已保存条目 ship-fast" in await resp.text()
    engine = faq(client).engine
    match = engine.match("什么时候发货")
    assert match.outcome == "suggest"
    entries = engine.entries
    titles = option_titles([(entries[c.entry_id].questions[0], entries[c.entry_id].answer)
                            for c in match.candidates])
    assert len(titles) == 2 and titles[0] != titles[1]
    audit = [a for a in client.app[STORE].accounts.audit_entries() if a["action"] == "faq.create"]
    assert audit and "keep" in json.dumps(audit[0], ensure_ascii=False, default=str)


async def test_merge_folds_the_new_entry_into_the_existing_one(client):
    csrf = await with_fixture(client)
    resp = await save(client, csrf, "merge")
    assert "已合并到条目 shipping" in await resp.text()
    engine = faq(client).engine
    assert "ship-fast" not in engine.entries
    assert "加急能当天发吗" in engine.entries["shipping"].questions
    assert engine.match("什么时候发货").candidates[0].entry_id == "shipping"


async def test_move_takes_the_phrasing_from_the_other_entry(client):
    csrf = await with_fixture(client)
    await save(client, csrf, "move")
    engine = faq(client).engine
    assert "什么时候发货" not in engine.entries["shipping"].questions
    match = engine.match("什么时候发货")
    assert match.outcome == "answer" and match.candidates[0].entry_id == "ship-fast"


async def test_a_phrasing_another_entry_would_answer_outright_is_a_conflict(client):
    csrf = await with_fixture(client)
    resp = await save(client, csrf, id="invoice-2", answer="专票找客服", questions="發票怎麼開？")
    assert resp.status == 409 and "invoice" in await resp.text()


async def test_new_entry_form_has_a_generated_id_and_groups_by_name(client):
    await login(client, "ops", "manager")
    client.app[STORE].chats.upsert_chat("sim", "g-42", name="宝妈交流群", tags=[])
    page = await (await client.get("/faq/new", params={"question": "可以自提吗"})).text()
    assert 'value="faq-0001"' in page
    assert "宝妈交流群" in page and 'name="group" value="g-42"' in page


def test_cli_import_lists_conflicts_and_imports_only_with_a_choice(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    assert main(["faq", "import", str(FIXTURE), "--config", str(config)]) == 0
    twin = tmp_path / "twin.jsonl"
    twin.write_text(json.dumps({"id": "ship-fast", "answer": "加急当天发", "questions": ["什么时候发货"]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["faq", "import", str(twin), "--config", str(config), "--json"]) == 1
    conflicts = json.loads(capsys.readouterr().out)["conflicts"]
    assert conflicts[0]["other_id"] == "shipping" and conflicts[0]["identical"] is True
    assert main(["faq", "import", str(twin), "--config", str(config), "--on-conflict", "keep"]) == 0
    assert "新增 1" in capsys.readouterr().out


async def test_console_import_shows_conflicts_then_imports_with_the_choice(client):
    csrf = await with_fixture(client)
    line = json.dumps({"id": "ship-fast", "answer": "加急当天发", "questions": ["什么时候发货"]},
                      ensure_ascii=False) + "\n"
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("file", line.encode("utf-8"), filename="twin.jsonl")
    resp = await client.post("/faq/import", data=form)
    page = await resp.text()
    assert resp.status == 409 and "shipping" in page and "付款后 48 小时内发货" in page
    assert "ship-fast" not in faq(client).engine.entries
    resp = await client.post("/faq/import", data={
        "csrf_token": csrf, "content": line, "filename": "twin.jsonl", "mode": "merge",
        "on_conflict": "merge"})
    assert resp.status == 200 and "已导入 twin.jsonl" in await resp.text()
    assert "ship-fast" not in faq(client).engine.entries


# -- the unanswered page ---------------------------------------------------------------

PICKUP = ["我能自己去店里拿货吗", "可以到店里自己拿吗", "能不能到门店取货", "可以到店里自己拿吗",
          "可以到店里自己拿吗"]


def log(store, texts: list[str], chat: str = "g-42") -> None:
    for text in texts:
        store.faq.log_unanswered(text, platform="sim", chat_id=chat, sender_id="u1",
                                 outcome="silent", score=10.0, best_entry=None)


async def test_unanswered_page_groups_wordings_by_meaning_with_group_names(client):
    csrf = await with_fixture(client)
    store = client.app[STORE]
    store.chats.upsert_chat("sim", "g-42", name="宝妈交流群", tags=[])
    log(store, [*PICKUP, "积分可以换什么礼品啊"])
    page = await (await client.get("/faq/unanswered")).text()
    assert "宝妈交流群" in page and "g-42" not in page
    cluster = next(c for c in faq(client).clusters() if "能不能到门店取货" in c.texts)
    assert sorted(cluster.texts) == sorted(set(PICKUP)) and cluster.size == 5
    # the most common wording leads, and "new entry" is pre-filled with it
    assert cluster.label == "可以到店里自己拿吗"
    assert '<input type="hidden" name="question" value="可以到店里自己拿吗">' in page
    resp = await client.post("/faq/unanswered/resolve", data={
        "csrf_token": csrf, "action": "new", "ids": [str(i) for i in cluster.ids],
        "question": cluster.label, "entry_id": "pickup", "answer": "可以到店自提。"})
    assert resp.status == 200
    entry = faq(client).get("pickup")
    assert entry.questions[0] == "可以到店里自己拿吗" and set(entry.questions) == set(PICKUP)


async def test_add_to_entry_is_pre_filled_with_the_engines_best_candidate(client):
    await with_fixture(client)
    store = client.app[STORE]
    # the first wording alone is vague; the cluster as a whole is about refunds
    log(store, ["钱怎么还没回来", "退款怎么还没到账啊", "退款还没到账", "退的钱什么时候到账"])
    page = await (await client.get("/faq/unanswered")).text()
    cluster = next(c for c in faq(client).clusters() if "钱怎么还没回来" in c.texts)
    assert "退款还没到账" in cluster.texts
    assert cluster.nearest is not None and cluster.nearest.entry_id == "refund"
    assert re.search(r'<option value="refund" selected>', page)


# -- 试一试 ------------------------------------------------------------------------------

async def test_try_page_explains_in_a_managers_words_with_details_behind_a_toggle(client):
    await with_fixture(client)
    page = await (await client.get("/faq/try", params={"text": "發票怎麼開？"})).text()
    assert "最接近的已存问法" in page and "“发票怎么开”" in page
    assert "相似程度" in page and "为什么" in page and "所以直接回答" in page and "回答线" in page
    # the technical words only inside the 详细 toggle
    summary = page.index("<summary>详细</summary>")
    assert "BM25" not in page[:summary] and "BM25" in page[summary:]
    silent = await (await client.get("/faq/try", params={"text": "今天天气怎么样"})).text()
    assert "所以机器人不回答" in silent and "建议线" in silent
