"""确认违规: the page says what the ladder will do next, and the moderator may choose otherwise."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings
from tests.test_moderation_console import held_message, pending


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


def strikes(client, member: str = "u_spam") -> list[dict]:
    return client.app[BOT].moderation_stage.strikes.history("sim", "g_mom", member)


async def test_detail_page_says_what_the_ladder_will_do_next(client):
    await held_message(client, "快来买竞品牌吧")
    await login(client, "mod", "moderator")
    flag_id = pending(client)[0]["id"]
    page = await (await client.get(f"/moderation/review/{flag_id}")).text()
    # a first violation on the default ladder: recall and warn
    assert '按违规阶梯：<strong id="ladder-next">撤回并警告</strong>' in page
    assert "目前有 0 次有效违规" in page
    for label in ("只撤回这条消息（不计违规）", "撤回并禁言", "撤回并移出群聊"):
        assert label in page
    assert "data-confirm=" in page


async def test_only_delete_the_message_records_no_strike(client):
    await held_message(client, "快来买竞品牌吧")
    csrf = await login(client, "mod", "moderator")
    flag_id = pending(client)[0]["id"]
    resp = await client.post(f"/moderation/review/{flag_id}/confirm", data={"choice": "recall", "csrf_token": csrf})
    assert "已确认违规，撤回" in await resp.text()
    assert strikes(client) == []
    assert client.app[STORE].moderation.get_flag(flag_id)["status"] == "confirmed"


async def test_moderator_picks_a_mute_of_n_days_instead_of_the_ladder(client):
    await held_message(client, "快来买竞品牌吧")
    csrf = await login(client, "mod", "moderator")
    flag_id = pending(client)[0]["id"]
    resp = await client.post(f"/moderation/review/{flag_id}/confirm",
                             data={"choice": "mute", "mute_days": "3", "csrf_token": csrf})
    assert "禁言 3 天" in await resp.text()
    history = strikes(client)
    assert len(history) == 1 and history[0]["step"] == "mute:259200s"
    audit = client.app[STORE].accounts.audit_entries(action="moderation.review.confirm")[0]
    assert any(a["action"] == "mute" and a["seconds"] == 259200 for a in audit["detail"]["actions"])


async def test_a_mute_length_out_of_range_is_refused_and_nothing_happens(client):
    await held_message(client, "快来买竞品牌吧")
    csrf = await login(client, "mod", "moderator")
    flag_id = pending(client)[0]["id"]
    resp = await client.post(f"/moderation/review/{flag_id}/confirm",
                             data={"choice": "mute", "mute_days": "365", "csrf_token": csrf})
    assert "禁言天数应在 1 到 30 天之间" in await resp.text()
    assert client.app[STORE].moderation.get_flag(flag_id)["status"] == "pending"


async def test_the_group_reads_a_natural_sentence_for_the_category(client):
    await held_message(client, "快来买竞品牌吧")
    csrf = await login(client, "mod", "moderator")
    flag_id = pending(client)[0]["id"]
    await client.post(f"/moderation/review/{flag_id}/confirm", data={"choice": "warn", "csrf_token": csrf})
    rows = client.app[STORE].outbound.list(limit=20)
    texts = [r["payload"]["text"] for r in rows if r["source"] == f"moderation:{flag_id}"]
    assert texts == ["@广告哥 本群不讨论其他平台的商品，您的消息已撤回并警告。"]
