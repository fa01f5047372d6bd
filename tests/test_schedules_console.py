"""Console pages for campaigns and recurring posts, over real HTTP with a logged-in manager."""

from __future__ import annotations

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings

CAMPAIGN_FORM = {
    "name": "元旦耳机秒杀", "item": "蓝牙耳机", "price": "9.9", "original_price": "25.9", "stock": "100",
    "link": "https://example.com/s/1", "start": "2030-01-01T10:00", "end": "2030-01-01T12:00",
    "groups": "", "tags": "学生, VIP", "announce": "1d, 1h, 5m", "remind": "30m", "last_call": "10m",
    "misfire_grace": "", "announce_text": "【预告】{item} {start} 开抢，还有 {countdown}",
    "start_text": "【开抢】{item} ¥{price}（{discount}）仅 {stock} 件：{link}", "remind_text": "",
    "last_call_text": "【最后召唤】还剩 {countdown}", "end_text": "【结束】感谢参与", "keywords": "秒杀, 链接",
    "keyword_reply": "{item} 秒杀链接：{link}",
}


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def test_manager_creates_previews_and_activates_a_campaign(client):
    token = await login(client, "ops", "manager")
    resp = await client.post("/schedules/campaigns/new", data={**CAMPAIGN_FORM, "csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 302, await resp.text()
    page_url = resp.headers["Location"]
    job_id = int(page_url.rsplit("/", 1)[1])
    page = await (await client.get(page_url)).text()
    assert "草稿" in page
    # the whole timeline, rendered, before activation
    assert "【预告】蓝牙耳机 1月1日 10:00 开抢，还有 1天" in page
    assert "【开抢】蓝牙耳机 ¥9.9（3.8折）仅 100 件：https://example.com/s/1" in page
    assert "学生群" in page and "VIP群" in page
    # remind_text was left empty: no reminders in the timeline
    assert "<td>提醒</td>" not in page and "<td>最后召唤</td>" in page
    resp = await client.post(f"/schedules/{job_id}/action", data={"action": "activate", "csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 302
    scheduler = client.app[BOT].schedules
    assert (await scheduler.job(job_id)).status == "active"
    listing = await (await client.get("/schedules")).text()
    assert "元旦耳机秒杀" in listing and "进行中" in listing
    audit = client.app[STORE].conn.execute("SELECT action FROM audit_log").fetchall()
    assert ("schedules.create",) in audit and ("schedules.activate",) in audit


async def test_bad_campaign_form_is_shown_again_with_a_chinese_error(client):
    token = await login(client, "ops", "manager")
    resp = await client.post("/schedules/campaigns/new",
                             data={**CAMPAIGN_FORM, "price": "九块九", "csrf_token": token})
    assert resp.status == 400
    text = await resp.text()
    assert "秒杀价必须是数字" in text and "元旦耳机秒杀" in text
    resp = await client.post("/schedules/campaigns/new",
                             data={**CAMPAIGN_FORM, "start_text": "{itme}", "csrf_token": token})
    assert resp.status == 400
    assert "开抢文案：未知的占位符 {itme}" in await resp.text()


async def test_manager_creates_and_pauses_a_recurring_post(client):
    token = await login(client, "ops", "manager")
    form = {"name": "晚间福利", "texts": "福利一\n---\n福利二", "mode": "every", "every": "30m",
            "window": "22:00-01:00", "tags": "宝妈", "csrf_token": token}
    resp = await client.post("/schedules/posts/new", data=form, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    page = await (await client.get(f"/schedules/{job_id}")).text()
    assert "福利一" in page and "福利二" in page and "宝妈群" in page
    await client.post(f"/schedules/{job_id}/action", data={"action": "pause", "csrf_token": token})
    scheduler = client.app[BOT].schedules
    assert (await scheduler.job(job_id)).status == "paused"
    preview = await (await client.get("/schedules/preview?days=2")).text()
    assert "晚间福利" not in preview
    edit = await (await client.get(f"/schedules/{job_id}/edit")).text()
    assert "22:00-01:00" in edit


async def test_moderator_cannot_open_schedules(client):
    await login(client, "mod", "moderator")
    resp = await client.get("/schedules", allow_redirects=False)
    assert resp.status == 403


async def test_progress_page_lets_a_manager_retry_failed_targets(client):
    from bot.store.outbound import OutboundItem

    token = await login(client, "ops", "manager")
    scheduler = client.app[BOT].schedules
    job = await scheduler.create("post", {"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g_student"]})
    store = client.app[STORE]
    key = "2030-01-01T01:00:00+00:00"
    [item] = store.outbound.insert([OutboundItem(source=f"post:{job.id}", occurrence=key, platform="sim",
                                                 chat_id="g_student", payload={"text": "早上好"})])
    store.outbound.mark(item.id, "failed", error="网络错误")
    page = await (await client.get(f"/schedules/{job.id}")).text()
    assert "重试失败目标" in page and 'value="2030-01-01T01:00:00+00:00"' in page
    resp = await client.post(f"/schedules/{job.id}/retry", data={"occurrence": key, "csrf_token": token})
    assert "已重新排队 1 个失败的目标" in await resp.text()
    assert store.outbound.get(item.id)["status"] in ("pending", "sending", "sent")
