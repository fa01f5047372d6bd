"""Config loading: every kind of mistake names the file, the key and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.settings_loader import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_default_config_is_valid():
    settings = load_settings(ROOT / "config.toml")
    assert settings.bot.demo is True
    assert settings.adapters.enabled_names() == ["sim"]
    assert (settings.console.host, settings.console.port) == ("127.0.0.1", 8080)
    assert settings.database_path == ROOT / "data" / "qunbot.db"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[bot]\ntimezon = 'Asia/Shanghai'\n", "bot.timezon", "unknown key"),
        ("[bot]\ntimezone = 'Mars/Olympus'\n", "bot.timezone", "unknown time zone"),
        ("[console]\nport = '8080'\n", "console.port", "expected an integer"),
        ("[console]\nport = 70000\n", "console.port", "not a TCP port"),
        ("[bot]\ndemo = 'yes'\n", "bot.demo", "expected true or false"),
        ("[outbox]\nretry_base = 'soon'\n", "outbox.retry_base", "invalid duration"),
        ("[adapters.wecom]\nenabled = true\ncorp_id = 'ww1'\n", "adapters.wecom.agent_id", "required"),
        ("[logging]\nlevel = 'LOUD'\n", "logging.level", "must be one of"),
        ("[[groups]]\nname = '无id'\n", "groups[0].id", "required key is missing"),
        ("[unknown_section]\nx = 1\n", "unknown_section", "unknown key"),
    ],
)
def test_config_mistake_names_file_key_and_reason(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == key
    assert reason in info.value.reason
    assert str(path) in str(info.value)


def test_invalid_toml_and_missing_file_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(write(tmp_path, "[bot\nname = 1"))
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml")


def test_secret_from_environment(tmp_path, monkeypatch):
    path = write(tmp_path, "[console]\nsecret = 'env:QB_TEST_SECRET'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == "console.secret" and "QB_TEST_SECRET" in info.value.reason
    monkeypatch.setenv("QB_TEST_SECRET", "s" * 32)
    assert load_settings(path).console.secret == "s" * 32


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    sub = tmp_path / "etc"
    sub.mkdir()
    path = sub / "config.toml"
    path.write_text("[bot]\ndata_dir = 'state'\n", encoding="utf-8")
    assert load_settings(path).database_path == sub / "state" / "qunbot.db"


def test_check_config_command_exits_non_zero_naming_the_bad_key(tmp_path):
    bad = write(tmp_path, "[console]\nprot = 8080\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(bad)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2
    assert "console.prot" in result.stderr and str(bad) in result.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(ROOT / "config.toml"), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert '"ok": true' in ok.stdout


def test_check_config_refuses_onebot_without_any_authentication(tmp_path):
    open_bot = write(tmp_path, "[adapters.onebot]\nenabled = true\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(open_bot)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2
    assert "adapters.onebot.access_token" in result.stderr and str(open_bot) in result.stderr
    assert "allow_unauthenticated" in result.stderr
