"""WeCom customer groups (客户联系) over real HTTP against a stand-in written from the docs:
sync with cursor paging, encrypted change_external_chat callbacks, 企业群发 as one task per
owner within the corp's limit, progress polling and reminders, token expiry, errors."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.base import Delivery, PermanentSendError
from bot.adapters.callback_guard import parse_xml
from bot.adapters.wecom import WecomAdapter
from bot.adapters.wxcrypto import WxCrypto
from bot.config import settings_from_dict
from bot.kernel.clock import FakeClock
from bot.services import Services
from bot.store import Store
from bot.web.app import create_app
from bot.web.keys import ADAPTERS, STORE
from schedules.scheduler import Scheduler
from schedules.service import ScheduleService
from tests.conftest import login, make_settings, wait_until
from tests.wecom_contact_server import CONTACT_SECRET, CORP, FakeContact

# the official WeCom callback sample's Token and EncodingAESKey (public test values)
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
SECRET = "app-secret-never-logged-123"
PATH = "/wecom/callback"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeContact()
    fake.server = await aiohttp_server(fake.app())
    return fake


def wecom_conf(fake: FakeContact, **extra) -> dict:
    return {"enabled": True, "corp_id": CORP, "agent_id": 1000002, "secret": SECRET, "token": TOKEN,
            "encoding_aes_key": KEY, "contact_secret": CONTACT_SECRET, "api_base": str(fake.server.make_url("")),
            **extra}


def three_owners(fake: FakeContact, per_owner: int = 10) -> None:
    """30 customer groups of 3 owners, each with the owner and two customers."""
    for o in ("alice", "bob", "carol"):
        for i in range(per_owner):
            fake.add_group(f"wr{o}{i:02d}", o, f"{o}的客户群{i}", members=[
                {"userid": o, "type": 1, "join_time": 1700000000, "join_scene": 1, "invitor": {"userid": o},
                 "group_nickname": "", "name": o},
                {"userid": f"wm{o}{i}a", "type": 2, "join_time": 1700000100, "join_scene": 3,
                 "group_nickname": "小A", "name": "客户A"},
                {"userid": f"wm{o}{i}b", "type": 2, "join_time": 1700000200, "join_scene": 2,
                 "invitor": {"userid": o}, "group_nickname": "", "name": "客户B"},
            ])


def standalone_adapter(fake: FakeContact, store: Store, **extra) -> WecomAdapter:
    settings = settings_from_dict({"adapters": {"wecom": wecom_conf(fake, **extra)}})
    adapter = WecomAdapter(settings.adapters.wecom)
    assert adapter.contact is not None
    adapter.contact.store = store
    adapter.contact.api.backoff_cap = 0.01
    return adapter


# -- sync ------------------------------------------------------------------------------

async def test_full_sync_pages_through_every_group_into_chats_and_members(fake, tmp_path):
    three_owners(fake, per_owner=5)
    fake.groups["wralice00"]["notice"] = "每天早上十点秒杀"
    fake.page_cap = 4  # 15 groups → 4 pages
    store = Store(tmp_path / "q.db")
    adapter = standalone_adapter(fake, store)
    try:
        counts = await adapter.contact.sync()
    finally:
        await adapter.stop()
    assert counts == {"groups": 15, "members": 45}
    pages = [b for name, b in fake.calls if name == "groupchat/list"]
    assert len(pages) == 4 and "cursor" not in pages[0] and pages[1]["cursor"] == "4"
    chats = store.chats.list_chats("wecom", kind="customer_group")
    assert len(chats) == 15 and {c["name"] for c in chats} >= {"alice的客户群0", "carol的客户群4"}
    group = store.wecom_contact.group("wralice00")
    assert group["owner"] == "alice" and group["notice"] == "每天早上十点秒杀"
    members = {m["userid"]: m for m in store.wecom_contact.group_members("wralice00")}
    assert members["alice"]["member_type"] == 1 and members["wmalice0a"]["member_type"] == 2
    assert members["wmalice0a"]["join_scene"] == 3 and members["wmalice0b"]["invitor"] == "alice"
    chat_members = {m["member_id"]: m for m in store.chats.list_members("wecom", "wralice00")}
    assert set(chat_members) == {"alice", "wmalice0a", "wmalice0b"}
    assert chat_members["alice"]["is_moderator"] == 1 and chat_members["wmalice0a"]["name"] == "小A"
    # and in the member directory (members across groups)
    profile = store.members.get("wecom", "wmalice0a")
    assert profile is not None and profile["name"] == "小A"
    assert {g["chat_id"] for g in store.members.groups("wecom", "wmalice0a")} == {"wralice00"}
    # a member who left and a dismissed group show at the next full sync
    fake.groups["wralice00"]["member_list"].pop()
    del fake.groups["wrbob00"]
    adapter = standalone_adapter(fake, store)
    try:
        await adapter.contact.sync()
    finally:
        await adapter.stop()
    assert {m["member_id"] for m in store.chats.list_members("wecom", "wralice00")} == {"alice", "wmalice0a"}
    assert store.chats.get_chat("wecom", "wrbob00")["kind"] == "customer_group_dismissed"
    store.close()


async def test_token_expiry_mid_sync_is_refreshed_and_rate_limit_is_waited_out(fake, tmp_path):
    three_owners(fake, per_owner=3)
    fake.page_cap = 2
    fake.expire_after = 3  # every token dies after the third call
    store = Store(tmp_path / "q.db")
    adapter = standalone_adapter(fake, store)
    try:
        fake.fail_next = [45009]
        counts = await adapter.contact.sync()
    finally:
        await adapter.stop()
    assert counts["groups"] == 9
    assert fake.issued == 2  # the expired token was replaced once, not per call
    assert adapter.contact.api.waits == 1
    store.close()


@pytest.mark.parametrize(("code", "words"), [(48002, "可调用接口的应用"), (60020, "企业可信IP")])
async def test_missing_permission_or_trusted_ip_is_named_in_chinese(fake, tmp_path, code, words):
    store = Store(tmp_path / "q.db")
    adapter = standalone_adapter(fake, store)
    fake.fail_next = [code]
    try:
        with pytest.raises(PermanentSendError) as info:
            await adapter.contact.sync()
    finally:
        await adapter.stop()
    assert words in str(info.value) and str(code) in str(info.value)
    store.close()


# -- callbacks in the running bot -----------------------------------------------------

_nonce = iter(range(20_000_000, 99_999_999, 7919))


def envelope(plain: str) -> tuple[dict, str]:
    """An encrypted POST as WeCom sends it (official sample Token / EncodingAESKey)."""
    ts, nonce = str(int(time.time())), str(next(_nonce))
    reply = parse_xml(WxCrypto("wecom", TOKEN, KEY, CORP).encrypt_reply(plain, nonce, ts))
    body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{reply['Encrypt']}]]></Encrypt></xml>"
    return {"msg_signature": reply["MsgSignature"], "timestamp": ts, "nonce": nonce}, body


def change(chat_id: str, change_type: str, detail: str = "", members: tuple[str, ...] = (),
           created: int = 1700001000) -> str:
    """A change_external_chat event (document/path/92130) as plain XML."""
    items = "".join(f"<Item><![CDATA[{m}]]></Item>" for m in members)
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[{chat_id}]]></ChatId>"
            f"<ChangeType><![CDATA[{change_type}]]></ChangeType><UpdateDetail><![CDATA[{detail}]]></UpdateDetail>"
            f"<JoinScene>3</JoinScene><QuitScene>0</QuitScene><MemChangeCnt>{len(members)}</MemChangeCnt>"
            f"<MemChangeList>{items}</MemChangeList></xml>")


@pytest.fixture
async def bot_client(aiohttp_client, tmp_path, fake):
    three_owners(fake, per_owner=1)
    settings = make_settings(tmp_path, bot={"demo": False}, adapters={"wecom": wecom_conf(fake)},
                             welcome=[{"text": "欢迎 {nickname} 加入{group}！"}])
    client = await aiohttp_client(create_app(settings))
    contact = client.app[ADAPTERS]["wecom"].contact
    await wait_until(lambda: contact.last_sync, what="the start-up sync")
    return client


async def test_change_events_update_members_and_joins_reach_the_pipeline(bot_client, fake):
    client = bot_client
    store = client.app[STORE]
    contact = client.app[ADAPTERS]["wecom"].contact
    assert store.chats.get_chat("wecom", "wralice00")["kind"] == "customer_group"
    # a customer joins by QR code: WeCom's group now lists them, and the callback says so
    fake.groups["wralice00"]["member_list"].append(
        {"userid": "wmnew", "type": 2, "join_time": 1700001000, "join_scene": 3, "group_nickname": "",
         "name": "新客户"})
    params, body = envelope(change("wralice00", "update", "add_member", ("wmnew",)))
    assert (await client.post(PATH, params=params, data=body)).status == 200
    await contact.idle()
    joined = store.wecom_contact.group_members("wralice00")
    assert {m["userid"]: (m["member_type"], m["join_scene"]) for m in joined}["wmnew"] == (2, 3)
    # the join went through the pipeline as a member_join event of that group
    await wait_until(lambda: store.messages.exists("wecom:wralice00:1700001000:add_member:wmnew"),
                     what="the join event recorded")
    # name and notice changes, a leave, then the group is dismissed
    fake.groups["wralice00"]["name"] = "早市VIP群"
    params, body = envelope(change("wralice00", "update", "change_name", created=1700001001))
    assert (await client.post(PATH, params=params, data=body)).status == 200
    params, body = envelope(change("wralice00", "update", "del_member", ("wmalice0a",), created=1700001002))
    assert (await client.post(PATH, params=params, data=body)).status == 200
    await contact.idle()
    assert store.chats.get_chat("wecom", "wralice00")["name"] == "早市VIP群"
    # the stand-in still lists wmalice0a (WeCom updates groupchat/get asynchronously): the
    # callback is believed
    params, body = envelope(change("wralice00", "dismiss", created=1700001003))
    assert (await client.post(PATH, params=params, data=body)).status == 200
    await contact.idle()
    assert store.chats.get_chat("wecom", "wralice00")["kind"] == "customer_group_dismissed"
    assert "wmalice0a" not in {m["member_id"] for m in store.chats.list_members("wecom", "wralice00")}


# -- 企业群发: planning, tasks, limit, progress, reminders ----------------------------------

class World:
    """Store, fake clock, scheduler: the planning side of a bot, at a chosen time."""

    def __init__(self, tmp_path, config: dict, start: datetime) -> None:
        self.clock = FakeClock(start.astimezone(UTC))
        self.store = Store(tmp_path / "q.db")
        self.settings = settings_from_dict(config)
        self.scheduler = Scheduler(Services(settings=self.settings, store=self.store, clock=self.clock))
        self.service = ScheduleService(self.scheduler)

    def at(self, when: datetime) -> None:
        self.clock.set(when.astimezone(UTC))


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def post_config(fake: FakeContact, limit: str, at: list[str]) -> dict:
    return {"adapters": {"wecom": wecom_conf(fake, group_msg_limit=limit, remind_after="1h")},
            "posts": [{"name": "早市秒杀", "text": "早上好！今日秒杀 10 点开抢", "at": at, "tags": ["早市"]}]}


async def synced_world(tmp_path, fake, config, start) -> tuple[World, WecomAdapter]:
    three_owners(fake)
    w = World(tmp_path, config, start)
    adapter = standalone_adapter(fake, w.store, **config["adapters"]["wecom"])
    assert adapter.contact is not None
    adapter.contact.clock = w.clock
    await adapter.contact.sync()
    for c in w.store.chats.list_chats("wecom"):
        w.store.chats.set_tags("wecom", c["chat_id"], ["早市"])
    await w.scheduler.load()
    return w, adapter


async def deliver(adapter: WecomAdapter, rows: list[dict]) -> list[str | None]:
    """Hand the ledger's rows to the adapter as the outbox does."""
    return [await adapter.send(Delivery(r["id"], r["platform"], r["chat_id"], r["chat_kind"], r["payload"],
                                        r["source"], r["occurrence"])) for r in rows]


