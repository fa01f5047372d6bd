"""Members under moderation against a stand-in OneBot v11 implementation speaking the real
frames over the reverse WebSocket: join requests (request/group → set_group_add_request), the
brand-wide blacklist (set_group_kick everywhere, CLI changes picked up by the running bot),
probation, entry mute with a confirmation phrase, curfew (set_group_whole_ban), the muted list
with 解除禁言, per-group policies and strike revoke."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.store import Store
from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from moderation.curfew import CurfewClock, latest_edge
from tests.conftest import ROOT, login, make_settings, wait_until

FIXTURES = Path(__file__).parent / "fixtures" / "onebot"
TOKEN = "onebot-access-token-xyz"
WORDS = ({"word": "代开发票", "category": "广告", "action": "strike"},)


def payload(name: str, **changes: Any) -> dict[str, Any]:
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def message(text: str, user: int, group: int = 123456, mid: int = 5000, **extra: Any) -> dict[str, Any]:
    return {"time": 1700000100, "self_id": 10001, "post_type": "message", "message_type": "group",
            "sub_type": "normal", "message_id": mid, "group_id": group, "user_id": user, "message": text,
            "font": 0, "sender": {"user_id": user, "nickname": f"成员{user}", "card": ""}, **extra}


class StandIn:
    """A OneBot v11 implementation: sends events, answers every action "ok", keeps them."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.actions: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._answer())

    async def _answer(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            self.actions.append(frame)
            await self.ws.send_json({"status": "ok", "retcode": 0, "data": {"message_id": 9000 + len(self.actions)},
                                     "echo": frame["echo"]})

    def named(self, action: str) -> list[dict[str, Any]]:
        return [a["params"] for a in self.actions if a["action"] == action]

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()


def settings_for(tmp_path: Path, policies: list[dict[str, Any]] | None = None, **extra: Any):
    onebot = {"enabled": True, "version": 11, "access_token": TOKEN, "self_id": "10001"}
    moderation = {"rules": {"rate": False, "flood": False}, "policies": policies or []}
    return make_settings(tmp_path, bot={"demo": False}, adapters={"onebot": onebot}, moderation=moderation, **extra)


async def start(aiohttp_client, tmp_path: Path, policies: list[dict[str, Any]] | None = None):
    settings = settings_for(tmp_path, policies)
    store = Store(settings.database_path)
    store.lexicon.add_words(list(WORDS))
    app = create_app(settings, store=store)

    async def close(_app: Any) -> None:
        store.close()

    app.on_cleanup.append(close)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/onebot/ws", headers={"Authorization": f"Bearer {TOKEN}", "X-Self-ID": "10001",
                                                       "X-Client-Role": "Universal"})
    return client, StandIn(ws)


# -- join requests ----------------------------------------------------------------------------

JOIN_POLICY = {"name": "会员群", "groups": ["123456"], "join_keywords": ["会员卡"], "join_default": "approve"}


async def test_join_request_with_the_keyword_is_approved_through_set_group_add_request(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path, [JOIN_POLICY])
    await onebot.ws.send_json(payload("v11_group_request"))
    await wait_until(lambda: onebot.named("set_group_add_request"))
    assert onebot.named("set_group_add_request") == [{"flag": "1700000004000000", "sub_type": "add", "approve": True}]
    store = client.app[STORE]
    assert store.guard.join_requests(None)[0]["status"] == "approved"
    await onebot.close()


async def test_join_request_without_the_keyword_is_refused_with_the_reason(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path, [JOIN_POLICY])
    await onebot.ws.send_json(payload("v11_group_request", comment="随便看看", flag="f-2"))
    answer = (await wait_until(lambda: onebot.named("set_group_add_request")))[0]
    assert answer == {"flag": "f-2", "sub_type": "add", "approve": False, "reason": "验证信息不符合入群要求"}
    trace = client.app[STORE].messages.decisions("onebot:request:f-2")
    assert any("验证信息不含关键词" in d["reason"] for d in trace)
    await onebot.close()


