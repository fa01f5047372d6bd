"""群发 to WeCom customer groups (客户群): one 企业群发 task per owner through a running bot and
the stand-in WeCom server, the corp's per-group limit in the preview, progress per group."""

from __future__ import annotations

import json

from bot.web.app import create_app
from bot.web.keys import ADAPTERS, STORE
from broadcasts import service
from tests.conftest import login, make_settings, wait_until
from tests.test_wecom_contact import cli, fake, three_owners, wecom_conf, write_config

__all__ = ["fake"]  # the stand-in server fixture, shared with tests/test_wecom_contact.py

OWNER_CONFIRMS = "企业群发：需群主在企业微信中确认后才会发出"


def add_msg_templates(fake) -> list[dict]:
    return [body for name, body in fake.calls if name == "add_msg_template"]


async def test_broadcast_to_30_customer_groups_of_3_owners_is_3_tasks_and_progress_per_group(
        aiohttp_client, tmp_path, fake):
    three_owners(fake)
    settings = make_settings(tmp_path, bot={"demo": False}, adapters={"wecom": wecom_conf(fake, group_msg_limit="day")})
    client = await aiohttp_client(create_app(settings))
    contact = client.app[ADAPTERS]["wecom"].contact
    await wait_until(lambda: contact.last_sync, what="the start-up sync")
    store = client.app[STORE]
    for c in store.chats.list_chats("wecom", kind="customer_group"):
        store.chats.set_tags("wecom", c["chat_id"], ["早市"])
    token = await login(client, "ops", "manager")
    form = {"text": "早上好！今日秒杀 10 点开抢", "kind": "link", "url": "https://example.com/sale", "title": "秒杀",
            "tags": "早市", "groups": "", "exclude": "", "member_tags": "", "at": "", "csrf_token": token}
    page = await (await client.post("/broadcasts/preview", data=form)).text()
    assert page.count(OWNER_CONFIRMS) == 30 and "共 <b>30</b> 个目标" in page
    resp = await client.post("/broadcasts", data=form, allow_redirects=False)
    bid = int(resp.headers["Location"].rsplit("/", 1)[1])
    await wait_until(lambda: len(add_msg_templates(fake)) == 3, what="three 企业群发 tasks")
    tasks = add_msg_templates(fake)
    assert sorted(b["sender"] for b in tasks) == ["alice", "bob", "carol"]
    for body in tasks:
        assert body["chat_type"] == "group" and body["text"]["content"] == "早上好！今日秒杀 10 点开抢"
        assert sorted(body["chat_id_list"]) == [f"wr{body['sender']}{i:02d}" for i in range(10)]
        assert body["attachments"] == [{"msgtype": "link", "link": {"title": "秒杀", "url": "https://example.com/sale"}}]
    await wait_until(lambda: service.show(store, bid)["progress"] == {"waiting": 30})
    # alice taps 发送 (one of her groups had had its message already); bob and carol are silent
    msgids = {t["owner"]: t["msgid"] for t in store.wecom_contact.task_targets(f"broadcast:{bid}")}
    fake.confirm(msgids["alice"], {"wralice03": 3})
    await contact.poll()
    shown = service.show(store, bid)
    assert shown["progress"] == {"sent": 9, "not_sent": 1, "waiting": 20}
    [refused] = [t for t in shown["targets"] if t["status"] == "not_sent"]
    assert refused["chat"] == "wralice03" and "接收上限" in refused["error"]
    page = await (await client.get(f"/broadcasts/{bid}")).text()
    assert "等待群主确认 20" in page and "已发送 9" in page
    # the same day again: every group has had its one 企业群发 (group_msg_limit = "day") but the
    # one WeCom refused
    page = await (await client.post("/broadcasts/preview", data={**form, "text": "再次提醒"})).text()
    assert page.count("✗ 不会发送：超过企业群发上限（每天最多 1 条，本期已安排 1 条），不发送") == 29
    assert "共 <b>1</b> 个目标（另有 29 个超出限制不会发送）" in page
    bad = await client.post("/broadcasts/preview", data={**form, "tags": "", "groups": "bob的客户群0"})
    assert bad.status == 400 and "没有可发送的目标：超过企业群发上限（每天最多 1 条" in await bad.text()
    assert len(add_msg_templates(fake)) == 3


async def test_cli_preview_refuses_groups_beyond_the_daily_limit_with_the_reason(fake, tmp_path, capsys):
    three_owners(fake, per_owner=2)
    config = write_config(tmp_path, fake, group_msg_limit="day")
    assert await cli("wecom", "sync", "--config", config) == 0
    capsys.readouterr()
    assert await cli("broadcast", "create", "--text", "早市开抢", "--group", "alice的客户群0", "--json",
                     "--config", config) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["targets"] == 1 and first["preview"][0]["note"] == OWNER_CONFIRMS
    # created, not sent yet (no bot running): it still holds the group's one message today
    assert await cli("broadcast", "create", "--text", "午间提醒", "--group", "alice的客户群0", "--group",
                     "alice的客户群1", "--config", config) == 0
    text = capsys.readouterr().out
    assert "alice的客户群0 (wecom:wralice00) ✗ 不会发送：超过企业群发上限（每天最多 1 条" in text
    assert "共 1 个目标" in text and f"〔{OWNER_CONFIRMS}〕" in text
    assert await cli("broadcast", "create", "--text", "再来", "--group", "alice的客户群0", "--json",
                     "--config", config) == 2
    assert "超过企业群发上限" in json.loads(capsys.readouterr().out)["errors"][0]
    # {group} cannot be filled per group in one owner's task
    assert await cli("broadcast", "create", "--text", "{group} 早安", "--group", "bob的客户群0",
                     "--config", config) == 2
    assert "内容不能含 {group}" in capsys.readouterr().out


async def test_groups_whose_limit_a_post_used_before_the_send_time_are_not_sent_and_say_why(fake, tmp_path):
    from zoneinfo import ZoneInfo

    from broadcasts.compose import Draft, PlatformInfo, compose
    from broadcasts.customer_groups import admit
    from broadcasts.runner import items_of
    from tests.test_wecom_contact import deliver, post_config, sh, synced_world

    w, adapter = await synced_world(tmp_path, fake, post_config(fake, "day", ["09:00"]), sh(7, 8))
    try:
        draft = Draft(text="今晚 8 点直播", tags=["早市"], at="2026-12-07 20:00")
        composed = compose(draft, w.store.chats.list_chats(), {"wecom": PlatformInfo("wecom")},
                           ZoneInfo("Asia/Shanghai"), sh(7, 8))
        created = service.create(w.store, admit(w.store, w.settings, composed, sh(7, 20)), approval=False)
        assert created["targets"] == 30
        # the 09:00 post takes every group's one 企业群发 of the day before the broadcast is due
        w.at(sh(7, 9))
        await w.scheduler.run_due()
        await deliver(adapter, w.store.outbound.list())
        row = w.store.broadcasts.get(created["id"])
        assert items_of(w.store, row, w.settings, sh(7, 20)) == []
        shown = service.show(w.store, created["id"])
        assert shown["progress"] == {"refused": 30}
        assert all("超过企业群发上限（每天最多 1 条" in t["error"] for t in shown["targets"])
    finally:
        await adapter.stop()
        w.store.close()