async def test_morning_post_to_30_customer_groups_of_3_owners_is_3_tasks(fake, tmp_path):
    w, adapter = await synced_world(tmp_path, fake, post_config(fake, "month", ["09:00"]), sh(7, 8))
    try:
        w.at(sh(7, 9))
        [result] = await w.scheduler.run_due()
        assert result["status"] == "submitted" and result["targets"] == 3
        rows = sorted(w.store.outbound.list(), key=lambda r: r["chat_id"])
        assert [(r["chat_id"], r["chat_kind"]) for r in rows] == [
            ("owner:alice", "customer_group_task"), ("owner:bob", "customer_group_task"),
            ("owner:carol", "customer_group_task")]
        msgids = await deliver(adapter, rows)
        tasks = [b for name, b in fake.calls if name == "add_msg_template"]
        assert len(tasks) == 3 and all(msgids)
        for body in tasks:
            assert body["chat_type"] == "group" and body["text"]["content"] == "早上好！今日秒杀 10 点开抢"
            assert sorted(body["chat_id_list"]) == [f"wr{body['sender']}{i:02d}" for i in range(10)]
        # every group now waits for its owner
        targets = w.store.wecom_contact.task_targets()
        assert len(targets) == 30 and {t["status"] for t in targets} == {"waiting"}
    finally:
        await adapter.stop()
        w.store.close()


