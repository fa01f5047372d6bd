"""群发: compose checks, approval, progress, retry and cancel, through a running bot and the console."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.registry import build_adapters
from bot.demo import seed_if_empty
from bot.kernel.actions import IMAGE, PRIVATE, SEND
from bot.kernel.clock import FakeClock
from bot.runtime import Bot
from bot.store import Store
from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from broadcasts import service
from broadcasts.compose import ComposeError, Draft, PlatformInfo, compose, split_text
from tests.conftest import login, make_settings, wait_until

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=TZ)
CHATS = [
    {"platform": "sim", "chat_id": "g_mom", "kind": "group", "name": "宝妈群", "tags": ["宝妈"]},
    {"platform": "sim", "chat_id": "g_mom2", "kind": "group", "name": "宝妈二群", "tags": ["宝妈"]},
    {"platform": "sim", "chat_id": "g_student", "kind": "group", "name": "学生群", "tags": ["学生"]},
    {"platform": "onebot", "chat_id": "10086", "kind": "group", "name": "QQ粉丝群", "tags": ["粉丝"]},
]
PLATFORMS = {"sim": PlatformInfo("sim", frozenset({SEND, IMAGE})), "onebot": PlatformInfo("onebot", frozenset({SEND}))}


def draft(**kw) -> Draft:
    return Draft(**{"text": "【秒杀】{group} 今晚 8 点开始", "tags": ["宝妈"], **kw})


def errors_of(d: Draft, platforms=PLATFORMS) -> list[str]:
    with pytest.raises(ComposeError) as info:
        compose(d, CHATS, platforms, TZ, NOW)
    return info.value.errors


def test_preview_renders_each_target_with_its_group_name():
    composed = compose(draft(exclude=["宝妈二群"], groups=["学生群"]), CHATS, PLATFORMS, TZ, NOW)
    assert [(r["chat"], r["text"]) for r in composed.preview()] == [
        ("g_student", "【秒杀】学生群 今晚 8 点开始"), ("g_mom", "【秒杀】宝妈群 今晚 8 点开始")]


@pytest.mark.parametrize(("kw", "words"), [
    ({"text": "  "}, "内容不能为空"),
    ({"tags": []}, "请至少指定一个目标"),
    ({"at": "2026-12-03 20:00"}, "已经过去"),
    ({"at": "明天晚上"}, "格式不对"),
    ({"tags": ["宝马"]}, "未知的标签 '宝马'（没有群带这个标签），您是不是要找：宝妈"),
    ({"tags": [], "groups": ["宝妈"]}, "未知的群 '宝妈'，您是不是要找：宝妈群"),
    ({"exclude": ["宝妈群", "宝妈二群"]}, "所选的群都被排除了"),
    ({"text": "{nickname} 你好"}, "此处可用：{group} {date} {time} {weekday}"),
    ({"kind": "link", "url": "javascript:alert(1)"}, "链接"),
])
def test_bad_input_is_refused_with_a_reason(kw, words):
    assert any(words in e for e in errors_of(draft(**kw))), errors_of(draft(**kw))


def test_text_over_a_platforms_limit_is_split_or_refused_as_the_adapter_says():
    long_text = "\n".join(f"第{i}行：今晚秒杀，先到先得" for i in range(200))
    split = {"sim": PlatformInfo("sim", frozenset({SEND}), max_text_bytes=2048)}
    composed = compose(draft(text=long_text), CHATS, split, TZ, NOW)
    row = composed.preview()[0]
    assert row["parts"] > 1 and "拆成" in row["note"]
    assert all(len(p["text"].encode()) <= 2048 for p in composed.targets[0]["parts"])
    refuse = {"sim": PlatformInfo("sim", frozenset({SEND}), max_text_bytes=2048, split_long_text=False)}
    assert any("超过 sim 的单条上限 2048 字节" in e for e in errors_of(draft(text=long_text), refuse))


def test_split_keeps_every_character():
    text = "甲" * 3000 + "\n" + "乙" * 10
    assert "".join(split_text(text, 2048)).replace("\n", "") == text.replace("\n", "")


def test_image_degrades_to_a_link_on_a_platform_without_images():
    d = draft(tags=["宝妈", "粉丝"], kind="image", image="https://example.com/a.png")
    by_chat = {r["chat"]: r for r in compose(d, CHATS, PLATFORMS, TZ, NOW).preview()}
    assert by_chat["g_mom"]["note"] == ""
    assert "不支持发送图片" in by_chat["10086"]["note"] and "https://example.com/a.png" in by_chat["10086"]["text"]


def test_variant_lines_vary_the_text_between_groups():
    text = "今晚秒杀\n{variant}快来～\n{variant}别错过～\n{variant}手慢无～"
    d = draft(text=text, tags=["宝妈", "学生"])
    texts = {r["text"] for seed in range(10)
             for r in compose(d, CHATS, PLATFORMS, TZ, NOW, random.Random(seed)).preview()}
    assert len(texts) == 3


def test_member_tags_go_one_to_one_where_the_platform_allows_private_sends():
    people = [{"platform": "sim", "user_id": "u_mama_wang", "nickname": "王妈妈"},
              {"platform": "webhook", "user_id": "x1", "nickname": "机器人群成员"}]
    platforms = {**PLATFORMS, "sim": PlatformInfo("sim", frozenset({SEND, PRIVATE})),
                 "webhook": PlatformInfo("webhook", frozenset({SEND}))}
    d = draft(text="{nickname}，您的 VIP 券今晚到期", tags=[], member_tags=["VIP"])
    composed = compose(d, CHATS, platforms, TZ, NOW, members=lambda tags: people)
    assert [(t["chat_id"], t["chat_kind"]) for t in composed.targets] == [("u_mama_wang", "private")]
    assert composed.preview()[0]["text"] == "王妈妈，您的 VIP 券今晚到期"
    assert any("需要成员目录" in e for e in errors_of(d))
    assert any("{group}" in e for e in errors_of(draft(member_tags=["VIP"])))


# -- through a running bot -------------------------------------------------------------


@pytest.fixture
async def running(tmp_path):
    bots: list[Bot] = []

    async def start(**sections) -> Bot:
        settings = make_settings(tmp_path, **sections)
        store = Store(settings.database_path)
        seed_if_empty(store, settings)
        bot = Bot(settings, store, clock=FakeClock(datetime(2026, 12, 4, 2, 0, tzinfo=UTC)),
                  adapters=build_adapters(settings))
        await bot.start()
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        await bot.stop()
        bot.store.close()


def out_texts(bot: Bot, chat_id: str) -> list[str]:
    return [r["text"] for r in bot.store.messages.chat_messages("sim", chat_id) if r["direction"] == "out"]


def create(bot: Bot, d: Draft) -> dict:
    from schedules.planner import known_chats

    composed = compose(d, known_chats(bot.store.chats.list_chats(), bot.settings), bot.platforms(), TZ,
                       bot.clock.now())
    return service.create(bot.store, composed, bot.settings.broadcast.approval)


async def test_broadcast_written_to_the_store_is_sent_by_the_running_bot(running):
    bot = await running()
    result = create(bot, draft(tags=["宝妈", "学生"]))
    assert result["status"] == "scheduled" and result["targets"] == 2
    await wait_until(lambda: service.show(bot.store, result["id"])["progress"] == {"sent": 2})
    assert out_texts(bot, "g_mom")[-1] == "【秒杀】宝妈群 今晚 8 点开始"
    assert out_texts(bot, "g_student")[-1] == "【秒杀】学生群 今晚 8 点开始"
    await wait_until(lambda: service.show(bot.store, result["id"])["status"] == "done")


async def test_approval_needs_a_different_account(running):
    bot = await running(broadcast={"approval": True, "poll_seconds": 0.05})
    result = create(bot, draft(by="alice"))
    assert result["status"] == "pending_approval"
    with pytest.raises(service.BroadcastError, match="不能审批自己创建的群发"):
        service.approve(bot.store, result["id"], "alice")
    await bot.broadcasts.run_once()
    assert "【秒杀】宝妈群 今晚 8 点开始" not in out_texts(bot, "g_mom")
    assert service.approve(bot.store, result["id"], "bob")["approved_by"] == "bob"
    await wait_until(lambda: service.show(bot.store, result["id"])["progress"] == {"sent": 1})
    actions = [e["action"] for e in bot.store.accounts.audit_entries(action="broadcasts.")]
    assert actions == ["broadcasts.approve", "broadcasts.create"]


async def test_cancel_before_the_time_sends_nothing(running):
    bot = await running()
    result = create(bot, draft(at="2026-12-04 20:00"))
    service.cancel(bot.store, result["id"], "ops")
    bot.clock.advance(12 * 3600)
    await bot.broadcasts.run_once()
    assert await bot.outbox.drain(5)
    data = service.show(bot.store, result["id"])
    assert data["status"] == "cancelled" and [t["status"] for t in data["targets"]] == ["cancelled"]
    assert "【秒杀】宝妈群 今晚 8 点开始" not in out_texts(bot, "g_mom")


async def test_failed_target_shows_failed_and_is_retried(running):
    from bot.adapters.base import PermanentSendError

    bot = await running()
    sim = bot.adapters["sim"]
    real_send = sim.send
    calls = {"n": 0}

    async def flaky(delivery):
        if delivery.chat_id == "g_mom" and calls["n"] == 0:
            calls["n"] += 1
            raise PermanentSendError("群不存在")
        return await real_send(delivery)

    sim.send = flaky
    result = create(bot, draft(tags=["宝妈", "学生"]))
    await wait_until(lambda: service.show(bot.store, result["id"])["progress"] == {"sent": 1, "failed": 1})
    row = next(t for t in service.show(bot.store, result["id"])["targets"] if t["chat"] == "g_mom")
    assert row["status"] == "failed" and row["error"] == "群不存在"
    assert service.retry(bot.store, result["id"], "ops") == 1
    await wait_until(lambda: service.show(bot.store, result["id"])["progress"] == {"sent": 2})


# -- console --------------------------------------------------------------------------


async def test_console_compose_preview_create_approve_progress(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(make_settings(tmp_path, broadcast={"approval": True})))
    token = await login(client, "ops", "manager")
    form = {"text": "【福利】{group} 专属优惠", "kind": "text", "tags": "宝妈, 学生", "groups": "", "exclude": "",
            "at": "", "csrf_token": token}
    bad = await client.post("/broadcasts/preview", data={**form, "tags": "宝马"})
    assert bad.status == 400 and "您是不是要找：宝妈" in await bad.text()
    page = await (await client.post("/broadcasts/preview", data=form)).text()
    assert "【福利】宝妈群 专属优惠" in page and "【福利】学生群 专属优惠" in page and "确认创建" in page
    resp = await client.post("/broadcasts", data=form, allow_redirects=False)
    assert resp.status == 302
    url = resp.headers["Location"]
    assert "待审批" in await (await client.get(url)).text()
    store = client.app[STORE]
    await client.post("/logout", data={"csrf_token": token})
    token = await login(client, "boss", "admin")
    resp = await client.post(url + "/approve", data={"csrf_token": token})
    bid = int(url.rsplit("/", 1)[1])
    await wait_until(lambda: service.show(store, bid)["progress"] == {"sent": 2})
    page = await (await client.get(url)).text()
    assert "已发送" in page and "boss" in page
    assert client.app[BOT].broadcasts is not None


# -- CLI ------------------------------------------------------------------------------


def test_cli_create_json_contract_and_approval_by_another_account(tmp_path, capsys):
    from bot.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndemo = true\ndata_dir = "{tmp_path / "data"}"\n[broadcast]\napproval = true\n',
                      encoding="utf-8")
    args = ["--config", str(config)]
    assert main(["broadcast", "create", "--text", "{group} 的福利", "--tag", "宝妈", "--group", "学生群",
                 "--by", "alice", "--json", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "pending_approval" and out["targets"] == 2 and isinstance(out["id"], int)
    assert sorted((r["chat"], r["text"]) for r in out["preview"]) == [
        ("g_mom", "宝妈群 的福利"), ("g_student", "学生群 的福利")]
    assert main(["broadcast", "approve", str(out["id"]), "--by", "alice", *args]) == 2
    assert "不能审批自己创建的群发" in capsys.readouterr().out
    assert main(["broadcast", "approve", str(out["id"]), "--by", "bob", *args]) == 0
    capsys.readouterr()
    assert main(["broadcast", "show", str(out["id"]), "--json", *args]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "scheduled" and shown["approved_by"] == "bob"
    assert [t["status"] for t in shown["targets"]] == ["pending", "pending"]
    assert main(["broadcast", "create", "--text", "x", "--group", "学生", *args]) == 2
    assert "您是不是要找：学生群" in capsys.readouterr().out


async def test_breaker_shows_a_banner_alerts_admins_and_resumes_from_the_console(aiohttp_client, tmp_path):
    settings = make_settings(tmp_path, sending={"alert_to": ["sim:u_admin"]})
    client = await aiohttp_client(create_app(settings))
    token = await login(client, "boss", "admin")
    bot = client.app[BOT]
    bot.sending.pacer.trip("sim", "平台风控：retcode 100")
    await wait_until(lambda: any(r["direction"] == "out" and "群发已暂停" in r["text"]
                                 for r in bot.store.messages.chat_messages("sim", "u_admin")))
    page = await (await client.get("/")).text()
    assert "sim 账号的群发已自动暂停（平台风控：retcode 100）" in page
    resp = await client.post("/sending/resume", data={"platform": "sim", "csrf_token": token})
    assert resp.status == 200
    assert "账号的群发已自动暂停" not in await (await client.get("/")).text()
    assert not bot.sending.pacer.paused()
    actions = [e["action"] for e in bot.store.accounts.audit_entries(action="sending.")]
    assert actions == ["sending.resume", "sending.breaker_open"]


async def test_an_open_breaker_stays_open_across_a_restart(running):
    bot = await running()
    bot.sending.pacer.trip("sim", "平台风控：retcode 100")
    await wait_until(lambda: bool(bot.store.accounts.get_value("sending.breaker.sim")))
    await bot.stop()
    again = await running()
    assert again.sending.pacer.paused()["sim"]["reason"] == "平台风控：retcode 100"
    result = create(again, draft())
    await again.broadcasts.run_once()
    assert service.show(again.store, result["id"])["progress"] == {"pending": 1}
    await again.sending.resume("sim", "boss")
    await wait_until(lambda: service.show(again.store, result["id"])["progress"] == {"sent": 1})


# -- member tags: 1:1 sends through the member directory ---------------------------------


def tag_vips(store: Store) -> None:
    """Two VIP members on sim (private sends) and one on a group robot (webhook: none)."""
    for user, name in (("u_vip1", "小红"), ("u_vip2", "小明")):
        store.members.upsert("sim", "g_mom", user, name)
        store.members.add_tags([("sim", user, "VIP")])
    store.members.upsert("webhook", "ann", "w_vip", "机器人群成员")
    store.members.add_tags([("webhook", "w_vip", "VIP"), ("sim", "u_vip1", "老客户")])


async def test_console_member_tag_vip_sends_one_private_message_per_member(aiohttp_client, tmp_path):
    settings = make_settings(tmp_path, adapters={"webhook": [{"name": "ann", "url": "http://127.0.0.1:9/send"}]})
    client = await aiohttp_client(create_app(settings))
    store = client.app[STORE]
    tag_vips(store)
    token = await login(client, "ops", "manager")
    assert "VIP、老客户" in await (await client.get("/broadcasts")).text()
    form = {"text": "{nickname}，您的 VIP 券今晚到期", "kind": "text", "tags": "", "groups": "", "exclude": "",
            "member_tags": "VIP", "at": "", "csrf_token": token}
    bad = await client.post("/broadcasts/preview", data={**form, "member_tags": "VIPP"})
    assert bad.status == 400 and "未知的成员标签 &#39;VIPP&#39;，您是不是要找：VIP" in await bad.text()
    page = await (await client.post("/broadcasts/preview", data=form)).text()
    assert "小红，您的 VIP 券今晚到期" in page and "小明，您的 VIP 券今晚到期" in page
    assert "不会发送：webhook 平台不支持机器人私聊" in page
    resp = await client.post("/broadcasts", data=form, allow_redirects=False)
    bid = int(resp.headers["Location"].rsplit("/", 1)[1])
    await wait_until(lambda: service.show(store, bid)["progress"] == {"sent": 2, "refused": 1})
    rows = [r for r in store.outbound.list() if r["source"] == f"broadcast:{bid}"]
    assert sorted((r["platform"], r["chat_id"], r["chat_kind"], r["payload"]["text"]) for r in rows) == [
        ("sim", "u_vip1", "private", "小红，您的 VIP 券今晚到期"),
        ("sim", "u_vip2", "private", "小明，您的 VIP 券今晚到期")]
    page = await (await client.get(f"/broadcasts/{bid}")).text()
    assert "不发送" in page and "webhook 平台不支持机器人私聊" in page


def test_cli_member_tag_flag_and_a_platform_without_private_sends(tmp_path, capsys):
    from bot.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndemo = true\ndata_dir = "{tmp_path / "data"}"\n'
                      '[[adapters.webhook]]\nname = "ann"\nurl = "http://127.0.0.1:9/send"\n', encoding="utf-8")
    args = ["--config", str(config)]
    assert main(["broadcast", "list", *args]) == 0  # creates the database
    store = Store(tmp_path / "data" / "qunbot.db")
    tag_vips(store)
    store.close()
    capsys.readouterr()
    assert main(["broadcast", "create", "--text", "{nickname} 您好", "--member-tag", "VIP", "--json", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["targets"] == 2
    assert sorted((r["chat"], r["text"], r.get("refused", "")) for r in out["preview"]) == [
        ("u_vip1", "小红 您好", ""), ("u_vip2", "小明 您好", ""),
        ("w_vip", "", "webhook 平台不支持机器人私聊，无法 1 对 1 发送")]
    # only members on a platform without private sends: refused, nothing stored
    store = Store(tmp_path / "data" / "qunbot.db")
    store.members.add_tags([("webhook", "w_vip", "机器人")])
    store.close()
    assert main(["broadcast", "create", "--text", "x", "--member-tag", "机器人", *args]) == 2
    assert "（webhook）不支持机器人私聊" in capsys.readouterr().out
    assert main(["broadcast", "create", "--text", "x", "--member-tag", "vip", "--member-tag", "VIP", *args]) == 2
    assert "未知的成员标签 'vip'，您是不是要找：VIP" in capsys.readouterr().out