async def test_held_join_request_is_answered_from_the_console_queue(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path, [{**JOIN_POLICY, "join_default": "review"}])
    await onebot.ws.send_json(payload("v11_group_request"))
    store = client.app[STORE]
    req = (await wait_until(lambda: store.guard.join_requests("pending")))[0]
    assert not onebot.named("set_group_add_request")
    token = await login(client, "mod", "moderator")
    page = await (await client.get("/moderation/joins")).text()
    assert "会员卡号 8866" in page and "同意" in page
    resp = await client.post(f"/moderation/joins/{req['id']}/approve", data={"csrf_token": token})
    assert resp.status == 200
    assert onebot.named("set_group_add_request") == [{"flag": "1700000004000000", "sub_type": "add", "approve": True}]
    assert store.guard.get_join_request(req["id"])["status"] == "approved"
    assert any(e["action"] == "moderation.join.approve" for e in store.accounts.audit_entries())
    await onebot.close()


# -- blacklist --------------------------------------------------------------------------------

def cli(tmp_path: Path, *args: str, command: str = "blacklist") -> subprocess.CompletedProcess[str]:
    """The real `qunbot` in another process, on the running bot's database."""
    config = tmp_path / "cli.toml"
    if not config.exists():
        data_dir = json.dumps(str(tmp_path / "data"))
        config.write_text(f'[bot]\ndata_dir = {data_dir}\ndemo = false\n[[groups]]\nid = "123456"\n'
                          f'platform = "onebot"\nmoderators = ["20099"]\n'
                          f'[adapters.onebot]\nenabled = true\nself_id = "10001"\naccess_token = "x"\n',
                          encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "bot", *command.split(), *args, "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


async def test_blacklist_added_from_the_cli_removes_the_member_from_every_group(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path)
    for i, group in enumerate((111, 222, 333)):
        await onebot.ws.send_json(message("大家好", 20007, group=group, mid=6000 + i))
    store = client.app[STORE]
    await wait_until(lambda: len(store.guard.member_groups("onebot", "20007")) == 3)
    await onebot.ws.send_json(payload("v11_group_request", user_id=20007, flag="f-bl", group_id=444))
    await wait_until(lambda: store.guard.join_requests("pending"))

    done = await asyncio.to_thread(cli, tmp_path, "add", "onebot:20007", "--reason", "广告引流")
    assert done.returncode == 0, done.stderr
    # the running bot notices within seconds: removed from the 3 groups, pending request refused
    await wait_until(lambda: len(onebot.named("set_group_kick")) == 3)
    assert sorted(p["group_id"] for p in onebot.named("set_group_kick")) == [111, 222, 333]
    refused = await wait_until(lambda: onebot.named("set_group_add_request"))
    assert refused == [{"flag": "f-bl", "sub_type": "add", "approve": False, "reason": "您已被列入黑名单"}]
    expected = {"blacklist.add", "blacklist.kick", "blacklist.join_refused", "platform.kick"}
    await wait_until(lambda: expected <= {e["action"] for e in store.accounts.audit_entries()})

    # a later join is removed at once
    await onebot.ws.send_json(payload("v11_group_increase", user_id=20007, group_id=555))
    await wait_until(lambda: any(p["group_id"] == 555 for p in onebot.named("set_group_kick")))
    listed = await asyncio.to_thread(cli, tmp_path, "list", "--json")
    assert json.loads(listed.stdout)[0]["ref"] == "onebot:20007"
    await onebot.close()


def test_blacklisting_staff_the_bot_or_a_bad_ref_is_refused(tmp_path):
    Store(tmp_path / "data" / "qunbot.db").close()
    for ref, why in (("onebot:20099", "工作人员"), ("onebot:10001", "机器人自己"), ("20007", "平台:用户ID")):
        done = cli(tmp_path, "add", ref, "--reason", "x")
        assert done.returncode == 2 and why in done.stderr, (ref, done.stderr)
    assert cli(tmp_path, "remove", "onebot:1").returncode == 2


async def test_blacklist_api_for_the_member_page(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path)
    token = await login(client, "mod", "moderator")
    headers = {"X-CSRF-Token": token}
    ok = await client.post("/moderation/api/blacklist", json={"ref": "onebot:20030", "reason": "诈骗"}, headers=headers)
    assert ok.status == 200 and (await ok.json())["added"] is True
    bad = await client.post("/moderation/api/blacklist", json={"ref": "onebot:10001", "reason": "x"}, headers=headers)
    assert bad.status == 400 and "机器人" in (await bad.json())["error"]
    junk = await client.post("/moderation/api/blacklist", data=b"[", headers={**headers,
                                                                               "Content-Type": "application/json"})
    assert junk.status == 400
    assert "onebot:20030" in await (await client.get("/moderation/blacklist")).text()
    await onebot.close()


# -- muted list, strikes, policies ------------------------------------------------------------------

async def test_muted_list_shows_days_and_unmutes_through_the_platform(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path)
    store = client.app[STORE]
    bot = client.app[BOT]
    await bot.store.run(bot.moderation_stage.strikes.record, "onebot", "123456", "20003", "warn", "前一次")
    bot.moderation_stage.strikes.preload()
    await onebot.ws.send_json(message("低价代开发票", 20003, mid=7001))  # second strike: mute 1 day
    await wait_until(lambda: onebot.named("set_group_ban"))
    await wait_until(lambda: store.guard.active_mutes(bot.clock.now()))
    token = await login(client, "mod", "moderator")
    page = await (await client.get("/moderation/muted")).text()
    assert "成员20003" in page and ("23 小时" in page or "1 天" in page)
    assert "86400" not in page and "秒" not in page
    flag = store.moderation.list_flags(status=None)[0]
    detail = await (await client.get(f"/moderation/review/{flag['id']}")).text()
    assert "禁言 1 天" in detail and "86400" not in detail  # the strike history, in days
    mute = store.guard.active_mutes(bot.clock.now())[0]
    resp = await client.post(f"/moderation/muted/{mute['id']}/unmute", data={"csrf_token": token})
    assert "已解除" in await resp.text()
    assert onebot.named("set_group_ban")[-1] == {"group_id": 123456, "user_id": 20003, "duration": 0}
    await wait_until(lambda: not store.guard.active_mutes(bot.clock.now()))
    await onebot.close()


async def test_strike_revoke_lowers_the_next_step(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path)
    store = client.app[STORE]
    bot = client.app[BOT]
    await onebot.ws.send_json(message("代开发票", 20004, mid=7101))
    flag = (await wait_until(lambda: store.moderation.list_flags(status=None)))[0]
    strike = (await wait_until(lambda: store.moderation.strikes("onebot", "123456", "20004")))[0]
    token = await login(client, "mod", "moderator")
    detail = await (await client.get(f"/moderation/review/{flag['id']}")).text()
    assert "警告" in detail and "撤销" in detail
    await client.post(f"/moderation/strikes/{strike['id']}/revoke", data={"csrf_token": token})
    assert store.moderation.active_strikes("onebot", "123456", "20004", bot.clock.now()) == 0
    await onebot.ws.send_json(message("代开发票", 20004, mid=7102))  # a first strike again: a warning, no mute
    await wait_until(lambda: len(store.moderation.strikes("onebot", "123456", "20004")) == 2)
    assert not onebot.named("set_group_ban")
    await onebot.close()


async def test_vip_group_policy_only_warns(aiohttp_client, tmp_path):
    policy = {"name": "VIP群", "groups": ["123456"], "max_action": "warn"}
    client, onebot = await start(aiohttp_client, tmp_path, [policy])
    store = client.app[STORE]
    for i in range(3):
        await onebot.ws.send_json(message("代开发票", 20005, mid=7200 + i))
    await wait_until(lambda: len(onebot.named("send_group_msg")) == 3)
    assert not onebot.named("set_group_ban") and not onebot.named("set_group_kick")
    assert not store.moderation.strikes("onebot", "123456", "20005")
    trace = store.messages.decisions("onebot:7202")
    assert any("按“VIP群”策略" in d["reason"] for d in trace)
    await onebot.close()


# -- probation, entry mute ------------------------------------------------------------------------

async def test_new_member_image_is_held_during_probation(aiohttp_client, tmp_path):
    policy = {"name": "新人群", "groups": ["123456"], "probation": "24h"}
    client, onebot = await start(aiohttp_client, tmp_path, [policy])
    store = client.app[STORE]
    await onebot.ws.send_json(payload("v11_group_increase", user_id=20006))
    await wait_until(lambda: store.chats.get_member("onebot", "123456", "20006"))
    await onebot.ws.send_json(message("看看[CQ:image,file=a.image]", 20006, mid=7301))
    flag = (await wait_until(lambda: store.moderation.list_flags()))[0]
    assert flag["member_id"] == "20006" and flag["category"] == "新成员观察期"
    trace = store.messages.decisions("onebot:7301")
    assert any("新成员观察期（入群 1 天 内）不能发图片，转人工审核" in d["reason"] for d in trace)
    await onebot.ws.send_json(message("看看[CQ:image,file=b.image]", 20016, mid=7302))  # not new: passes
    await wait_until(lambda: store.messages.get("onebot:7302"))
    assert len(store.moderation.list_flags()) == 1
    await onebot.close()


async def test_entry_mute_is_lifted_by_the_confirmation_phrase(aiohttp_client, tmp_path):
    policy = {"groups": ["123456"], "entry_mute": "3d", "confirm_phrase": "我已阅读群规"}
    _client, onebot = await start(aiohttp_client, tmp_path, [policy])
    await onebot.ws.send_json(payload("v11_group_increase", user_id=20009))
    await wait_until(lambda: onebot.named("set_group_ban"))
    assert onebot.named("set_group_ban")[0] == {"group_id": 123456, "user_id": 20009, "duration": 3 * 86400}
    await onebot.ws.send_json(payload("v11_private_message", user_id=20009, message="我已阅读群规", message_id=7401))
    await wait_until(lambda: len(onebot.named("set_group_ban")) == 2)
    assert onebot.named("set_group_ban")[1] == {"group_id": 123456, "user_id": 20009, "duration": 0}
    await onebot.close()


# -- curfew -----------------------------------------------------------------------------------------

def test_latest_curfew_edge_wraps_past_midnight():
    from datetime import datetime

    assert latest_edge(["23:00-07:00"], datetime(2026, 12, 4, 2, 0)) == (datetime(2026, 12, 3, 23, 0), True)
    assert latest_edge(["23:00-07:00"], datetime(2026, 12, 4, 12, 0)) == (datetime(2026, 12, 4, 7, 0), False)
    assert latest_edge(["12:00-13:30"], datetime(2026, 12, 4, 13, 30)) == (datetime(2026, 12, 4, 13, 30), False)


async def test_curfew_turns_whole_ban_on_once_per_edge_across_restarts(aiohttp_client, tmp_path):
    policy = {"groups": ["123456"], "curfew": ["00:00-23:59"]}
    client, onebot = await start(aiohttp_client, tmp_path, [policy])
    store = client.app[STORE]
    await store.run(store.chats.upsert_chat, "onebot", "123456")
    bot = client.app[BOT]
    await wait_until(lambda: onebot.named("set_group_whole_ban"), timeout=20)
    # a second tick and a "restarted" clock submit nothing new: the ledger has the edge
    assert await CurfewClock(bot.services, bot.settings.moderation.policies).tick() == []
    await asyncio.sleep(0.2)
    assert onebot.named("set_group_whole_ban") == [{"group_id": 123456, "enable": True}] or \
        onebot.named("set_group_whole_ban") == [{"group_id": 123456, "enable": False}]
    await onebot.close()


async def test_blacklist_entry_added_while_the_bot_was_down_is_enforced_at_start(aiohttp_client, tmp_path):
    settings = settings_for(tmp_path)
    with Store(settings.database_path) as store:
        store.chats.upsert_chat("onebot", "777", name="老群")
        store.chats.upsert_member("onebot", "777", "20011", "老用户")
        store.guard.blacklist_add("onebot:20011", "离线时拉黑", "cli")
    _client, onebot = await start(aiohttp_client, tmp_path)
    await wait_until(lambda: onebot.named("set_group_kick"))
    assert onebot.named("set_group_kick") == [{"group_id": 777, "user_id": 20011, "reject_add_request": False}]
    await onebot.close()


async def test_unmute_from_the_cli_reaches_the_platform_through_the_running_bot(aiohttp_client, tmp_path):
    client, onebot = await start(aiohttp_client, tmp_path)
    store = client.app[STORE]
    bot = client.app[BOT]
    await bot.perform("onebot", {"action": "mute", "chat_id": "123456", "member_id": "20013", "seconds": 7 * 86400,
                                 "member_name": "成员20013", "reason": "测试"})
    await wait_until(lambda: store.guard.active_mutes(bot.clock.now()))
    done = await asyncio.to_thread(cli, tmp_path, "unmute", "onebot:20013", "--group", "123456",
                                   command="moderation")
    assert done.returncode == 0, done.stderr
    await wait_until(lambda: len(onebot.named("set_group_ban")) == 2)
    assert onebot.named("set_group_ban")[1] == {"group_id": 123456, "user_id": 20013, "duration": 0}
    assert not store.guard.active_mutes(bot.clock.now())
    assert any(e["action"] == "moderation.unmute" and e["actor"] == "cli" for e in store.accounts.audit_entries())
    again = await asyncio.to_thread(cli, tmp_path, "unmute", "onebot:20013", "--group", "123456",
                                    command="moderation")
    assert again.returncode == 2 and "没有进行中的禁言" in again.stderr
