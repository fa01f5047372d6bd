"""Stored links are http(s) only wherever they come from, no console page runs an inline
script, and exported CSV cannot run formulas in Excel/WPS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import settings_from_dict
from bot.settings_loader import ConfigError
from bot.urls import check_url, url_error
from bot.web.app import create_app
from bot.web.keys import STORE
from keywords.io import dumps_csv, export_bytes, import_file, parse_csv
from keywords.manage import save_rule
from tests.conftest import login, make_settings
from tests.test_keywords_console import RULE
from tests.test_schedules_console import CAMPAIGN_FORM

SCRIPT_LINKS = [
    "javascript:alert(document.domain)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "//evil.example.com/x",
    "/relative/path", "https://", "http:///nohost", "ftp://example.com/f", "https://exa mple.com",
]


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


# -- one validator ----------------------------------------------------------------------------------


@pytest.mark.parametrize("link", SCRIPT_LINKS)
def test_only_absolute_http_links_pass_the_check(link):
    assert url_error(link.strip() if link.startswith(" ") else link) is not None
    with pytest.raises(ValueError, match="链接"):
        check_url(link)


@pytest.mark.parametrize("link", ["https://example.com/s/1", "HTTP://Example.com:8080/a?b=c#d",
                                  "https://商城.example.cn/秒杀"])
def test_ordinary_links_pass(link):
    assert check_url(link) == link


async def test_manager_cannot_save_a_javascript_link_on_a_campaign(client):
    token = await login(client, "ops", "manager")
    resp = await client.post("/schedules/campaigns/new", allow_redirects=False,
                             data={**CAMPAIGN_FORM, "link": "javascript:alert(document.domain)", "csrf_token": token})
    assert resp.status == 400
    assert "链接：链接只能以 http:// 或 https:// 开头" in await resp.text()
    assert client.app[STORE].schedules.list_jobs() == []


async def test_a_bad_link_saved_before_the_check_is_never_rendered_as_a_link(client):
    token = await login(client, "ops", "manager")
    resp = await client.post("/schedules/campaigns/new", data={**CAMPAIGN_FORM, "csrf_token": token},
                             allow_redirects=False)
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    store = client.app[STORE]
    row = store.schedules.get_job(job_id)
    store.schedules.update_job(job_id, spec={**row["spec"], "link": "javascript:alert(document.domain)"})
    resp = await client.get(f"/schedules/{job_id}")
    assert resp.status == 409
    assert "javascript:" not in await resp.text()
    listing = await client.get("/schedules")
    assert listing.status == 200 and 'href="javascript:' not in await listing.text()


def test_config_toml_refuses_a_javascript_campaign_link():
    campaign = {"name": "秒杀", "item": "耳机", "price": 9.9, "original_price": 19.9, "tags": ["VIP"],
                "start": "2030-01-01T10:00:00", "end": "2030-01-01T12:00:00", "link": "javascript:alert(1)"}
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"campaigns": [campaign]}, "config.toml")
    assert err.value.key == "campaigns[0].link" and "http://" in err.value.reason


@pytest.mark.parametrize(("field", "extra"), [("url", {"kind": "link", "title": "活动"}),
                                              ("image", {"kind": "image"})])
def test_config_toml_refuses_script_links_in_keyword_replies(field, extra):
    rule = {"keyword": "活动", "reply": "看这里", field: "javascript:alert(1)", **extra}
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"keywords": [rule]}, "config.toml")
    assert "http://" in str(err.value)


async def test_keyword_form_refuses_a_script_image(client):
    token = await login(client, "ops", "manager")
    resp = await client.post("/keywords/new", data={
        **RULE, "keyword": "二维码", "kind": "image", "image": "javascript:alert(1)", "csrf_token": token,
    })
    assert resp.status == 422
    assert "图片地址只能以 http:// 或 https:// 开头" in await resp.text()


def test_keyword_import_refuses_script_links(tmp_path):
    from bot.store import Store

    settings = make_settings(tmp_path, bot={"demo": False})
    store = Store(settings.database_path)
    try:
        path = tmp_path / "rules.csv"
        path.write_text("keyword,reply,kind,url,image\n活动,看这里,link,javascript:alert(1),\n"
                        "图,看图,image,,\"data:image/png;base64,AAAA\"\n", encoding="utf-8")
        report = import_file(store, path)
        assert not report.written and [line for line, _ in report.errors] == [2, 3]
        path = tmp_path / "rules.json"
        path.write_text('[{"keyword": "活动", "reply": "看", "kind": "link", "url": "vbscript:x"}]', encoding="utf-8")
        assert import_file(store, path).errors
        assert store.keywords.list_rules() == []
    finally:
        store.close()


def test_keyword_cli_import_refuses_script_links(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f"[bot]\ndata_dir = '{tmp_path / 'data'}'\n", encoding="utf-8")
    rules = tmp_path / "rules.csv"
    rules.write_text("keyword,reply,kind,url\n活动,看这里,link,javascript:alert(1)\n", encoding="utf-8")
    assert main(["keywords", "import", str(rules), "--config", str(config)]) != 0
    captured = capsys.readouterr()
    assert "http://" in captured.err + captured.out


# -- no inline scripts -------------------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I)
HANDLER_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


async def test_csp_allows_no_inline_script_and_no_page_needs_one(client):
    from tests.test_security import concrete, console_routes

    await login(client)
    resp = await client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    pages = sorted({concrete(p) for m, p, _ in console_routes(client.app) if m == "GET"})
    pages += ["/login", "/keywords/new", "/schedules/campaigns/new", "/sim?chat=g_mom"]
    checked = 0
    for path in pages:
        resp = await client.get(path)
        if resp.status != 200 or "html" not in resp.content_type:
            continue
        body = await resp.text()
        assert not INLINE_SCRIPT.search(body), f"inline <script> on {path}"
        assert not HANDLER_ATTR.search(body), f"on*= handler attribute on {path}"
        checked += 1
    assert checked >= 10


async def test_the_console_scripts_are_served_from_static(client):
    for name in ("console.js", "simulator.js"):
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200 and "javascript" in resp.content_type


async def test_a_keyword_with_quotes_cannot_break_out_of_the_delete_confirmation(client):
    """The old onsubmit="return confirm('…{{ keyword|e }}…')" decoded &#39; back into a quote."""
    token = await login(client, "ops", "manager")
    keyword = "');alert(1);('"
    resp = await client.post("/keywords/new", data={**RULE, "keyword": keyword, "csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 302
    body = await (await client.get("/keywords")).text()
    assert "data-confirm=\"确定删除规则「&#39;);alert(1);(&#39;」？\"" in body


# -- CSV formulas ------------------------------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
            "\t=1", "\r=1", "'=already quoted", "''+double"]


def test_exported_csv_cells_never_start_like_a_formula(store, tmp_path):
    for i, text in enumerate(FORMULAS):
        save_rule(store, {"keyword": f"规则{i}", "reply": text, "tags": [text]}, source="console", actor="t")
    text = export_bytes(store, ".csv").decode("utf-8-sig")
    for _, row in parse_csv_raw(text):
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)


