"""The 成员 pages over real HTTP: search and filters, a member's page, tags and notes, and
an admin's export and deletion; roles decide who may do what."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings

MAMA = "sim:u_mama_wang"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def test_list_searches_filters_and_pages(client):
    await login(client, "mod", "moderator")
    page = await (await client.get("/members")).text()
    assert "王妈妈" in page and "李总" in page and "共 13 人" in page
    page = await (await client.get("/members", params={"q": "妈"})).text()
    assert "王妈妈" in page and "甜甜妈" in page and "李总" not in page
    page = await (await client.get("/members", params={"group": "g_vip"})).text()
    assert "李总" in page and "王妈妈" not in page
    store = client.app[STORE]
    store.members.add_tags([("sim", "u_boss_li", "VIP")])
    page = await (await client.get("/members", params={"tag": "VIP"})).text()
    assert "李总" in page and "Vivian" not in page
    page = await (await client.get("/members", params={"tag": "不存在"})).text()
    assert "未知的成员标签" in page
    # silent for 30 days: only the member last seen 40 days ago
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    with store.lock:
        store.conn.execute("UPDATE member_profiles SET last_seen_at = ? WHERE user_id = 'u_sun'", (old,))
    page = await (await client.get("/members", params={"silent": "30"})).text()
    assert "孙先生" in page and "共 1 人" in page
    # 13 demo members, bad page numbers are clamped, never a 500
    resp = await client.get("/members", params={"page": "abc", "silent": "-5"})
    assert resp.status == 200


async def test_muted_filter_and_member_page_show_the_mute_in_days(client):
    await login(client, "mod", "moderator")
    store = client.app[STORE]
    now = datetime.now(UTC)
    store.moderation.add_strike("sim", "g_mom", "u_tiantian", time=now, expires_at=now + timedelta(days=30),
                                step="mute:86400s", reason="广告")
    page = await (await client.get("/members", params={"muted": "1"})).text()
    assert "甜甜妈" in page and "共 1 人" in page
    page = await (await client.get("/members/sim:u_tiantian")).text()
    assert "禁言 1 天" in page and "禁言至" in page and "86400" not in page


async def test_member_page_shows_groups_messages_and_trace(client):
    await login(client, "mod", "moderator")
    page = await (await client.get(f"/members/{MAMA}")).text()
    assert "宝妈群" in page and "大家早上好" in page
    uid = client.app[STORE].members.recent_messages("sim", "u_mama_wang")[0]["uid"]
    trace = await client.get(f"/members/{MAMA}/trace/{uid}")
    assert trace.status == 200
    assert (await client.get("/members/sim:nobody")).status == 404
    assert (await client.get("/members/nonsense")).status == 404


async def test_manager_tags_reach_the_bot_and_the_audit_log(client):
    csrf = await login(client, "ops", "manager")
    resp = await client.post(f"/members/{MAMA}/tags", data={"tag": "VIP", "csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 302
    assert "VIP" in client.app[BOT].member_tags.tags_of("sim", "u_mama_wang")
    entries = client.app[STORE].accounts.audit_entries(action="member.tag.add")
    assert entries[0]["actor"] == "ops" and entries[0]["target"] == MAMA and entries[0]["detail"] == {"tag": "VIP"}
    await client.post(f"/members/{MAMA}/tags", data={"tag": "VIP", "remove": "1", "csrf_token": csrf})
    assert "VIP" not in client.app[BOT].member_tags.tags_of("sim", "u_mama_wang")
    page = await (await client.post(f"/members/{MAMA}/tags", data={"tag": "a b", "csrf_token": csrf})).text()
    assert "标签" in page and "无效" in page


async def test_moderator_notes_but_cannot_tag_export_or_delete(client):
    csrf = await login(client, "mod", "moderator")
    resp = await client.post(f"/members/{MAMA}/notes", data={"text": "常问物流", "csrf_token": csrf})
    assert "常问物流" in await resp.text()
    assert (await client.post(f"/members/{MAMA}/tags", data={"tag": "VIP", "csrf_token": csrf})).status == 403
    assert (await client.get(f"/members/{MAMA}/export")).status == 403
    assert (await client.post(f"/members/{MAMA}/delete", data={"confirm": MAMA, "csrf_token": csrf})).status == 403


async def test_admin_exports_then_deletes_with_confirmation(client):
    csrf = await login(client, "boss", "admin")
    resp = await client.get(f"/members/{MAMA}/export", params={"format": "json"})
    assert resp.status == 200
    assert json.loads(await resp.text())["messages"][0]["text"].startswith("大家早上好")
    csv_text = await (await client.get(f"/members/{MAMA}/export", params={"format": "csv"})).text()
    assert "大家早上好" in csv_text
    # a wrong confirmation deletes nothing
    page = await (await client.post(f"/members/{MAMA}/delete", data={"confirm": "x", "csrf_token": csrf})).text()
    assert "确认内容不对" in page
    assert "大家早上好" in await (await client.get(f"/members/{MAMA}/export")).text()
    page = await (await client.post(f"/members/{MAMA}/delete", data={"confirm": MAMA, "csrf_token": csrf})).text()
    assert "已删除" in page
    after = await (await client.get(f"/members/{MAMA}/export")).text()
    assert "大家早上好" not in after and "王妈妈" not in after
    entry = client.app[STORE].accounts.audit_entries(action="member.delete")[0]
    assert entry["actor"] == "boss" and entry["detail"] == {}


async def test_list_pages_through_many_members(client):
    await login(client, "mod", "moderator")
    store = client.app[STORE]
    for i in range(60):
        store.members.upsert("onebot", "100", f"{10000 + i}", f"群友{i:02d}")
    first = await (await client.get("/members")).text()
    assert "共 73 人" in first and "第 1 / 2 页" in first and "下一页" in first
    second = await (await client.get("/members", params={"page": "2"})).text()
    assert "第 2 / 2 页" in second and "上一页" in second
    shown = {n for n in (f"群友{i:02d}" for i in range(60)) if n in first or n in second}
    assert len(shown) == 60