async def test_second_post_the_same_day_is_refused_in_the_preview_with_the_reason(fake, tmp_path):
    w, adapter = await synced_world(tmp_path, fake, post_config(fake, "day", ["09:00", "15:00"]), sh(7, 8))
    await adapter.stop()
    try:
        rows = await w.service.preview(days=1)
        morning = [r for r in rows if r["time"].startswith("2026-12-07T09")]
        afternoon = [r for r in rows if r["time"].startswith("2026-12-07T15")]
        assert len(morning) == 30 and all("群主在企业微信中确认" in r["note"] and "refused" not in r for r in morning)
        assert len(afternoon) == 30 and all("每天最多 1 条" in r["refused"] for r in afternoon)
        # with "month" the same two posts both fit
        w.settings = settings_from_dict(post_config(fake, "month", ["09:00", "15:00"]))
        w.scheduler.settings = w.service.settings = w.settings
        w.scheduler.services.settings = w.settings
        rows = await w.service.preview(days=1)
        assert not [r for r in rows if r.get("refused")]
    finally:
        w.store.close()


async def test_firing_beyond_the_daily_limit_sends_nothing_and_says_why(fake, tmp_path):
    w, adapter = await synced_world(tmp_path, fake, post_config(fake, "day", ["09:00", "15:00"]), sh(7, 8))
    try:
        w.at(sh(7, 9))
        await w.scheduler.run_due()
        await deliver(adapter, w.store.outbound.list())
        w.at(sh(7, 15))
        [second] = await w.scheduler.run_due()
        assert second["targets"] == 0 and "超过企业群发上限" in second["reason"]
        assert len([n for n, _ in fake.calls if n == "add_msg_template"]) == 3
        # the next day counts afresh
        w.at(sh(8, 9))
        [third] = await w.scheduler.run_due()
        assert third["targets"] == 3
    finally:
        await adapter.stop()
        w.store.close()


