"""Import and export of rules (CSV for Excel/WPS, JSON) and the `qunbot keywords` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Store
from keywords.io import import_file
from keywords.manage import save_rule
from tests.conftest import make_settings

GOOD_CSV = (
    "keyword,match,reply,replies,groups,tags,priority,cooldown,active\n"
    "价格,exact,请看群公告,,,,1,30s,\n"
    "退款,contains,,退款请联系客服|售后电话 400-000-0000,,宝妈|VIP,0,0,09:00-18:00\n"
)
BAD_CSV = (
    "keyword,match,reply,active\n"
    "价格,exact,请看群公告,\n"
    "(a+)+$,regex,订单查询,\n"         # line 3: catastrophic regex
    "优惠,sometimes,有优惠,\n"         # line 4: unknown match mode
    "秒杀,contains,快来,25:00-26:00\n"  # line 5: impossible time window
    '"多行\n关键词",contains,,\n'       # line 6-7: no reply
    "群规,contains,请看群公告,\n"
)


@pytest.fixture
def store(tmp_path):
    settings = make_settings(tmp_path, bot={"demo": False})
    s = Store(settings.database_path)
    yield s
    s.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_import_reads_lists_separated_by_bars(store, tmp_path):
    report = import_file(store, write(tmp_path / "r.csv", GOOD_CSV))
    assert (report.created, report.errors, report.written) == (2, [], True)
    refund = store.keywords.get_rule_by_name("kw2")["spec"]
    assert refund["replies"] == ["退款请联系客服", "售后电话 400-000-0000"]
    assert refund["tags"] == ["宝妈", "VIP"] and refund["active"] == "09:00-18:00"
    assert store.keywords.get_rule_by_name("kw1")["spec"]["cooldown"] == 30


def test_import_with_bad_rows_reports_each_line_and_imports_nothing(store, tmp_path):
    report = import_file(store, write(tmp_path / "r.csv", BAD_CSV))
    lines = {line: errs for line, errs in report.errors}
    assert sorted(lines) == [3, 4, 5, 6]
    assert "过慢" in lines[3]["keyword"]
    assert "match" in lines[4] and "active" in lines[5] and "reply" in lines[6]
    assert not report.written
    assert store.keywords.list_rules() == []


def test_partial_import_keeps_the_good_rows(store, tmp_path):
    report = import_file(store, write(tmp_path / "r.csv", BAD_CSV), partial=True)
    assert report.written and report.created == 2 and len(report.errors) == 4
    assert sorted(r["keyword"] for r in store.keywords.list_rules()) == ["价格", "群规"]


def test_csv_saved_by_excel_as_gbk_is_read(store, tmp_path):
    report = import_file(store, write(tmp_path / "r.csv", GOOD_CSV, "gbk"))
    assert report.created == 2
    assert store.keywords.list_rules()[0]["keyword"] == "价格"


def test_csv_with_unknown_column_is_refused_as_a_whole(store, tmp_path):
    from keywords.io import ImportFormatError

    with pytest.raises(ImportFormatError, match="未知的列 answer"):
        import_file(store, write(tmp_path / "r.csv", "keyword,answer\n价格,看公告\n"))


def test_json_import_reports_the_line_each_bad_rule_starts_on(store, tmp_path):
    rules = [
        {"keyword": "价格", "reply": "看公告"},
        {"keyword": "订单", "match": "regex", "reply": "x", "colour": "red"},
    ]
    path = write(tmp_path / "r.json", json.dumps(rules, ensure_ascii=False, indent=2))
    report = import_file(store, path)
    assert [line for line, _ in report.errors] == [6]
    assert "colour" in report.errors[0][1]


def test_export_then_import_round_trips(store, config, tmp_path):
    save_rule(store, {"id": "refund", "keyword": "退款", "replies": ["a|b", "c"], "tags": ["VIP"],
                      "cooldown": "5m", "active": "19:00-23:00"}, source="console")
    for suffix in (".csv", ".json"):
        path = tmp_path / f"out{suffix}"
        assert main(["--config", config, "keywords", "export", str(path)]) == 0
        spec_before = store.keywords.get_rule_by_name("refund")["spec"]
        report = import_file(store, path)
        assert report.errors == [] and report.unchanged == 2, suffix  # with the config rule
        assert store.keywords.get_rule_by_name("refund")["spec"] == spec_before


def test_csv_export_has_a_bom_for_excel(store, config, tmp_path):
    save_rule(store, {"keyword": "退款", "reply": "请联系客服"}, source="console")
    path = tmp_path / "out.csv"
    assert main(["--config", config, "keywords", "export", str(path)]) == 0
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "请联系客服" in data.decode("utf-8-sig")


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        f'[bot]\ndata_dir = "{tmp_path / "data"}"\ndemo = true\n[adapters.sim]\nenabled = true\n'
        '[[keywords]]\nid = "rules"\nkeyword = "群规"\nmatch = "exact"\nreply = "请看群公告"\n',
        encoding="utf-8",
    )
    return str(path)


def test_cli_import_exit_code_and_messages(config, tmp_path, capsys):
    bad = write(tmp_path / "bad.csv", BAD_CSV)
    assert main(["keywords", "import", str(bad), "--config", config]) == 1
    out = capsys.readouterr().out
    assert "第 3 行" in out and "未导入任何规则" in out
    assert main(["keywords", "import", str(bad), "--partial", "--config", config]) == 1
    assert "新增 2 条" in capsys.readouterr().out


def test_cli_list_json_includes_config_rules(config, capsys):
    assert main(["keywords", "list", "--json", "--config", config]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["source"]) for r in rows] == [("rules", "config")]


def test_cli_test_shows_the_winning_rule(config, capsys):
    assert main(["keywords", "test", "群规", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "rules" in out and "请看群公告" in out


def test_cli_refuses_to_disable_a_config_rule(config, capsys):
    assert main(["keywords", "disable", "rules", "--config", config]) == 2
    assert "config.toml" in capsys.readouterr().err
