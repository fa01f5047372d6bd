"""The keyword pages over real HTTP: manager creates, edits, tries and imports rules; the bot follows."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from aiohttp import FormData

from bot.kernel.events import ChatKind, Event
from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from keywords.manage import save_rule
from members import service
from tests.conftest import login, make_settings

RULE = {
    "keyword": "团购", "match": "contains", "replies": "团购请看群公告 {nickname}", "scope": "all",
    "priority": "0", "threshold": "80", "mode": "random", "kind": "text", "normalize": "on", "enabled": "on",
}


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def manager(client) -> str:
    return await login(client, "ops", "manager")


def message(text: str, n: int = 1) -> Event:
    return Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id="u_mama_wang",
                 sender_name="王妈妈", message_id=f"k{n}-{text}", time=datetime.now(UTC), text=text)


async def test_moderator_cannot_open_keyword_pages(client):
    await login(client, "mod", "moderator")
    resp = await client.get("/keywords")
    assert resp.status == 403


async def test_rule_created_in_console_answers_the_next_message(client):
    csrf = await manager(client)
    bot = client.app[BOT]
    assert not (await bot.handle(message("有团购吗", 1))).replies
    resp = await client.post("/keywords/new", data={**RULE, "csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    outcome = await bot.handle(message("有团购吗", 2))
    assert [r.text for r in outcome.replies] == ["团购请看群公告 王妈妈"]
    listing = await (await client.get("/keywords")).text()
    assert "团购" in listing and "已保存规则" in listing
    entries = client.app[STORE].accounts.audit_entries(action="keywords.create")
    assert entries and entries[0]["actor"] == "ops"


async def test_rule_edit_takes_effect_on_the_next_message(client):
    csrf = await manager(client)
    await client.post("/keywords/new", data={**RULE, "csrf_token": csrf})
    rowid = client.app[STORE].keywords.list_rules()[0]["id"]
    edit = await client.get(f"/keywords/{rowid}/edit")
    assert "团购请看群公告" in await edit.text()
    resp = await client.post(f"/keywords/{rowid}/edit", data={**RULE, "replies": "改成私聊找客服", "csrf_token": csrf},
                             allow_redirects=False)
    assert resp.status == 302
    outcome = await client.app[BOT].handle(message("团购", 3))
    assert [r.text for r in outcome.replies] == ["改成私聊找客服"]
    await client.post(f"/keywords/{rowid}/toggle", data={"csrf_token": csrf})
    assert not (await client.app[BOT].handle(message("团购", 4))).replies


async def test_bad_regex_is_rejected_with_a_chinese_message(client):
    csrf = await manager(client)
    resp = await client.post(
        "/keywords/new", data={**RULE, "keyword": r"(\w+\s?)+$", "match": "regex", "csrf_token": csrf}
    )
    assert resp.status == 422
    text = await resp.text()
    assert "正则表达式运行过慢" in text
    assert client.app[STORE].keywords.list_rules() == []


async def test_slow_regex_behind_a_prefix_is_rejected_by_the_console(client):
    # issue 16 #9: 价格(a+)+$ used to pass the check (its inputs lacked the 价格 prefix)
    csrf = await manager(client)
    resp = await client.post(
        "/keywords/new", data={**RULE, "keyword": r"价格(a+)+$", "match": "regex", "csrf_token": csrf}
    )
    assert resp.status == 422
    assert "正则表达式运行过慢" in await resp.text()
    assert client.app[STORE].keywords.list_rules() == []


async def test_live_validation_reports_field_errors(client):
    csrf = await manager(client)
    resp = await client.post("/keywords/validate", data={**RULE, "active": "25:00-26:00"},
                             headers={"X-CSRF-Token": csrf})
    body = await resp.json()
    assert body["ok"] is False and "active" in body["errors"]


async def test_try_box_shows_winner_and_other_matches_without_counting(client):
    csrf = await manager(client)
    await client.post("/keywords/new", data={**RULE, "csrf_token": csrf})
    await client.post(
        "/keywords/new", data={**RULE, "keyword": "团购价", "replies": "团购价 99 元", "csrf_token": csrf}
    )
    resp = await client.post("/keywords/try", data={"text": "团购价多少", "chat": "sim:g_mom", "nickname": "甜甜妈",
                                                    "csrf_token": csrf})
    text = await resp.text()
    assert "团购价 99 元" in text and "同时匹配、但未胜出的规则" in text
    client.app[BOT].keyword_stage.engine.flush_hits()
    assert all(r["hits"] == 0 for r in client.app[STORE].keywords.list_rules())


async def test_import_upload_reports_bad_lines_and_export_downloads_csv(client):
    csrf = await manager(client)
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("file", "keyword,match,reply\n价格,exact,看公告\n优惠,often,有\n".encode(),
                   filename="rules.csv", content_type="text/csv")
    resp = await client.post("/keywords/import", data=form)
    assert resp.status == 422
    assert "第 3 行" in await resp.text()
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("partial", "on")
    form.add_field("file", "keyword,match,reply\n价格,exact,看公告\n优惠,often,有\n".encode(),
                   filename="rules.csv", content_type="text/csv")
    resp = await client.post("/keywords/import", data=form)
    assert resp.status == 200 and "新增 1 条" in await resp.text()
    assert (await client.app[BOT].handle(message("价格", 5))).replies[0].text == "看公告"
    export = await client.get("/keywords/export?format=csv")
    body = await export.read()
    assert body.startswith(b"\xef\xbb\xbf") and "看公告" in body.decode("utf-8-sig")
    assert "attachment" in export.headers["Content-Disposition"]


async def test_welcome_page_saves_a_group_welcome(client):
    csrf = await manager(client)
    resp = await client.post("/welcome", data={"text": "欢迎 {nickname} 来到{group}", "groups": "宝妈群",
                                               "window": "10s", "enabled": "on", "csrf_token": csrf})
    assert resp.status == 200
    page = await resp.text()
    assert "欢迎语已保存" in page and re.search(r"欢迎 \{nickname\} 来到\{group\}", page)
    engine = client.app[BOT].keyword_stage.engine
    assert engine.welcome.select("g_mom", "宝妈群", []) is not None
    bad = await client.post("/welcome", data={"text": "欢迎 {who}", "csrf_token": csrf})
    assert bad.status == 422 and "未知的占位符" in await bad.text()


async def test_welcome_page_refuses_an_unknown_member_tag_and_suggests_the_close_one(client):
    csrf = await manager(client)
    store = client.app[STORE]
    service.add_tag(store, "sim:u_mama_wang", "VIP", "ops")
    resp = await client.post("/welcome", data={"text": "VIP {nickname} 好", "member_tags": "VIPP",
                                               "window": "10s", "enabled": "on", "csrf_token": csrf})
    page = html.unescape(await resp.text())
    assert resp.status == 422 and "未知的成员标签：VIPP，您是不是要找：VIP" in page
    assert not any(r["spec"].get("member_tags") for r in store.keywords.list_welcome())
    resp = await client.post("/welcome", data={"text": "VIP {nickname} 好", "member_tags": "VIP",
                                               "window": "10s", "enabled": "on", "csrf_token": csrf})
    assert resp.status == 200 and "成员:VIP" in await resp.text()


async def test_second_page_of_a_search_keeps_the_search_text(client):
    await manager(client)
    store = client.app[STORE]
    for i in range(60):
        save_rule(store, {"keyword": f"满199+减30 第{i}档", "match": "contains", "reply": "见群公告"}, source="console")
    save_rule(store, {"keyword": "满199 减30", "match": "contains", "reply": "不该出现"}, source="console")
    first = await (await client.get("/keywords", params={"q": "满199+减30"})).text()
    link = re.search(r'<a href="(/keywords\?[^"]*page=2)"', first)
    assert link, "no link to page 2"
    second = await (await client.get(html.unescape(link.group(1)))).text()
    assert "第59档" in second and "第0档" not in second  # rules 50-59 of the 60 that match
    assert "满199 减30" not in second