async def test_owner_reminded_after_the_delay_and_results_polled_into_each_group(fake, tmp_path):
    w, adapter = await synced_world(tmp_path, fake, post_config(fake, "month", ["09:00"]), sh(7, 8))
    contact = adapter.contact
    try:
        w.at(sh(7, 9))
        await w.scheduler.run_due()
        msgids = dict(zip([r["chat_id"] for r in w.store.outbound.list()],
                          await deliver(adapter, w.store.outbound.list()), strict=True))
        # within the delay: asked, nobody reminded
        w.at(sh(7, 9, 30))
        assert (await contact.poll())["reminded"] == 0 and fake.reminded == []
        # alice sends (one group refused by WeCom: it already had its message), bob and carol are silent
        fake.confirm(msgids["owner:alice"], {"wralice03": 3})
        w.at(sh(7, 10, 1))
        counts = await contact.poll()
        assert counts == {"tasks": 3, "sent": 1, "reminded": 2}
        assert sorted(fake.reminded) == sorted([msgids["owner:bob"], msgids["owner:carol"]])
        # reminded once only
        w.at(sh(7, 11, 30))
        assert (await contact.poll())["reminded"] == 0
        by_chat = {t["chat_id"]: t for t in w.store.wecom_contact.task_targets()}
        assert by_chat["wralice00"]["status"] == "sent"
        assert by_chat["wralice03"]["status"] == "not_sent" and "接收上限" in by_chat["wralice03"]["reason"]
        assert by_chat["wrbob00"]["status"] == "waiting"
        [summary] = w.store.wecom_contact.task_summary("post:")
        assert (summary["total"], summary["sent"], summary["waiting"], summary["not_sent"]) == (30, 9, 20, 1)
        # a week without the owner's confirmation: no longer asked about, and said so
        w.at(sh(14, 11))
        await contact.poll()
        by_chat = {t["chat_id"]: t for t in w.store.wecom_contact.task_targets()}
        assert by_chat["wrbob00"]["status"] == "not_sent" and "7 天内未确认" in by_chat["wrbob00"]["reason"]
        assert (await contact.poll())["tasks"] == 0
    finally:
        await adapter.stop()
        w.store.close()


