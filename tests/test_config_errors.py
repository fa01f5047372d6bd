"""check-config lists every mistake of a file at once, in zh-CN, each with its English key path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings, settings_from_dict
from bot.settings_loader import ConfigError, ConfigErrors

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")

# three independent mistakes in three sections
THREE_MISTAKES = """\
[bot]
timezone = "Mars/Olympus"

[console]
port = "8080"

[adapters.onebot]
action_timeout = "soon"
"""
EXPECTED = [
    ("bot.timezone", "未知的时区"),
    ("console.port", "应为整数"),
    ("adapters.onebot.action_timeout", "时长格式不对"),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_config_command_reports_all_three_mistakes_with_key_paths(tmp_path):
    path = write(tmp_path, THREE_MISTAKES)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    for key, reason in EXPECTED:
        assert any(line.startswith(f"{path}: {key}: {reason}") for line in lines), (key, result.stderr)
    assert lines[-1] == "共 3 处错误"


def test_check_config_via_main_prints_one_line_per_mistake(tmp_path, capsys):
    path = write(tmp_path, THREE_MISTAKES)
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith(f"{path}: ")]
    assert [line.split(": ")[1] for line in error_lines] == [key for key, _ in EXPECTED]
    assert all(CJK.search(line.split(": ", 2)[2]) for line in error_lines)
    assert "共 3 处错误" in err


def test_check_config_json_lists_file_key_and_reason(tmp_path, capsys):
    path = write(tmp_path, THREE_MISTAKES)
    assert main(["check-config", "--json", "--config", str(path)]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert [(e["file"], e["key"]) for e in data["errors"]] == [(str(path), key) for key, _ in EXPECTED]
    assert all(reason in e["reason"] for e, (_, reason) in zip(data["errors"], EXPECTED, strict=True))


def test_run_refuses_to_start_and_shows_the_same_list(tmp_path):
    path = write(tmp_path, THREE_MISTAKES)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2
    for key, reason in EXPECTED:
        assert f"{path}: {key}: {reason}" in result.stderr
    assert "共 3 处错误" in result.stderr
    assert "控制台 / console" not in result.stdout


def test_the_error_reads_as_its_first_mistake_for_single_error_callers(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, THREE_MISTAKES))
    exc = info.value
    assert isinstance(exc, ConfigErrors)
    assert (exc.key, exc.path) == ("bot.timezone", str(tmp_path / "config.toml"))
    assert "未知的时区" in exc.reason
    assert [e.key for e in exc.errors] == [key for key, _ in EXPECTED]


def test_a_single_mistake_is_still_a_plain_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "[console]\nport = 70000\n"))
    assert info.value.errors == [info.value]
    assert info.value.key == "console.port"


def test_several_mistakes_inside_one_section_and_one_list_are_all_reported():
    with pytest.raises(ConfigErrors) as info:
        settings_from_dict({
            "console": {"prot": 8080, "metrics": "yes"},
            "keywords": [{"keyword": "a", "reply": "b", "match": "sometimes"}, {"keyword": "c", "reply": "d"},
                         {"reply": "e"}],
        }, "config.toml")
    keys = [e.key for e in info.value.errors]
    assert keys == ["console.prot", "console.metrics", "keywords[0].match", "keywords[2].keyword"]


def test_a_section_with_a_bad_field_is_not_validated():
    # port is not a number, so the section is not built: its too-short secret is reported once the port is fixed
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"console": {"port": "x", "secret": "short"}}, "config.toml")
    assert [e.key for e in info.value.errors] == ["console.port"]
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"console": {"port": 80, "secret": "short"}}, "config.toml")
    assert [(e.key, e.reason) for e in info.value.errors] == [("console.secret", "至少要 16 个字符")]


def test_cross_reference_mistakes_are_listed_together():
    with pytest.raises(ConfigError) as info:
        settings_from_dict({
            "groups": [{"id": "g1"}, {"id": "g1"}, {"id": "g2"}, {"id": "g2"}],
            "adapters": {"sim": {"enabled": False}}, "console": {"enabled": False},
        }, "config.toml")
    assert [e.key for e in info.value.errors] == ["groups[1].id", "groups[3].id", "adapters"]


def test_source_key_is_reported_with_the_other_mistakes(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "source = 'x'\n[bot]\ndemo = 'yes'\n"))
    assert [e.key for e in info.value.errors] == ["source", "bot.demo"]


@pytest.mark.parametrize(("data", "key", "reason"), [
    ({"bot": {"timezon": "Asia/Shanghai"}}, "bot.timezon", "未知的配置项（可用的有：data_dir, database, demo"),
    ({"bot": []}, "bot", "应为表（table），实际是列表"),
    ({"groups": {"id": "x"}}, "groups", "应为列表，实际是表（table）"),
    ({"console": {"port": 1.5}}, "console.port", "应为整数，实际是数字"),
    ({"console": {"session_hours": "12"}}, "console.session_hours", "应为数字，实际是字符串"),
    ({"bot": {"demo": 1}}, "bot.demo", "应为 true 或 false，实际是整数"),
    ({"bot": {"name": 7}}, "bot.name", "应为字符串，实际是整数"),
    ({"logging": {"format": "xml"}}, "logging.format", "应为 'text'、'json' 之一，实际是 'xml'"),
    ({"groups": [{"name": "无id"}]}, "groups[0].id", "缺少必填项"),
    ({"console": {"secret": "env:QB_SURELY_UNSET_VAR"}}, "console.secret", "环境变量 QB_SURELY_UNSET_VAR 未设置"),
    ({"outbox": {"retry_base": "soon"}}, "outbox.retry_base", "时长格式不对：'soon'"),
    ({"outbox": {"retry_base": -1}}, "outbox.retry_base", "时长不能为负数"),
    ({"posts": [{"name": "p", "text": "t", "every": "1h", "groups": ["g"], "skip": ["2026-13-01"]}]},
     "posts[0].skip[0]", "应为日期"),
    ({"adapters": {"onebot": {"action_timeout": 0}}}, "adapters.onebot.action_timeout", "必须大于 0"),
    ({"adapters": {"wecom": {"enabled": True}}}, "adapters.wecom.corp_id", "启用该适配器时必须填写"),
    ({"outbox": {"max_attempts": 0}}, "outbox.max_attempts", "至少为 1"),
    ({"faq": {"suggest_max": 10}}, "faq.suggest_max", "必须在 1 到 9 之间"),
    ({"moderation": {"ladder": []}}, "moderation.ladder", "至少要有一个步骤"),
    ({"moderation": {"ladder": ["warn", "mute"]}}, "moderation.ladder[1]", "需要写时长"),
    ({"reports": {"daily_summary_time": "9pm"}}, "reports.daily_summary_time", "应写成 HH:MM"),
])
def test_reasons_are_in_chinese_with_the_english_key_path(data, key, reason):
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, "config.toml")
    assert info.value.key == key
    assert reason in info.value.reason, info.value.reason


def test_every_bad_field_of_one_keyword_rule_is_reported():
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"keywords": [
            {"keyword": "(a", "match": "regex", "reply": "x", "active": "25:00-26:00"},
            {"keyword": "ok", "reply": "hi {nope}"},
        ]}, "config.toml")
    found = {e.key: e.reason for e in info.value.errors}
    assert set(found) == {"keywords[0].keyword", "keywords[0].active", "keywords[1].reply"}
    assert "正则表达式无法编译" in found["keywords[0].keyword"]
    assert "未知的占位符" in found["keywords[1].reply"]
