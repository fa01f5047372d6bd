"""Group reports: exact figures on a seeded store, exports, SVG escaping, CLI, daily summary."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.reports.charts import bar_chart, charts_for, hbar_chart, line_chart
from bot.reports.export import export, tables
from bot.reports.figures import ReportFilter, cluster_questions, compute
from tests.conftest import make_settings
from tests.reports_helpers import XSS_GROUP, at, blocked, event, record, seed

TZ = ZoneInfo("Asia/Shanghai")
D1, D2 = date(2026, 11, 20), date(2026, 11, 21)


@pytest.fixture
def seeded(store):
    seed(store)
    return store


def test_figures_per_day_follow_the_configured_time_zone(seeded):
    r = compute(seeded, ReportFilter(D1, D2), TZ)
    assert r.days == ["2026-11-20", "2026-11-21"]
    assert r.by_day["2026-11-20"] == {
        "messages": 4, "active": 3, "keyword_answers": 1, "faq_answers": 1, "suggested": 0,
        "unanswered": 0, "blocked": 1, "held": 0, "joins": 1, "leaves": 0,
    }
    # 23:30 Shanghai on Nov 21 is still Nov 21; the retried (duplicate) message counts once
    assert r.by_day["2026-11-21"] == {
        "messages": 8, "active": 6, "keyword_answers": 1, "faq_answers": 2, "suggested": 1,
        "unanswered": 2, "blocked": 1, "held": 1, "joins": 0, "leaves": 1,
    }
    assert r.totals == {
        "messages": 12, "active": 6, "keyword_answers": 2, "faq_answers": 3, "suggested": 1,
        "unanswered": 2, "blocked": 2, "held": 1, "joins": 1, "leaves": 1,
    }


def test_figures_per_group_tag_category_and_top_lists(seeded):
    r = compute(seeded, ReportFilter(D1, D2), TZ)
    by_chat = {c["name"]: c for c in r.by_chat}
    assert by_chat["宝妈群"]["messages"] == 8 and by_chat["宝妈群"]["active"] == 3
    assert by_chat[XSS_GROUP]["held"] == 1 and by_chat[XSS_GROUP]["suggested"] == 1
    assert by_chat["私聊（合计）"]["faq_answers"] == 1
    assert {t["tag"]: t["messages"] for t in r.by_tag} == {"宝妈": 8, "VIP": 8, "学生": 3}
    assert r.categories == [("广告", 2), ("链接", 1)]
    assert r.categories_by_day["2026-11-21"] == {"广告": 1, "链接": 1}
    assert r.categories_by_chat == {"宝妈群": {"广告": 2}, XSS_GROUP: {"链接": 1}}
    assert r.top_keywords == [{"id": "K1", "keyword": "发货", "count": 2}]
    assert [(f["id"], f["count"]) for f in r.top_faq] == [("faq-refund", 2), ("faq-ship", 1)]
    assert (r.top_flagged[0]["member_id"], r.top_flagged[0]["count"]) == ("c", 2)
    assert r.top_flagged[0]["categories"] == "广告×2"
    # 有优惠券吗？ and 有没有优惠券 are one cluster of 2; the suggested question is its own
    assert [(c.count, len(c.variants)) for c in r.top_unanswered] == [(2, 1), (1, 0)]


def test_tag_filter_counts_only_groups_with_that_tag(seeded):
    r = compute(seeded, ReportFilter(D1, D2, tag="学生"), TZ)
    assert r.scope == "标签：学生"
    assert r.totals["messages"] == 3 and r.totals["active"] == 2 and r.totals["held"] == 1
    assert [c["chat_id"] for c in r.by_chat] == ["g_stu"]


def test_group_filter_accepts_the_group_name(seeded):
    r = compute(seeded, ReportFilter(D2, D2, group="宝妈群"), TZ)
    assert r.totals["messages"] == 4 and r.totals["unanswered"] == 2 and r.totals["leaves"] == 1


@pytest.mark.parametrize(("flt", "message"), [
    (ReportFilter(D2, D1), "开始日期不能晚于结束日期"),
    (ReportFilter(D1, D2, group="不存在的群"), "找不到群聊「不存在的群」"),
    (ReportFilter(D1, D2, tag="无此标签"), "没有带标签「无此标签」的群聊"),
    (ReportFilter(date(2020, 1, 1), D2), "时间范围最多"),
])
def test_bad_filters_are_refused_in_chinese(seeded, flt, message):
    with pytest.raises(ValueError, match=message):
        compute(seeded, flt, TZ)


def test_empty_period_gives_zeros_and_empty_charts(store):
    r = compute(store, ReportFilter(D1, D2), TZ)
    assert r.totals["messages"] == 0 and r.top_unanswered == []
    assert "所选时间段内暂无数据" in charts_for(r)["activity"]


def test_csv_export_has_every_section_with_the_figures(seeded):
    body = export(compute(seeded, ReportFilter(D1, D2), TZ), "csv")
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0].startswith("群数据报表 2026-11-20 至 2026-11-21")
    for section in (
        "【汇总】",
        "【每日】",
        "【各群】",
        "【各标签】",
        "【拦截分类】",
        "【各群拦截分类】",
        "【热门关键词】",
        "【热门问答】",
        "【未回答问题】",
        "【违规最多成员】",
    ):
        assert [section] in rows
    daily = rows[rows.index(["【每日】"]) + 2]
    assert daily == ["2026-11-20", "4", "3", "1", "1", "0", "0", "1", "0", "1", "0"]


def test_exports_neutralise_spreadsheet_formulas_in_member_names(store):
    store.chats.upsert_chat("sim", "g1", name="群1")
    record(store, event("g1", "evil", at("2026-11-21 10:00"), "spam", name="=HYPERLINK(\"http://x\")"),
           blocked("广告"), "blocked")
    report = compute(store, ReportFilter(D2, D2), TZ)
    text = export(report, "csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(export(report, "xlsx")))
    cell = wb["违规最多成员"]["A2"]
    assert cell.value == "=HYPERLINK(\"http://x\")" and cell.data_type == "s"


def test_xlsx_export_reads_back_with_openpyxl(seeded):
    from openpyxl import load_workbook

    report = compute(seeded, ReportFilter(D1, D2), TZ)
    wb = load_workbook(io.BytesIO(export(report, "xlsx")))
    assert wb.sheetnames == [t.title for t in tables(report)]
    daily = [list(r) for r in wb["每日"].iter_rows(values_only=True)]
    assert daily[0][:3] == ["日期", "消息数", "活跃成员"]
    assert daily[2] == ["2026-11-21", 8, 6, 1, 2, 1, 2, 1, 1, 0, 1]
    groups = {r[0]: r for r in wb["各群"].iter_rows(min_row=2, values_only=True)}
    assert groups[XSS_GROUP][4] == 3


def test_html_export_is_standalone_and_escapes_names(seeded):
    page = export(compute(seeded, ReportFilter(D1, D2), TZ), "html").decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing remote
    assert "<svg" in page and "每日消息数与活跃成员" in page


def test_svg_charts_escape_labels_and_series_names():
    xss = '<img src=x onerror="alert(1)">'
    for svg in (bar_chart([xss], [(xss, [3])], xss), line_chart([xss], [(xss, [1])], xss),
                hbar_chart([(xss, 2)], xss)):
        assert "<img" not in svg and "&lt;img" in svg
        assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_cluster_merges_near_identical_questions():
    clusters = cluster_questions([("怎么退款？", 3), ("怎么退款", 2), ("今天几号发货呀", 1), ("几号发货", 4)])
    assert [(c.text, c.count) for c in clusters] == [("怎么退款？", 5), ("几号发货", 5)]


def test_cli_report_writes_each_format(tmp_path, capsys):
    from bot.cli import main
    from bot.store import Store

    settings = make_settings(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    with Store(settings.database_path) as store:
        seed(store)
    out = tmp_path / "r.xlsx"
    assert main(["report", "--config", str(config), "--from", "2026-11-20", "--to", "2026-11-21",
                 "--tag", "宝妈", "-o", str(out)]) == 0
    from openpyxl import load_workbook

    summary = {r[0]: r[1] for r in load_workbook(out)["汇总"].iter_rows(values_only=True)}
    assert summary["消息数"] == 8 and summary["范围"] == "标签：宝妈"
    assert main(["report", "--config", str(config), "--from", "2026-11-20", "--to", "2026-11-21",
                 "--format", "csv"]) == 0
    assert "【每日】" in capsys.readouterr().out
    assert main(["report", "--config", str(config), "--group", "没有这个群"]) == 1
    assert "找不到群聊" in capsys.readouterr().err


@pytest.fixture
def summary_store(tmp_path):
    """Settings posting the daily summary to 运营群 at 21:00, and the seeded report days."""
    from bot.store import Store

    settings = make_settings(tmp_path, bot={"demo": False},
                             reports={"daily_summary_chat": "运营群", "daily_summary_time": "21:00"})
    store = Store(settings.database_path)
    store.chats.upsert_chat("sim", "g_ops", name="运营群")
    seed(store)
    yield settings, store
    store.close()


async def test_daily_summary_is_handed_to_the_outbox_once_per_day(summary_store):
    from bot.kernel.clock import FakeClock
    from bot.runtime import Bot

    settings, store = summary_store
    clock = FakeClock(datetime(2026, 11, 21, 12, 59, tzinfo=UTC))  # 20:59 in Shanghai
    bot = Bot(settings, store, clock=clock)
    assert await bot.daily_summary.tick() is False
    clock.advance(60)
    assert await bot.daily_summary.tick() is True
    assert await bot.daily_summary.tick() is False
    # a restarted bot does not post the same day's summary again
    assert await Bot(settings, store, clock=clock).daily_summary.tick() is False
    rows = store.outbound.list(source="report:daily")
    # the seeded 20th had no summary (the bot was not running): posted late, once
    assert [r["occurrence"] for r in rows] == ["2026-11-21", "2026-11-20"]
    assert {r["chat_id"] for r in rows} == {"g_ops"}
    text = rows[0]["payload"]["text"]
    assert text.startswith("【每日群数据】2026-11-21")
    assert "消息 8 条，活跃成员 6 人" in text and "广告 1" in text
    assert rows[1]["payload"]["text"].startswith("【每日群数据·补发】2026-11-20")
    assert "消息 4 条" in rows[1]["payload"]["text"]


# -- console ------------------------------------------------------------------------------

@pytest.fixture
async def console(aiohttp_client, tmp_path):
    from bot.kernel.clock import FakeClock
    from bot.web.app import create_app
    from bot.web.keys import STORE

    clock = FakeClock(datetime(2026, 11, 21, 14, 0, tzinfo=UTC))  # 22:00 on Nov 21 in Shanghai
    client = await aiohttp_client(create_app(make_settings(tmp_path, bot={"demo": False}), clock=clock))
    seed(client.app[STORE])
    return client


async def test_dashboard_shows_the_period_figures_and_escapes_group_names(console):
    from tests.conftest import login

    await login(console, "mod", "moderator")
    resp = await console.get("/?from=2026-11-20&to=2026-11-21")
    page = await resp.text()
    assert resp.status == 200
    assert "群数据报表 2026-11-20 至 2026-11-21（全部群聊）" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert page.count("<svg") == 6 and "cdn" not in page.lower()
    for label in ("热门关键词", "热门问答", "未回答最多的问题", "违规最多的成员", "各标签数据"):
        assert label in page
    assert '<div class="n">12</div><div class="l">消息数</div>' in page


async def test_dashboard_defaults_to_the_last_seven_local_days_and_filters_by_tag(console):
    from tests.conftest import login

    await login(console)
    page = await (await console.get("/")).text()
    assert "群数据报表 2026-11-15 至 2026-11-21" in page
    page = await (await console.get("/?from=2026-11-20&to=2026-11-21&tag=学生")).text()
    assert "（标签：学生）" in page and '<div class="n">3</div><div class="l">消息数</div>' in page


async def test_dashboard_explains_a_bad_filter_instead_of_failing(console):
    from tests.conftest import login

    await login(console)
    page = await (await console.get("/?from=2026-13-01")).text()
    assert "日期格式应为 YYYY-MM-DD" in page
    page = await (await console.get("/?group=没有这个群")).text()
    assert "找不到群聊「没有这个群」" in page


async def test_report_download_from_the_console(console):
    from openpyxl import load_workbook

    from tests.conftest import login

    await login(console, "mod", "moderator")
    resp = await console.get("/reports/export?format=xlsx&from=2026-11-20&to=2026-11-21&group=g_stu")
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(await resp.read()))
    assert {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True)}["消息数"] == 3
    assert (await console.get("/reports/export?format=pdf")).status == 400


async def test_anonymous_users_cannot_see_reports(console):
    for path in ("/", "/reports/export?format=csv"):
        resp = await console.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_a_quiet_missed_day_is_not_posted_late(summary_store):
    from bot.kernel.clock import FakeClock
    from bot.runtime import Bot

    settings, store = summary_store
    # the 24th: nothing was said on the 23rd, so nothing is posted for it
    clock = FakeClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert await Bot(settings, store, clock=clock).daily_summary.tick() is False
    assert store.outbound.list(source="report:daily") == []


async def test_daily_summary_waits_for_an_unknown_chat(tmp_path):
    from bot.kernel.clock import FakeClock
    from bot.runtime import Bot
    from bot.store import Store

    settings = make_settings(tmp_path, bot={"demo": False}, reports={"daily_summary_chat": "sim:g_ops"})
    with Store(settings.database_path) as store:
        bot = Bot(settings, store, clock=FakeClock(datetime(2026, 11, 21, 13, 30, tzinfo=UTC)))
        assert await bot.daily_summary.tick() is False
        store.chats.upsert_chat("sim", "g_ops", name="运营群")
        assert await bot.daily_summary.tick() is True


def test_daily_summary_time_is_validated(tmp_path):
    from bot.settings_loader import ConfigError

    with pytest.raises(ConfigError, match=r"reports\.daily_summary_time"):
        make_settings(tmp_path, reports={"daily_summary_time": "25:00"})


async def test_figures_match_what_the_real_pipeline_decided(aiohttp_client, tmp_path):
    """Replays messages through the real stages (demo rules, FAQ, lexicon) and checks the
    report agrees with each outcome: the trace details the report reads are really written."""
    from bot.web.app import create_app
    from bot.web.keys import BOT, STORE

    rules = [{"id": "demo-rules", "keyword": "群规", "match": "exact", "reply": "群规：不发广告"}]
    client = await aiohttp_client(create_app(make_settings(tmp_path, keywords=rules)))
    bot, store = client.app[BOT], client.app[STORE]
    await store.run(bot.faq_stage.faq.seed_demo)
    day = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, far from seeded data
    texts = ["群规", "什么时候发货", "约炮吗", "大家早上好", "火星上可以开分店吗？", "能发顺丰吗"]
    outcomes = []
    for i, text in enumerate(texts):
        ev = event("g_mom", f"u{i}", day.replace(minute=i), text)
        ev.chat_name = "宝妈群"
        outcomes.append(await bot.handle(ev))
    await bot.recorder.flush()
    r = compute(store, ReportFilter(date(2026, 6, 1), date(2026, 6, 1)), TZ)

    def n(stage: str, *results: str) -> int:
        return sum(1 for o in outcomes if o.decisions[-1].stage == stage and o.decisions[-1].outcome in results)

    assert outcomes[0].decisions[-1].stage == "keywords" and outcomes[1].decisions[-1].stage == "intents"
    assert outcomes[2].decisions[-1].stage == "moderation"
    assert r.totals["messages"] == len(texts) and r.totals["active"] == len(texts)
    assert r.totals["keyword_answers"] == n("keywords", "answered") >= 1
    assert r.totals["faq_answers"] == n("intents", "answered") >= 1
    assert r.totals["suggested"] == n("intents", "suggested")
    assert r.totals["blocked"] + r.totals["held"] == n("moderation", "blocked", "held") >= 1
    assert r.categories[0][0] == "色情"
    assert r.top_keywords[0]["id"] == "demo-rules" and r.top_keywords[0]["keyword"] == "群规"
    assert {f["id"]: f["question"] for f in r.top_faq} == {"shipping": "什么时候发货", "express": "用的什么快递"}
