"""群SOP console pages over real HTTP: create with validation, list, edit, pause, per-member status."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings

STEPS = '''[[steps]]
after = "0d"
text = "欢迎 {nickname} 加入{group}！"
private = true

[[steps]]
after = "3d 10:00"
text = "第 3 天：{nickname} 的小贴士"
'''
FORM = {"id": "新人三步", "anchor": "member_joined", "tags": "宝妈", "enabled": "on", "misfire_grace": "",
        "steps": STEPS}
CONFIG_SOP = [{"id": "from_file", "anchor": "group_tagged", "tags": ["VIP"],
               "steps": [{"after": "1d", "text": "VIP 群福利"}]}]


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path, sop=CONFIG_SOP)))


async def test_manager_creates_a_sequence_and_sees_a_new_members_steps(client):
    token = await login(client, "ops", "manager")
    resp = await client.post("/sop/new", data={**FORM, "csrf_token": token}, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    page = await (await client.get(resp.headers["Location"])).text()
    assert "新人三步" in page and "私聊成员" in page and "第 3 天：{nickname} 的小贴士" in page
    listing = await (await client.get("/sop")).text()
    assert "新人三步" in listing and "from_file" in listing and "来自配置文件" in listing

    bot = client.app[BOT]
    await bot.store.run(bot.store.chats.upsert_member, "sim", "g_mom", "u_new", "新妈妈", joined=True)
    await bot.scheduler.sop.run_due()
    member = await (await client.get("/sop/member", params={"ref": "sim:u_new"})).text()
    assert "欢迎 新妈妈 加入宝妈群！" in member and "第 3 天：新妈妈 的小贴士" in member
    assert "待发送" in member or "已发送" in member
    unknown = await (await client.get("/sop/member", params={"ref": "谁也不是"})).text()
    assert "找不到成员" in unknown
    audit = client.app[STORE].conn.execute("SELECT action, target FROM audit_log").fetchall()
    assert ("sop.create", "sop:新人三步") in audit


async def test_bad_sequence_form_is_shown_again_with_the_key_and_a_chinese_reason(client):
    token = await login(client, "ops", "manager")
    bad = STEPS.replace('"3d 10:00"', '"三天后"').replace("{nickname} 的", "{coupon} 的")
    resp = await client.post("/sop/new", data={**FORM, "steps": bad, "csrf_token": token})
    assert resp.status == 400
    text = await resp.text()
    assert "steps[1].after" in text and "3d 10:00" in text
    resp = await client.post("/sop/new", data={**FORM, "steps": "[[steps]\nafter=", "csrf_token": token})
    assert resp.status == 400 and "步骤不是有效的 TOML" in await resp.text()
    resp = await client.post("/sop/new", data={**FORM, "steps": STEPS.replace("{nickname} 的", "{coupon} 的"),
                                               "csrf_token": token})
    assert resp.status == 400 and "未知的占位符 {coupon}" in await resp.text()


async def test_edit_and_pause_a_console_sequence_but_not_a_config_one(client):
    token = await login(client, "ops", "manager")
    await client.post("/sop/new", data={**FORM, "id": "seq1", "csrf_token": token})
    form = await (await client.get("/sop/seq1/edit")).text()
    assert "3d 10:00" in form and "欢迎 {nickname} 加入{group}！" in form
    resp = await client.post("/sop/seq1/edit", data={**FORM, "steps": STEPS.replace("小贴士", "新贴士"),
                                                      "csrf_token": token}, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    store = client.app[STORE]
    assert "新贴士" in store.sop.get_sequence("seq1")["spec"]["steps"][1]["text"]
    resp = await client.post("/sop/seq1/action", data={"action": "pause", "csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 302 and store.sop.get_sequence("seq1")["status"] == "paused"
    resp = await client.post("/sop/from_file/edit", data={**FORM, "csrf_token": token})
    assert resp.status == 400 and "config.toml" in await resp.text()
    assert (await client.get("/sop/nope")).status == 404