async def test_attachments_are_uploaded_first_and_sent_with_the_task(fake, tmp_path):
    three_owners(fake, per_owner=2)
    store = Store(tmp_path / "q.db")
    adapter = standalone_adapter(fake, store)
    picture = tmp_path / "poster.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    payload = {"kind": "groupmsg", "text": "新品上架", "chat_id_list": ["wralice00", "wralice01"], "attachments": [
        {"type": "image", "path": str(picture)},
        {"type": "link", "title": "活动页", "url": "https://example.com/sale", "desc": "限时"},
        {"type": "miniprogram", "title": "商城", "appid": "wx8bd80126147dfAAA", "page": "/index",
         "pic_path": str(picture)},
    ]}
    try:
        await adapter.contact.sync()
        msgid = await adapter.send(Delivery(1, "wecom", "owner:alice", "customer_group_task", payload, "b:1", "k"))
    finally:
        await adapter.stop()
    assert msgid and len(fake.uploads) == 2
    [(_, body)] = [c for c in fake.calls if c[0] == "add_msg_template"]
    assert [a["msgtype"] for a in body["attachments"]] == ["image", "link", "miniprogram"]
    assert body["attachments"][0]["image"]["media_id"] == "MEDIA_1"
    assert body["attachments"][2]["miniprogram"]["pic_media_id"] == "MEDIA_2"
    store.close()


# -- statistics, welcome templates, CLI ------------------------------------------------

async def test_group_statistics_and_welcome_template_add_then_edit(fake, tmp_path):
    three_owners(fake, per_owner=1)
    fake.stats["alice"] = {"new_chat_cnt": 1, "chat_total": 1, "chat_has_msg": 1, "new_member_cnt": 3,
                           "member_total": 3, "member_has_msg": 2, "msg_total": 17}
    store = Store(tmp_path / "q.db")
    adapter = standalone_adapter(fake, store)
    try:
        await adapter.contact.sync()
        day = datetime(2026, 12, 6).date()
        assert await adapter.contact.fetch_stats(day) == 1
        first = await adapter.contact.push_welcome("入群欢迎", "欢迎加入！")
        again = await adapter.contact.push_welcome("入群欢迎", "欢迎 {nickname} 加入！今日秒杀 10 点开抢")
        with pytest.raises(PermanentSendError, match=r"不支持：\{group\}"):
            await adapter.contact.push_welcome("群名欢迎", "欢迎加入{group}")
    finally:
        await adapter.stop()
    [row] = store.wecom_contact.stats("2026-12-06", "2026-12-06")
    assert row["owner"] == "alice" and row["data"]["msg_total"] == 17
    [(_, stat_body)] = [c for c in fake.calls if c[0] == "groupchat/statistic"]
    assert stat_body["day_begin_time"] == int(datetime(2026, 12, 6, tzinfo=TZ).timestamp())
    assert first == again
    assert fake.templates[first]["text"]["content"] == "欢迎 %NICKNAME% 加入！今日秒杀 10 点开抢"
    assert [n for n, _ in fake.calls if n.startswith("group_welcome")] == [
        "group_welcome_template/add", "group_welcome_template/edit"]
    store.close()


def test_agent_id_accepts_the_integer_the_admin_shows(tmp_path):
    settings = settings_from_dict({"adapters": {"wecom": {
        "enabled": True, "corp_id": CORP, "agent_id": 1000002, "secret": "s", "token": TOKEN,
        "encoding_aes_key": KEY}}})
    assert settings.adapters.wecom.agent_id == "1000002"
    with pytest.raises(Exception, match="agent_id"):
        settings_from_dict({"adapters": {"wecom": {"agent_id": 1.5}}})


