"""The enabled adapters are built from config.toml, secrets from the environment."""

from __future__ import annotations

import pytest

from bot.adapters.registry import build_adapters
from bot.config import ConfigError
from tests.conftest import make_settings

WECOM = {"enabled": True, "corp_id": "ww1", "agent_id": "1000002", "secret": "env:QB_TEST_WECOM_SECRET",
         "token": "t", "encoding_aes_key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"}


def test_every_enabled_adapter_is_built_under_its_platform_name(tmp_path, monkeypatch):
    monkeypatch.setenv("QB_TEST_WECOM_SECRET", "from-the-environment")
    settings = make_settings(tmp_path, adapters={
        "wecom": WECOM, "mp": {"enabled": True, "app_id": "wx1", "app_secret": "s", "token": "t"},
        "webhook": [{"name": "公告", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}],
        "onebot": {"enabled": True, "version": 12, "access_token": "a"},
    })
    adapters = build_adapters(settings)
    assert set(adapters) == {"sim", "wecom", "mp", "webhook", "onebot"}
    assert all(name == adapter.name for name, adapter in adapters.items())
    assert adapters["wecom"].api._secret == "from-the-environment"
    assert "from-the-environment" not in str(adapters["wecom"].status())


def test_disabled_adapters_are_not_built(tmp_path):
    assert set(build_adapters(make_settings(tmp_path))) == {"sim"}


@pytest.mark.parametrize("section, value, key", [
    ("wecom", {**WECOM, "encoding_aes_key": "short"}, "encoding_aes_key"),
    ("wecom", {"enabled": True, "corp_id": "ww1"}, "agent_id"),
    ("onebot", {"enabled": True, "extension_actions": {"ban": "x"}}, "extension_actions"),
    ("onebot", {"enabled": True, "version": 13}, "version"),
])
def test_invalid_adapter_settings_name_the_key(tmp_path, monkeypatch, section, value, key):
    monkeypatch.setenv("QB_TEST_WECOM_SECRET", "x")
    with pytest.raises(ConfigError, match=key):
        make_settings(tmp_path, adapters={section: value})


@pytest.mark.parametrize("conf", [{}, {"version": 12, "secret": "v12 has no secret"}])
def test_onebot_without_token_or_secret_refuses_to_start_naming_file_and_key(tmp_path, conf):
    with pytest.raises(ConfigError) as err:
        make_settings(tmp_path, adapters={"onebot": {"enabled": True, **conf}})
    assert err.value.key == "adapters.onebot.access_token"
    assert str(tmp_path / "config.toml") in str(err.value)
    assert "allow_unauthenticated = true" in err.value.reason


@pytest.mark.parametrize("auth", [{"access_token": "t"}, {"secret": "s"}, {"allow_unauthenticated": True}])
def test_onebot_starts_with_a_token_a_secret_or_an_explicit_opt_out(tmp_path, auth):
    settings = make_settings(tmp_path, adapters={"onebot": {"enabled": True, **auth}})
    assert "onebot" in build_adapters(settings)
