"""`qunbot member …` as a manager runs it: list, show, tags, CSV import, export, delete."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main
from bot.store import Store

MAMA = "sim:u_mama_wang"


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[bot]\ndemo = true\ndata_dir = 'data'\n[console]\nport = 0\n" + extra, encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_show_json_has_the_promised_fields(tmp_path, capsys):
    config = str(write_config(tmp_path))
    code, out, _ = run(capsys, "member", "show", MAMA, "--json", "--config", config)
    assert code == 0
    data = json.loads(out)
    assert data["ref"] == MAMA
    assert data["names"] == ["王妈妈"]
    assert data["groups"] == ["宝妈群"]
    assert data["tags"] == [] and data["strikes"] == 0
    assert data["muted_until"] is None and data["blacklisted"] is False
    assert data["messages"] == 1


def test_tag_add_then_list_by_tag_and_remove(tmp_path, capsys):
    config = str(write_config(tmp_path))
    assert run(capsys, "member", "tag", "add", MAMA, "VIP", "--config", config)[0] == 0
    code, out, _ = run(capsys, "member", "list", "--tag", "VIP", "--json", "--config", config)
    assert code == 0
    data = json.loads(out)
    assert [m["ref"] for m in data] == [MAMA] and data[0]["tags"] == ["VIP"] and data[0]["names"] == ["王妈妈"]
    code, out, _ = run(capsys, "member", "list", "--group", "宝妈群", "--json", "--config", config)
    assert {m["ref"] for m in json.loads(out)} == {MAMA, "sim:u_tiantian", "sim:u_lin"}
    assert run(capsys, "member", "tag", "remove", MAMA, "VIP", "--config", config)[0] == 0
    code, _, err = run(capsys, "member", "tag", "remove", MAMA, "VIP", "--config", config)
    assert code == 2 and "没有标签" in err
    # the same audit entries as the console's
    with Store(tmp_path / "data" / "qunbot.db") as store:
        actions = [(e["action"], e["target"], e["detail"]) for e in store.accounts.audit_entries()]
    assert ("member.tag.add", MAMA, {"tag": "VIP"}) in actions
    assert ("member.tag.remove", MAMA, {"tag": "VIP"}) in actions


def test_unknown_refs_tags_and_groups_are_refused_in_chinese(tmp_path, capsys):
    config = str(write_config(tmp_path))
    code, _, err = run(capsys, "member", "show", "sim:nobody", "--config", config)
    assert code == 2 and "未找到成员 sim:nobody" in err
    code, _, err = run(capsys, "member", "show", "nobody", "--config", config)
    assert code == 2 and "平台:用户ID" in err
    code, _, err = run(capsys, "member", "list", "--tag", "不存在", "--config", config)
    assert code == 2 and "未知的成员标签" in err
    code, _, err = run(capsys, "member", "list", "--group", "不存在的群", "--config", config)
    assert code == 2 and "未找到群" in err
    code, _, err = run(capsys, "member", "tag", "add", "sim:nobody", "VIP", "--config", config)
    assert code == 2 and "未找到成员" in err


def test_csv_with_bad_rows_names_their_lines_and_imports_nothing(tmp_path, capsys):
    config = str(write_config(tmp_path))
    bad = tmp_path / "tags.csv"
    bad.write_text("ref,tags\nsim:u_mama_wang,VIP;宝妈\nsim:nobody,VIP\nsim:u_lily,\nsim:u_amy,好 标签,,\n",
                   encoding="utf-8")
    code, out, _ = run(capsys, "member", "import", str(bad), "--config", config)
    assert code == 1
    assert "第 3 行" in out and "第 4 行" in out and "未导入任何标签" in out
    code, out, _ = run(capsys, "member", "show", MAMA, "--json", "--config", config)
    assert json.loads(out)["tags"] == []
    good = tmp_path / "good.csv"
    good.write_text("sim:u_mama_wang,VIP;宝妈\nsim:u_lily,学霸\n", encoding="utf-8")
    code, out, _ = run(capsys, "member", "import", str(good), "--json", "--config", config)
    assert code == 0 and json.loads(out)["added"] == 3
    code, out, _ = run(capsys, "member", "show", MAMA, "--json", "--config", config)
    assert json.loads(out)["tags"] == ["VIP", "宝妈"]


def test_export_then_delete_leaves_no_message_text(tmp_path, capsys):
    config = str(write_config(tmp_path))
    code, out, _ = run(capsys, "member", "export", MAMA, "--config", config)
    assert code == 0 and "大家早上好" in out
    assert json.loads(out)["messages"][0]["text"] == "大家早上好～今天有什么活动吗"
    target = tmp_path / "mama.csv"
    assert run(capsys, "member", "export", MAMA, "--format", "csv", "-o", str(target), "--config", config)[0] == 0
    assert "大家早上好" in target.read_text(encoding="utf-8-sig")
    run(capsys, "member", "tag", "add", MAMA, "VIP", "--config", config)
    code, _, err = run(capsys, "member", "delete", MAMA, "--config", config)
    assert code == 2 and "--yes" in err
    assert run(capsys, "member", "delete", MAMA, "--yes", "--config", config)[0] == 0
    code, out, _ = run(capsys, "member", "export", MAMA, "--config", config)
    data = json.loads(out)
    assert "大家早上好" not in out and "王妈妈" not in out
    assert len(data["messages"]) == 1 and data["messages"][0]["text"] == ""
    assert data["tags"] == [] and data["names"] == []
    with Store(tmp_path / "data" / "qunbot.db") as store:
        entry = next(e for e in store.accounts.audit_entries() if e["action"] == "member.delete")
        assert entry["actor"] == "cli" and entry["target"] == MAMA and entry["detail"] == {}
        # counts are kept
        assert store.members.get("sim", "u_mama_wang")["messages"] == 1
        assert store.messages.count("in") > 0