def write_config(tmp_path, fake: FakeContact, *, posts: str = "", **extra) -> str:
    conf = wecom_conf(fake, **extra)
    lines = [f"{k} = {json.dumps(v)}" for k, v in conf.items()]
    config = tmp_path / "config.toml"
    config.write_text("[bot]\ndemo = false\ndata_dir = " + json.dumps(str(tmp_path / "data")) +
                      "\n[adapters.wecom]\n" + "\n".join(lines) + "\n" + posts, encoding="utf-8")
    return str(config)


async def cli(*args: str) -> int:
    from bot.cli import main

    # the CLI runs its own event loop: give it a thread of its own
    return await asyncio.to_thread(main, list(args))


async def test_cli_wecom_sync_json_counts(fake, tmp_path, capsys):
    three_owners(fake, per_owner=2)
    config = write_config(tmp_path, fake)
    assert await cli("wecom", "sync", "--json", "--config", config) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"groups": 6, "members": 18}


async def test_cli_schedule_preview_notes_owner_confirmation_and_refuses_beyond_the_limit(fake, tmp_path, capsys):
    three_owners(fake, per_owner=1)
    config = write_config(tmp_path, fake, group_msg_limit="day", posts=(
        '[[posts]]\nname = "早市秒杀"\ntext = "早上好"\nat = ["09:00", "15:00"]\ngroups = ["alice的客户群0"]\n'))
    assert await cli("wecom", "sync", "--config", config) == 0
    capsys.readouterr()
    assert await cli("schedule", "preview", "--days", "2", "--json", "--config", config) == 0
    rows = json.loads(capsys.readouterr().out)
    # 48 hours hold two of each daily time; the second post of any day in the window is refused
    refused = [bool(r.get("refused")) for r in rows].count(True)
    assert len(rows) == 4 and refused >= 1
    assert all(r.get("note") == "企业群发：需群主在企业微信中确认后才会发出" for r in rows if not r.get("refused"))
    assert await cli("schedule", "preview", "--days", "2", "--config", config) == 0
    text = capsys.readouterr().out
    assert "✗ 不会发送：超过企业群发上限（每天最多 1 条" in text and f"其中 {refused} 条超出限制不会发送" in text


async def test_report_shows_wecom_statistics_beside_recorded_figures_with_their_source(fake, tmp_path):
    from bot.reports.export import to_csv
    from bot.reports.figures import ReportFilter, compute

    three_owners(fake, per_owner=1)
    fake.stats["bob"] = {"new_chat_cnt": 0, "chat_total": 1, "chat_has_msg": 1, "new_member_cnt": 2,
                         "member_total": 3, "member_has_msg": 1, "msg_total": 42}
    store = Store(tmp_path / "q.db")
    adapter = standalone_adapter(fake, store)
    try:
        await adapter.contact.sync()
        await adapter.contact.fetch_stats(datetime(2026, 12, 6).date())
    finally:
        await adapter.stop()
    day = datetime(2026, 12, 6).date()
    report = await asyncio.to_thread(compute, store, ReportFilter(start=day, end=day), TZ)
    text = to_csv(report).decode("utf-8-sig")
    assert "【企业微信客户群统计（来源：企业微信）】" in text
    assert "2026-12-06,bob,1,0,1,3,2,1,42,企业微信 groupchat/statistic" in text
    assert "数据来源,qunbot 自行记录；「企业微信客户群统计」一表来自企业微信" in text
    store.close()


async def test_broadcast_helper_plans_one_task_per_owner_and_refuses_beyond_the_limit(fake, tmp_path):
    from schedules.planner import Target
    from schedules.wecom_contact_plan import plan_customer_group_send

    w, adapter = await synced_world(tmp_path, fake, post_config(fake, "day", ["09:00"]), sh(7, 8))
    await adapter.stop()
    try:
        targets = [Target("wecom", c["chat_id"], c["kind"], c["name"]) for c in w.store.chats.list_chats("wecom")]
        targets.append(Target("sim", "g1", "group", "模拟群"))
        items, refused = plan_customer_group_send(w.store, w.settings, targets, sh(7, 8), source="broadcast:1",
                                                  occurrence="once", text="双十二预告",
                                                  attachments=[{"type": "link", "title": "预告", "url": "https://e.x"}])
        assert [i.chat_id for i in items] == ["owner:alice", "owner:bob", "owner:carol"] and not refused
        assert all(len(i.payload["chat_id_list"]) == 10 and i.payload["attachments"] for i in items)
        w.store.outbound.insert(items, now=sh(7, 8))  # on its way: counted before WeCom sees it
        # the same day again: every group has had its one message
        items, refused = plan_customer_group_send(w.store, w.settings, targets, sh(7, 12), source="broadcast:2",
                                                  occurrence="once", text="再次提醒")
        assert items == [] and len(refused) == 30 and "每天最多 1 条" in refused[0][1]
    finally:
        w.store.close()


