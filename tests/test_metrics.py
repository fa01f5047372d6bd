"""/metrics: Prometheus text format 0.0.4 with messages, replies, blocks, queue, outbox and latency."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.kernel.events import ChatKind, Decision, Event
from bot.kernel.pipeline import Outcome
from bot.metrics import BUCKETS, Histogram, Metrics, render
from bot.web.app import create_app
from tests.conftest import make_settings, wait_until

SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? -?[0-9.e+-]+$|^[^ ]+ [+-]Inf$'
)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def parse(text: str) -> dict[str, float]:
    """Every line is a comment or `name{labels} value`; returns samples by their full name."""
    samples: dict[str, float] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        assert SAMPLE.match(line), f"not a Prometheus sample: {line!r}"
        name, _, value = line.rpartition(" ")
        samples[name] = float(value)
    return samples


def outcome(status: str, *stages: tuple[str, str, float], stop: bool = True) -> Outcome:
    decisions = []
    for stage, result, ms in stages:
        d = Decision(stage, result, elapsed_ms=ms)
        decisions.append(d)
    decisions[-1].stop = stop
    event = Event(platform="sim", chat_id="g", chat_kind=ChatKind.GROUP, sender_id="u", sender_name="",
                  message_id="x", time=datetime.now(UTC), text="")
    return Outcome(event=event, decisions=decisions, replies=[], actions=[], status=status)


def fake_bot(metrics: Metrics):
    return SimpleNamespace(
        metrics=metrics, outbox=SimpleNamespace(sent_count=7, failed_count=1, depth=lambda: 2),
        queue_depth=lambda: 3, recorder=SimpleNamespace(pending=lambda: 0, flushed_messages=5),
    )


def test_histogram_buckets_are_cumulative_and_end_with_inf():
    h = Histogram()
    for seconds in (0.00001, 0.0003, 0.0003, 0.02, 9.0):
        h.observe(seconds)
    lines = list(h.lines("x", {"stage": "keywords"}))
    assert lines[0] == 'x_bucket{stage="keywords",le="5e-05"} 1'
    assert 'x_bucket{stage="keywords",le="0.0005"} 3' in lines
    assert lines[len(BUCKETS)] == 'x_bucket{stage="keywords",le="+Inf"} 5'
    assert lines[-1] == 'x_count{stage="keywords"} 5'


def test_render_counts_messages_blocks_and_stage_latency():
    m = Metrics()
    m.observe(outcome("blocked", ("dedupe", "pass", 0.01), ("moderation", "blocked", 0.2)))
    m.observe(outcome("held", ("dedupe", "pass", 0.01), ("moderation", "held", 0.3)))
    m.observe(outcome("answered", ("dedupe", "pass", 0.01), ("moderation", "pass", 0.1), ("keywords", "answered", 2.0)))
    m.observe(outcome("passed", ("dedupe", "pass", 0.01), ("intents", "pass", 40.0), stop=False))
    due = (NOW - timedelta(seconds=90)).isoformat()
    text = render(fake_bot(m), {"by_status": {"pending": 4, "sent": 10}, "oldest_pending_due": due}, NOW)
    s = parse(text)
    assert s['qunbot_messages_in_total{status="blocked"}'] == 1
    assert s['qunbot_messages_in_total{status="answered"}'] == 1
    assert s["qunbot_blocks_total"] == 2
    assert s['qunbot_decisions_total{stage="keywords",outcome="answered"}'] == 1
    assert s["qunbot_replies_sent_total"] == 7 and s["qunbot_queue_depth"] == 3
    assert s['qunbot_outbox_rows{status="pending"}'] == 4 and s['qunbot_outbox_rows{status="failed"}'] == 0
    assert s["qunbot_outbox_lag_seconds"] == 90.0
    assert s['qunbot_stage_duration_seconds_count{stage="moderation"}'] == 3
    assert s['qunbot_stage_duration_seconds_bucket{stage="intents",le="0.05"}'] == 1
    assert s['qunbot_stage_duration_seconds_bucket{stage="intents",le="0.025"}'] == 0
    assert s["qunbot_pipeline_duration_seconds_count"] == 4
    assert "# TYPE qunbot_stage_duration_seconds histogram" in text


def test_label_values_are_escaped():
    m = Metrics()
    m.observe(outcome('we"ird\nstatus\\', ("x", "y", 1.0)))
    text = render(fake_bot(m), {"by_status": {}, "oldest_pending_due": None}, NOW)
    assert 'status="we\\"ird\\nstatus\\\\"' in text
    parse(text)


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def test_metrics_endpoint_serves_live_figures_without_login(client):
    from bot.web.keys import BOT

    bot = client.app[BOT]
    await bot.submit(Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id="u1",
                           sender_name="甲", message_id="metric-1", time=NOW, text="你好"))
    await wait_until(lambda: bot.handled >= 1)
    await bot.submit(Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP, sender_id="u1",
                           sender_name="甲", message_id="metric-1", time=NOW, text="你好"))
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    s = parse(await resp.text())
    assert sum(v for k, v in s.items() if k.startswith("qunbot_messages_in_total")) >= 1
    assert s['qunbot_stage_duration_seconds_count{stage="record"}'] >= 1
    assert "qunbot_outbox_lag_seconds" in s and "qunbot_queue_depth" in s
    assert s["qunbot_messages_recorded_total"] >= 1
    assert s['qunbot_messages_in_total{status="duplicate"}'] == 1


async def test_metrics_can_be_switched_off(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(make_settings(tmp_path, console={"metrics": False})))
    assert (await client.get("/metrics")).status == 404


async def test_metrics_token_is_required_when_configured(aiohttp_client, tmp_path):
    token = "s3cret-token-for-prometheus"
    client = await aiohttp_client(create_app(make_settings(tmp_path, console={"metrics_token": token})))
    assert (await client.get("/metrics")).status == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
    ok = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200 and "qunbot_" in await ok.text()


def test_a_short_metrics_token_is_refused_in_the_config(tmp_path):
    from bot.config import load_settings
    from bot.settings_loader import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[console]\nmetrics_token = "short"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "console.metrics_token" in str(err.value.errors[0].key)
