"""[[posts]] / [[campaigns]] in config.toml: precise errors, and `qunbot schedule` commands."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from bot.settings_loader import ConfigError
from tests.conftest import make_settings

POST = {"name": "早安", "text": "早上好", "at": ["09:00"], "groups": ["g_student"]}
CAMPAIGN = {
    "name": "耳机秒杀", "item": "蓝牙耳机", "price": 9.9, "original_price": 25.9,
    "start": "2026-11-25T10:00:00", "end": "2026-11-25T12:00:00", "link": "https://example.com/s/1",
    "tags": ["学生"],
}


@pytest.mark.parametrize(("post", "key", "words"), [
    ({"cron": "0 9 * *", "at": []}, "posts[0].cron", "5 段"),
    ({"every": "30m"}, "posts[0].every", "选且只选一种"),
    ({"window": "19:00-19:00"}, "posts[0].window", "相同"),
    ({"window": "7pm-11pm"}, "posts[0].window", "HH:MM-HH:MM"),
    ({"at": ["25:00"]}, "posts[0].at", "HH:MM"),
    ({"groups": []}, "posts[0].groups", "目标群"),
    ({"texts": ["a", "b"]}, "posts[0].text", "二选一"),
    ({"skip": ["2026-13-01"]}, "posts[0].skip[0]", "应为日期"),
    ({"start": "2026-11-30", "end": "2026-11-01"}, "posts[0].end", "早于"),
    ({"colour": "red"}, "posts[0].colour", "未知的配置项"),
])
def test_bad_post_is_rejected_with_its_key_path(tmp_path, post, key, words):
    with pytest.raises(ConfigError) as err:
        make_settings(tmp_path, posts=[{**POST, **post}])
    assert err.value.key == key
    assert words in err.value.reason


@pytest.mark.parametrize(("campaign", "key", "words"), [
    ({"end": "2026-11-25T09:00:00"}, "campaigns[0].end", "必须晚于"),
    ({"start_text": "{item} 只要 {prise}"}, "campaigns[0].start_text", "未知的占位符 {prise}"),
    ({"link": ""}, "campaigns[0].announce_text", "{link}"),
    ({"end_text": "{stock} 件已售罄"}, "campaigns[0].end_text", "stock"),
    ({"announce": ["1h", "soon"]}, "campaigns[0].announce[1]", "时长格式不对"),
    ({"remind": "10s"}, "campaigns[0].remind", "至少 1 分钟"),
    ({"status": "running"}, "campaigns[0].status", "之一"),
])
def test_bad_campaign_is_rejected_with_its_key_path(tmp_path, campaign, key, words):
    with pytest.raises(ConfigError) as err:
        make_settings(tmp_path, campaigns=[{**CAMPAIGN, **campaign}])
    assert err.value.key == key
    assert words in err.value.reason


def test_valid_sections_load_with_typed_values(tmp_path):
    settings = make_settings(tmp_path, schedule={"misfire_grace": "2m"},
                             posts=[{**POST, "at": [], "every": "30m", "window": "19:00-23:00"}],
                             campaigns=[{**CAMPAIGN, "announce": ["1d", "1h", "5m"], "remind": "30m"}])
    assert settings.schedule.misfire_grace == 120
    assert settings.posts[0].every == 1800
    assert [float(a) for a in settings.campaigns[0].announce] == [86400, 3600, 300]


def write_config(tmp_path, **extra) -> str:
    path = tmp_path / "config.toml"
    lines = [f'[bot]\ndata_dir = "{tmp_path / "data"}"\ndemo = true\n[adapters.sim]\nenabled = true\n']
    for name, tables in extra.items():
        for table in tables:
            lines.append(f"[[{name}]]")
            lines.extend(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items())
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


def test_preview_json_lists_every_occurrence_and_target_without_sending(tmp_path, capsys):
    post = {**POST, "at": [], "every": "1h", "tags": ["学生", "宝妈"], "groups": []}
    config = write_config(tmp_path, posts=[post])
    assert main(["schedule", "preview", "--days", "1", "--json", "--config", config]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 48
    assert {r["chat"] for r in rows} == {"g_student", "g_mom"}
    assert rows[0]["time"].endswith("+08:00")
    assert rows[0]["text"] == "早上好"
    assert main(["schedule", "status", "--json", "--config", config]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_preview_text_shows_campaign_timeline(tmp_path, capsys):
    config = write_config(tmp_path, campaigns=[{**CAMPAIGN, "start": "2030-01-01T10:00:00",
                                               "end": "2030-01-01T12:00:00"}])
    assert main(["schedule", "preview", "--days", "3650", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "耳机秒杀·开抢" in out and "学生群" in out and "【秒杀开始】蓝牙耳机" in out
    assert main(["schedule", "list", "--config", config]) == 0
    assert "耳机秒杀" in capsys.readouterr().out


async def test_status_and_retry_commands_show_progress_and_requeue_failed_targets(tmp_path, capsys):
    from datetime import UTC, datetime, timedelta

    from bot.config import load_settings
    from bot.demo import seed_if_empty
    from bot.kernel.clock import FakeClock
    from bot.services import Services
    from bot.store import Store
    from schedules.scheduler import Scheduler

    config = write_config(tmp_path, posts=[{**POST, "groups": ["g_student", "g_mom"]}])
    settings = load_settings(config)
    store = Store(settings.database_path)
    seed_if_empty(store, settings)
    clock = FakeClock(datetime.now(UTC).replace(hour=0, minute=30, second=0) - timedelta(days=1))  # 08:30 CST
    scheduler = Scheduler(Services(settings=settings, store=store, clock=clock))
    await scheduler.load()
    clock.advance(1800)
    assert [r["status"] for r in await scheduler.run_due()] == ["submitted"]
    rows = store.outbound.list(limit=10)
    store.outbound.mark(rows[0]["id"], "failed", error="群不存在")
    store.outbound.mark(rows[1]["id"], "sent")
    store.close()

    assert main(["schedule", "status", "早安", "--json", "--config", config]) == 0
    status = json.loads(capsys.readouterr().out)
    progress = status[0]["occurrences"][0]
    assert (progress["source"], progress["total"], progress["sent"], progress["failed"]) == ("post:1", 2, 1, 1)
    assert main(["schedule", "retry", "早安", "--json", "--config", config]) == 0
    assert json.loads(capsys.readouterr().out) == {"job": "早安", "requeued": 1}
    assert main(["schedule", "retry", "没有这个", "--config", config]) == 1