def parse_csv_raw(text: str):
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [(i, row) for i, row in enumerate(reader)]


def test_export_then_import_gives_back_the_same_rules(store, tmp_path):
    for i, text in enumerate([*FORMULAS, "普通回复", "'引号开头"]):
        save_rule(store, {"keyword": f"规则{i}", "reply": text, "priority": -i}, source="console", actor="t")
    before = {r["name"]: r["spec"] for r in store.keywords.list_rules()}
    path: Path = tmp_path / "rules.csv"
    path.write_bytes(export_bytes(store, ".csv"))
    report = import_file(store, path)
    assert report.written and report.created == report.updated == 0 and report.unchanged == len(before)
    assert {r["name"]: r["spec"] for r in store.keywords.list_rules()} == before


def test_imported_cells_lose_only_the_quote_that_marks_a_formula_as_text():
    rows = parse_csv("keyword,reply\n'=价格,=看公告\n")
    assert rows[0][1] == {"keyword": "=价格", "reply": "=看公告"}
    line = dumps_csv([{"keyword": "=价格", "reply": "=看公告"}]).splitlines()[1]
    assert ",'=价格,,'=看公告," in line


@pytest.fixture
def store(tmp_path):
    from bot.store import Store

    s = Store(make_settings(tmp_path, bot={"demo": False}).database_path)
    yield s
    s.close()