async def test_console_preview_lists_customer_groups_with_the_note_and_the_refused_ones(aiohttp_client, tmp_path,
                                                                                       fake):
    three_owners(fake, per_owner=1)
    settings = make_settings(tmp_path, bot={"demo": False},
                             adapters={"wecom": wecom_conf(fake, group_msg_limit="day")},
                             posts=[{"name": "早市秒杀", "text": "早上好", "at": ["09:00", "15:00"],
                                     "groups": ["alice的客户群0"]}])
    client = await aiohttp_client(create_app(settings))
    await wait_until(lambda: client.app[ADAPTERS]["wecom"].contact.last_sync, what="the start-up sync")
    await login(client, role="manager")
    page = await (await client.get("/schedules/preview?days=2")).text()
    assert "企业群发：需群主在企业微信中确认后才会发出" in page
    assert "不会发送：alice的客户群0（超过企业群发上限（每天最多 1 条" in page


@pytest.mark.parametrize("key", ["poll_every", "sync_every"])
def test_zero_poll_or_sync_interval_is_refused_with_the_key(key):
    with pytest.raises(Exception, match=f"{key}: 必须大于 0"):
        settings_from_dict({"adapters": {"wecom": {key: "0"}}})


async def test_console_sync_on_demand_picks_up_a_new_group_and_is_audited(bot_client, fake):
    client = bot_client
    store = client.app[STORE]
    fake.add_group("wrnew01", "carol", "新开的客户群")
    token = await login(client, role="manager")
    resp = await client.post("/wecom/customer-groups/sync", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 302
    await wait_until(lambda: store.chats.get_chat("wecom", "wrnew01"), what="the new group synced")
    assert [e["action"] for e in store.accounts.audit_entries(action="wecom.sync")] == ["wecom.sync"]
    # without the CSRF token nothing happens
    resp = await client.post("/wecom/customer-groups/sync", data={}, allow_redirects=False)
    assert resp.status in (400, 403)
async def test_console_shows_each_group_waiting_sent_or_not_sent_and_why(bot_client, fake):
    client = bot_client
    adapter = client.app[ADAPTERS]["wecom"]
    contact = adapter.contact
    fake.add_group("wralice01", "alice", "alice的客户群1")
    fake.add_group("wralice02", "alice", "alice的客户群2")
    await contact.sync()
    msgid = await adapter.send(Delivery(1, "wecom", "owner:alice", "customer_group_task", {
        "kind": "groupmsg", "text": "早安", "chat_id_list": ["wralice00", "wralice01", "wralice02"]}, "post:1", "k"))
    await adapter.send(Delivery(2, "wecom", "owner:bob", "customer_group_task", {
        "kind": "groupmsg", "text": "早安", "chat_id_list": ["wrbob00"]}, "post:1", "k"))
    fake.confirm(msgid, {"wralice01": 3, "wralice02": 0})
    await contact.poll()
    await login(client, role="manager")
    page = await (await client.get("/wecom/customer-groups")).text()
    rows = {line for line in page.split("<tr>") if "客户群" in line}
    assert any("alice的客户群0" in r and "已发送" in r for r in rows)
    assert any("alice的客户群1" in r and "未发送：发送失败：该群已达到企业群发的接收上限" in r for r in rows)
    assert any("alice的客户群2" in r and "未发送：群主发送时未选择该群" in r for r in rows)
    assert any("bob的客户群0" in r and "等待群主确认" in r for r in rows)
    # a bot reply addressed to a customer group is refused with the reason, never sent elsewhere
    with pytest.raises(PermanentSendError, match="客户群不能由机器人直接发言"):
        await adapter.send(Delivery(3, "wecom", "wralice00", "group", {"text": "hi"}))
