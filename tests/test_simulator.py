"""The simulator over real HTTP: removed and muted members, the 私聊 tab, the 为什么 trace link."""

from __future__ import annotations

import pytest

from bot.adapters.sim_state import zh_duration
from bot.web.app import create_app
from bot.web.keys import CLOCK, STORE
from tests.conftest import login, make_settings, wait_until


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def say(client, csrf: str, member_id: str, text: str, chat_id: str = "g_mom"):
    return await client.post("/sim/api/send", json={"chat_id": chat_id, "member_id": member_id, "text": text},
                             headers={"X-CSRF-Token": csrf})


async def members(client, chat_id: str = "g_mom") -> dict[str, dict]:
    data = await (await client.get(f"/sim/api/chats/{chat_id}/messages")).json()
    return {m["id"]: m for m in data["members"]}


async def messages(client, url: str) -> list[dict]:
    return (await (await client.get(url)).json())["messages"]


async def test_removed_member_stays_listed_and_cannot_speak(client):
    csrf = await login(client)
    assert (await say(client, csrf, "u_tiantian", "代开发票找我")).status == 202  # a "kick" word

    async def removed():
        return (await members(client)).get("u_tiantian", {}).get("state") == "removed"

    await wait_until(removed)
    gone = (await members(client))["u_tiantian"]
    assert gone["reason"] == "已被移出群" and gone["can_post"] is False
    resp = await say(client, csrf, "u_tiantian", "我还在吗")
    assert resp.status == 403 and "已被移出群" in await resp.text()
    # the others still speak
    assert (await members(client))["u_mama_wang"]["can_post"] is True


async def test_muted_member_cannot_post_and_sees_until_when(client):
    csrf = await login(client)
    # strike ladder: warn, then mute 1 day
    for text in ("你个傻逼", "傻逼又来了"):
        assert (await say(client, csrf, "u_mama_wang", text)).status == 202

        async def handled(text=text):
            msgs = await messages(client, "/sim/api/chats/g_mom/messages")
            return any(m["text"] == text and m["status"] not in ("received",) for m in msgs)

        await wait_until(handled)

    async def muted():
        return (await members(client))["u_mama_wang"]["state"] == "muted"

    await wait_until(muted)
    state = (await members(client))["u_mama_wang"]
    assert state["can_post"] is False
    assert "已被禁言，还剩 23 小时 59 分钟" in state["reason"] or "已被禁言，还剩 1 天" in state["reason"]
    assert "（至 " in state["reason"]
    resp = await say(client, csrf, "u_mama_wang", "说句话")
    assert resp.status == 403 and "已被禁言" in await resp.text()
    # the group notice says how long in days/hours/minutes, not 1440 分钟
    notices = [m["text"] for m in await messages(client, "/sim/api/chats/g_mom/messages") if m["sender_id"] == "system"]
    assert any("已被禁言 1 天" in t for t in notices), notices


def test_durations_read_in_days_hours_minutes():
    assert zh_duration(86400) == "1 天"
    assert zh_duration(86400 + 2 * 3600 + 5 * 60 + 7) == "1 天 2 小时 5 分钟"
    assert zh_duration(30) == "不到 1 分钟"


async def test_moderator_review_notice_shows_in_private_tab(client):
    csrf = await login(client)
    assert (await say(client, csrf, "u_mama_wang", "拼夕夕上买的")).status == 202  # held for review

    async def notified():
        return any("【审核提醒】" in m["text"] for m in await messages(client, "/sim/api/private/u_lin/messages"))

    await wait_until(notified)
    page = await (await client.get("/sim")).text()
    assert "私聊" in page and "/sim?private=u_lin" in page and "林姐" in page
    page = await (await client.get("/sim?private=u_lin")).text()
    assert "与 林姐 的私聊" in page
    # the group log does not mix in private messages
    assert not any("【审核提醒】" in m["text"] for m in await messages(client, "/sim/api/chats/g_mom/messages"))


async def test_each_message_links_to_its_decision_trace(client):
    csrf = await login(client)
    resp = await say(client, csrf, "u_mama_wang", "/help")
    uid = (await resp.json())["message_id"]

    async def answered():
        msgs = await messages(client, "/sim/api/chats/g_mom/messages")
        return [m for m in msgs if m["direction"] == "out" and "可用命令" in m["text"]]

    reply = (await wait_until(answered))[0]
    msgs = {m["uid"]: m for m in await messages(client, "/sim/api/chats/g_mom/messages")}
    assert msgs[uid]["why"] == uid and reply["why"] == uid  # the reply explains itself by its cause

    async def traced():
        r = await client.get(f"/sim/why/{uid}", headers={"Accept": "application/json"})
        return [d["stage"] for d in (await r.json())["decisions"]]

    stages = await wait_until(traced)
    assert "commands" in stages
    page = await (await client.get(f"/sim/why/{uid}")).text()
    assert "命令" in page and "/help" in page and "去重" in page
    assert 'href="/sim?chat=g_mom">← 返回模拟器' in page
    assert (await client.get("/sim/why/sim:nope")).status == 404


async def test_a_mute_is_enforced_however_many_notices_about_others_follow(client):
    csrf = await login(client)
    store, now = client.app[STORE], client.app[CLOCK].now()

    def notice(i: int, action: dict) -> dict:
        return {"uid": f"sim:act:t{i}", "platform": "sim", "chat_id": "g_mom", "chat_kind": "group",
                "sender_id": "system", "sender_name": "系统", "text": "[系统]", "time": now, "raw": {"action": action}}

    store.messages.record_outgoing_many(
        [notice(0, {"action": "mute", "chat_id": "g_mom", "member_id": "u_mama_wang", "seconds": 3 * 3600})]
        + [notice(i, {"action": "recall", "chat_id": "g_mom", "member_id": "u_tiantian"}) for i in range(1, 601)])
    resp = await say(client, csrf, "u_mama_wang", "我能说话吗")
    assert resp.status == 403 and "已被禁言，还剩 2 小时 59 分钟" in await resp.text()
