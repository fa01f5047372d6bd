"""Rules written in config.toml: validated at load with a key path, synced into the store at start."""

from __future__ import annotations

import pytest

from bot.settings_loader import ConfigError
from bot.store import Store
from keywords.manage import save_rule, sync_config
from tests.conftest import make_settings


def settings_with(tmp_path, *rules, welcome=()):
    return make_settings(tmp_path, bot={"demo": False}, keywords=list(rules), welcome=list(welcome))


@pytest.mark.parametrize(("rule", "key", "reason"), [
    ({"keyword": "x", "reply": "y", "colour": "red"}, "keywords[0].colour", "未知的配置项"),
    ({"keyword": "x", "reply": "y", "match": "sometimes"}, "keywords[0].match", "之一"),
    ({"keyword": "(x", "reply": "y", "match": "regex"}, "keywords[0].keyword", "无法编译"),
    ({"keyword": "x", "reply": "y", "active": "19:00-25:00"}, "keywords[0].active", "不存在"),
    ({"keyword": "x", "reply": "y", "dates": "2026-12-01..2026-11-01"}, "keywords[0].dates", "早于"),
    ({"keyword": "x", "reply": "y", "cooldown": "soon"}, "keywords[0].cooldown", "时长格式不对"),
    ({"keyword": "x"}, "keywords[0].reply", "至少要有一条回复"),
    ({"keyword": "x", "reply": "你好 {name}"}, "keywords[0].reply", "未知的占位符 {name}"),
])
def test_bad_rule_in_config_names_the_key(tmp_path, rule, key, reason):
    with pytest.raises(ConfigError) as info:
        settings_with(tmp_path, rule)
    assert info.value.key == key
    assert reason in info.value.reason


@pytest.mark.parametrize("pattern", [r"(\w+\s?)+$", r"(a|aa)+$"])
def test_catastrophic_regex_in_config_stops_start_up(tmp_path, pattern):
    # refused when the config is loaded (check-config and run load it the same way), before
    # the store is touched; `(a|aa)+$` is only caught by the measurement
    with pytest.raises(ConfigError) as info:
        settings_with(tmp_path, {"keyword": "ok", "reply": "y"}, {"keyword": pattern, "match": "regex", "reply": "y"})
    assert info.value.key == "keywords[1].keyword" and "过慢" in info.value.reason


def test_config_rules_are_replaced_at_start_and_console_rules_kept(tmp_path):
    first = settings_with(tmp_path, {"id": "a", "keyword": "价格", "reply": "看公告"},
                          {"id": "b", "keyword": "退款", "reply": "找客服"})
    with Store(first.database_path) as store:
        sync_config(store, first)
        save_rule(store, {"keyword": "团购", "reply": "群公告"}, source="console")
        store.keywords.add_hits({store.keywords.get_rule_by_name("a")["id"]: (5, "2026-11-23T02:00:00")})
    second = settings_with(tmp_path, {"id": "a", "keyword": "价格", "reply": "新公告"})
    with Store(second.database_path) as store:
        sync_config(store, second)
        rows = {r["name"]: r for r in store.keywords.list_rules()}
    assert set(rows) == {"a", "kw3"}
    assert rows["a"]["spec"]["replies"] == ["新公告"] and rows["a"]["hits"] == 5
    assert rows["a"]["source"] == "config" and rows["kw3"]["source"] == "console"


def test_config_rule_without_id_keeps_its_id_when_reply_changes(tmp_path):
    one = settings_with(tmp_path, {"keyword": "价格", "reply": "旧"})
    two = settings_with(tmp_path, {"keyword": "价格", "reply": "新"})
    assert one.keywords[0].spec()["id"] == two.keywords[0].spec()["id"]


def test_duplicate_config_ids_are_reported(tmp_path):
    settings = settings_with(tmp_path, {"keyword": "价格", "reply": "a"}, {"keyword": "价格", "reply": "b"})
    with Store(settings.database_path) as store, pytest.raises(ConfigError) as info:
        sync_config(store, settings)
    assert info.value.key == "keywords[1].id"


def test_console_cannot_edit_a_config_rule(tmp_path):
    from keywords.rules import RuleError

    settings = settings_with(tmp_path, {"id": "a", "keyword": "价格", "reply": "看公告"})
    with Store(settings.database_path) as store:
        sync_config(store, settings)
        rowid = store.keywords.get_rule_by_name("a")["id"]
        with pytest.raises(RuleError, match=r"config\.toml"):
            save_rule(store, {"keyword": "价格", "reply": "改了"}, source="console", rowid=rowid)


def test_welcome_in_config_is_checked(tmp_path):
    with pytest.raises(ConfigError) as info:
        settings_with(tmp_path, welcome=[{"text": "欢迎 {who}"}])
    assert info.value.key == "welcome[0].text"
