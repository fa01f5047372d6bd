"""FAQ console pages over real HTTP: edit, try, import/export, unanswered clusters, dictionary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import FormData

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "faq" / "faq.jsonl"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path, bot={"demo": False})))


def faq(client):
    return client.app[BOT].faq_stage.faq


async def import_fixture(client, csrf: str, mode: str = "merge"):
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("mode", mode)
    form.add_field("file", FIXTURE.read_bytes(), filename="faq.jsonl")
    return await client.post("/faq/import", data=form)


async def test_import_then_list_shows_entries_and_audits(client):
    csrf = await login(client, "ops", "manager")
    resp = await import_fixture(client, csrf)
    assert resp.status == 200
    page = await resp.text()
    assert "新增 8" in page and "shipping" in page
    assert any(a["action"] == "faq.import" for a in client.app[STORE].accounts.audit_entries())


async def test_edited_entry_answers_in_try_page_immediately(client):
    csrf = await login(client, "ops", "manager")
    await import_fixture(client, csrf)
    resp = await client.post("/faq/save", data={
        "csrf_token": csrf, "original_id": "invoice", "id": "invoice", "answer": "专票请联系客服",
        "questions": "发票怎么开\n能开专票吗", "tags": "", "groups": "", "enabled": "on"})
    assert resp.status == 200 and "已保存条目 invoice" in await resp.text()
    page = await (await client.get("/faq/try", params={"text": "能开专票吗？"})).text()
    assert "直接回答" in page and "专票请联系客服" in page


async def test_new_entry_with_bad_id_is_rejected_with_a_reason(client):
    csrf = await login(client, "ops", "manager")
    resp = await client.post("/faq/save", data={
        "csrf_token": csrf, "original_id": "", "id": "有 空格", "answer": "x", "questions": "问题"})
    assert resp.status == 400
    assert "id 不能为空" in await resp.text()
    assert faq(client).engine.entries == {}


async def test_bad_import_changes_nothing(client):
    csrf = await login(client, "ops", "manager")
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("file", b'{"id": "a", "answer": "x"}\n', filename="bad.jsonl")
    page = await (await client.post("/faq/import", data=form)).text()
    assert "导入失败" in page and "第 1 行" in page
    assert client.app[STORE].faq.count_entries() == 0


async def test_export_csv_downloads_every_entry(client):
    csrf = await login(client, "ops", "manager")
    await import_fixture(client, csrf)
    resp = await client.get("/faq/export", params={"format": "csv"})
    body = await resp.text()
    assert resp.headers["Content-Disposition"].endswith('faq.csv"')
    assert body.startswith("id,answer,questions") and body.count("\n") == 9


async def test_unanswered_cluster_becomes_a_new_entry(client):
    csrf = await login(client, "ops", "manager")
    store = client.app[STORE]
    for text in ("支持花呗付款吗", "可以用花呗付款吗"):
        store.faq.log_unanswered(text, platform="sim", chat_id="g_mom", sender_id="u1",
                                 outcome="silent", score=10.0, best_entry=None)
    page = await (await client.get("/faq/unanswered")).text()
    assert "× 2" in page
    ids = re.findall(r'name="ids" value="(\d+)"', page)[:2]
    resp = await client.post("/faq/unanswered/resolve", data={
        "csrf_token": csrf, "action": "new", "ids": ids, "entry_id": "huabei", "answer": "支持花呗。"})
    assert "已新建条目 huabei" in await resp.text()
    assert faq(client).engine.match("能用花呗付款吗").best.entry_id == "huabei"
    assert store.faq.open_unanswered() == []


async def test_dictionary_word_changes_segmentation(client):
    csrf = await login(client, "ops", "manager")
    resp = await client.post("/faq/dictionary", data={"csrf_token": csrf, "kind": "word", "word": "小熊公仔"})
    assert "已添加自定义词" in await resp.text()
    page = await (await client.get("/faq/dictionary", params={"sample": "有小熊公仔吗"})).text()
    assert "小熊公仔" in page.split("分词</button>")[1]


async def test_stats_page_and_moderator_is_refused(client):
    await login(client, "ops", "manager")
    assert (await client.get("/faq/stats")).status == 200
    await client.post("/logout", data={"csrf_token": ""})
    client.session.cookie_jar.clear()
    await login(client, "mod", "moderator")
    assert (await client.get("/faq")).status == 403


async def test_edit_and_new_pages_render_the_entry_form(client):
    csrf = await login(client, "ops", "manager")
    await import_fixture(client, csrf)
    page = await (await client.get("/faq/edit/refund")).text()
    assert "怎么申请退款\n退款多久到账" in page and 'name="csrf_token"' in page
    assert (await client.get("/faq/edit/nope")).status == 404
    page = await (await client.get("/faq/new", params={"question": "有赠品吗"})).text()
    assert "有赠品吗" in page


async def test_cluster_added_to_a_missing_entry_is_refused_and_kept(client):
    csrf = await login(client, "ops", "manager")
    store = client.app[STORE]
    store.faq.log_unanswered("店铺在哪里", platform="sim", chat_id="g_mom", sender_id="u1",
                             outcome="silent", score=10.0, best_entry=None)
    [row] = store.faq.open_unanswered()
    for target in ("", "nope"):
        resp = await client.post("/faq/unanswered/resolve", data={
            "csrf_token": csrf, "action": "add", "ids": str(row["id"]), "target": target})
        assert "未保存" in await resp.text()
    assert len(store.faq.open_unanswered()) == 1


async def test_faq_list_has_no_delete_button_per_row_and_the_edit_page_asks_first(client):
    csrf = await login(client, "ops", "manager")
    await import_fixture(client, csrf)
    page = await (await client.get("/faq")).text()
    assert "/faq/delete/" not in page and ">id<" not in page
    entry_id = client.app[STORE].faq.list_entries()[0]["id"]
    edit = await (await client.get(f"/faq/edit/{entry_id}")).text()
    assert f'action="/faq/delete/{entry_id}"' in edit and "data-confirm=" in edit
    resp = await client.post(f"/faq/delete/{entry_id}", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 302
    assert all(e["id"] != entry_id for e in client.app[STORE].faq.list_entries())
