"""Review queue, lexicon and allowlist pages over real HTTP, as a moderator uses them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.kernel.events import ChatKind, Event
from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def held_message(client, text: str, member: str = "u_spam", n: int = 1, minutes_ago: float = 0) -> Event:
    bot = client.app[BOT]
    store = client.app[STORE]
    if not store.lexicon.list_words(q="竞品牌"):
        store.lexicon.add_words([{"word": "竞品牌", "category": "竞品", "action": "review"}])
        bot.moderation_stage.engine.reload()
    at = bot.clock.now() - timedelta(minutes=minutes_ago)
    event = Event("sim", "g_mom", ChatKind.GROUP, member, "广告哥", f"spam{n}", at, text)
    outcome = await bot.handle(event)
    assert outcome.status == "held"
    await bot.recorder.flush()
    return event


def pending(client) -> list[dict]:
    return client.app[STORE].moderation.list_flags()


async def test_review_queue_shows_highlighted_match_to_moderator(client):
    await held_message(client, "快来买竞·品·牌吧")
    await login(client, "mod", "moderator")
    page = await (await client.get("/moderation/review")).text()
    assert "<mark>竞·品·牌</mark>" in page
    flag_id = pending(client)[0]["id"]
    detail = await (await client.get(f"/moderation/review/{flag_id}")).text()
    assert "<mark>竞·品·牌</mark>" in detail and "群聊上下文" in detail and "违规记录" in detail


async def test_confirm_applies_action_through_adapter_and_is_audited(client):
    event = await held_message(client, "快来买竞品牌")
    performed = []
    bot = client.app[BOT]

    async def perform(platform, action):
        performed.append((platform, action["action"]))
        return True

    bot.perform = perform
    csrf = await login(client, "mod", "moderator")
    flag_id = pending(client)[0]["id"]
    resp = await client.post(f"/moderation/review/{flag_id}/confirm", data={"csrf_token": csrf},
                             allow_redirects=False)
    assert resp.status == 302
    store = client.app[STORE]
    assert store.moderation.get_flag(flag_id)["status"] == "confirmed"
    assert ("sim", "recall") in performed
    assert store.moderation.active_strikes("sim", "g_mom", event.sender_id, bot.clock.now()) == 1
    audit = store.accounts.audit_entries(action="moderation.review.confirm")
    assert audit and audit[0]["actor"] == "mod" and audit[0]["target"] == str(flag_id)
    # a second click (another moderator) does nothing
    await client.post(f"/moderation/review/{flag_id}/confirm", data={"csrf_token": csrf})
    assert performed.count(("sim", "recall")) == 1


async def test_approve_closes_flag_without_action_and_keeps_sample(client):
    await held_message(client, "竞品牌其实也还行")
    csrf = await login(client, "mod", "moderator")
    flag_id = pending(client)[0]["id"]
    await client.post(f"/moderation/review/{flag_id}/approve", data={"csrf_token": csrf, "note": "正常讨论"})
    store = client.app[STORE]
    flag = store.moderation.get_flag(flag_id)
    assert flag["status"] == "approved" and flag["decided_by"] == "mod" and flag["note"] == "正常讨论"
    assert store.lexicon.sample_counts() == {"ham": 1}
    assert store.accounts.audit_entries(action="moderation.review.approve")


async def approve_and_listen(client, flag_id: int) -> tuple[str, list[str]]:
    """Approve as a moderator; (the page shown after, what the bot then said in 宝妈群)."""
    csrf = await login(client, "mod", "moderator")
    resp = await client.post(f"/moderation/review/{flag_id}/approve", data={"csrf_token": csrf})
    page = await resp.text()
    await client.app[BOT].outbox.drain()
    said = [m["text"] for m in client.app[STORE].messages.recent(20)
            if m["direction"] == "out" and m["chat_id"] == "g_mom"]
    return page, said


async def test_an_approved_question_gets_the_answer_the_hold_kept_back(client):
    event = await held_message(client, "竞品牌什么时候发货？")
    page, said = await approve_and_listen(client, pending(client)[0]["id"])
    assert "已补发回答" in page
    assert any("48 小时内发货" in text for text in said)
    store = client.app[STORE]
    assert store.messages.get(event.uid)["status"] == "answered"
    traces = [r["stage"] for r in store.messages.query(
        "SELECT stage FROM decisions WHERE message_uid = ? ORDER BY id", (event.uid,))]
    assert traces == ["moderation", "intents"]  # held, then answered after approval


async def test_an_old_held_message_is_approved_without_a_late_answer(client):
    event = await held_message(client, "竞品牌什么时候发货？", minutes_ago=30)
    page, said = await approve_and_listen(client, pending(client)[0]["id"])
    assert "已过时" in page
    assert said == []
    assert client.app[STORE].messages.get(event.uid)["status"] == "held"


async def test_bulk_approve(client):
    for i in range(3):
        await held_message(client, f"竞品牌 第{i}条", n=i)
    csrf = await login(client, "mod", "moderator")
    ids = [str(f["id"]) for f in pending(client)]
    await client.post("/moderation/review/bulk", data=[("csrf_token", csrf), ("decision", "approve"),
                                                       *[("id", i) for i in ids]])
    assert pending(client) == []


async def test_filters_by_category(client):
    await held_message(client, "竞品牌")
    await login(client, "mod", "moderator")
    page = await (await client.get("/moderation/review?category=色情")).text()
    assert "没有符合条件的条目" in page
    page = await (await client.get("/moderation/review?category=竞品&age=24h")).text()
    assert "<mark>竞品牌</mark>" in page


async def test_word_added_in_console_takes_effect_without_restart(client):
    csrf = await login(client, "mod", "moderator")
    bot = client.app[BOT]
    event = Event("sim", "g_mom", ChatKind.GROUP, "u1", "甲", "x1", bot.clock.now(), "出售新型违禁品")
    assert (await bot.try_event(event)).status == "passed"
    resp = await client.post("/moderation/lexicon/add", data={"csrf_token": csrf, "word": "违禁品",
                                                               "category": "违法", "action": "review"})
    assert resp.status == 200  # redirected back to the lexicon page
    assert "违禁品" in await resp.text()
    assert (await bot.try_event(event)).status == "held"
    assert client.app[STORE].accounts.audit_entries(action="moderation.word.add")


async def test_allowlist_from_review_page_suppresses_the_hit(client):
    await held_message(client, "竞品牌手机壳")
    csrf = await login(client, "mod", "moderator")
    await client.post("/moderation/allowlist/add", data={"csrf_token": csrf, "kind": "word", "value": "竞品牌手机壳"})
    bot = client.app[BOT]
    event = Event("sim", "g_mom", ChatKind.GROUP, "u1", "甲", "x2", bot.clock.now(), "买了竞品牌手机壳")
    assert (await bot.try_event(event)).status == "passed"
    page = await (await client.get("/moderation/allowlist")).text()
    assert "竞品牌手机壳" in page


async def test_lexicon_import_upload_reports_rejected_lines(client):
    csrf = await login(client, "mod", "moderator")
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("file", "赌球网,\r\n草\r\n百乐门赌场\r\n".encode("gbk"), filename="words.txt")
    page = await (await client.post("/moderation/lexicon/import", data=form)).text()
    assert "新增 2 个词" in page and "拒绝 1 行" in page and "GBK" in page


async def test_post_without_csrf_is_refused(client):
    await login(client, "mod", "moderator")
    resp = await client.post("/moderation/lexicon/add", data={"word": "xx词"})
    assert resp.status == 403


async def test_demo_lexicon_blocks_in_simulator_and_recalls(client):
    from tests.conftest import wait_until

    csrf = await login(client)
    resp = await client.post("/sim/api/send", json={"chat_id": "g_mom", "member_id": "u_mama_wang",
                                                      "text": "你个傻*逼"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 202
    uid = (await resp.json())["message_id"]
    store = client.app[STORE]

    async def handled():
        msgs = (await (await client.get("/sim/api/chats/g_mom/messages")).json())["messages"]
        recalled = any(m["uid"] == uid for m in msgs) and any("一条消息已被撤回" in m["text"] for m in msgs)
        warned = any(m["direction"] == "out" and "请文明交流" in m["text"] for m in msgs)
        struck = store.moderation.active_strikes("sim", "g_mom", "u_mama_wang", client.app[BOT].clock.now())
        return recalled and warned and struck == 1

    await wait_until(handled)
    # the recall shows as such in the chat, not overwritten by the batched "blocked" status
    await wait_until(lambda: store.messages.get(uid)["status"] == "recalled")
    flag = store.moderation.list_flags(status="applied")[0]
    assert flag["member_id"] == "u_mama_wang" and flag["word"] == "傻逼"


async def test_reload_button_trains_spam_model_from_review_decisions(client):
    csrf = await login(client, "mod", "moderator")
    store = client.app[STORE]
    store.lexicon.add_samples([("兼职刷单日结工资", True)] * 25 + [("明天几点开始秒杀", False)] * 25, "test")
    page = await (await client.post("/moderation/reload", data={"csrf_token": csrf})).text()
    assert "垃圾分训练样本 50 条" in page and "已训练" in page


def test_highlight_escapes_text_and_merges_overlapping_spans():
    from moderation.views import highlight

    text = "<b>买</b>竞品牌吧"
    marked = str(highlight(text, [{"start": 8, "end": 11}, {"start": 9, "end": 12}, {"start": 0, "end": 0}]))
    assert marked == "&lt;b&gt;买&lt;/b&gt;<mark>竞品牌</mark><mark>吧</mark>"
