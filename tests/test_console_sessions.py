"""Console sessions end when they should (logout, password change, disabling), and logins
resist guessing without trusting headers anyone can write."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.config import settings_from_dict
from bot.kernel.clock import FakeClock
from bot.settings_loader import ConfigError
from bot.web.app import create_app
from bot.web.keys import STORE
from bot.web.sessions import COOKIE
from tests.conftest import TEST_PASSWORD, add_user, login, make_settings

NEW_PASSWORD = "another-horse-7"


def session_cookie(client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value


async def fresh_login(client, name: str = "admin", role: str = "admin") -> tuple[str, str]:
    """Log in again on a clean jar; returns (cookie, csrf)."""
    client.session.cookie_jar.clear()
    csrf = await login(client, name=name, role=role)
    return session_cookie(client), csrf


async def status_with(client, cookie: str, path: str = "/") -> int:
    """GET `path` carrying only `cookie`, as someone who copied it would."""
    client.session.cookie_jar.clear()
    resp = await client.get(path, headers={"Cookie": f"{COOKIE}={cookie}"}, allow_redirects=False)
    if resp.status == 302:
        assert resp.headers["Location"].startswith("/login")
    return resp.status


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


# -- revocable sessions ------------------------------------------------------------------------


async def test_a_cookie_replayed_after_logout_is_sent_to_login(client):
    cookie, csrf = await fresh_login(client)
    assert await status_with(client, cookie) == 200
    client.session.cookie_jar.update_cookies({COOKIE: cookie})
    resp = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 302
    assert await status_with(client, cookie) == 302


async def test_logout_ends_only_that_session(client):
    laptop, _ = await fresh_login(client)
    phone, phone_csrf = await fresh_login(client)
    client.session.cookie_jar.update_cookies({COOKIE: phone})
    await client.post("/logout", data={"csrf_token": phone_csrf}, allow_redirects=False)
    assert await status_with(client, phone) == 302
    assert await status_with(client, laptop) == 200


async def test_changing_your_own_password_ends_your_other_sessions(client):
    stolen, _ = await fresh_login(client)
    mine, csrf = await fresh_login(client)
    client.session.cookie_jar.update_cookies({COOKIE: mine})
    resp = await client.post("/users", data={"csrf_token": csrf, "op": "password", "name": "admin",
                                             "password": NEW_PASSWORD}, allow_redirects=False)
    assert resp.status == 302
    assert await status_with(client, stolen) == 302
    assert await status_with(client, mine) == 200


async def test_an_admin_resetting_a_password_ends_that_users_sessions(client):
    ops_cookie, _ = await fresh_login(client, "ops", "manager")
    _, csrf = await fresh_login(client)
    resp = await client.post("/users", data={"csrf_token": csrf, "op": "password", "name": "ops",
                                             "password": NEW_PASSWORD}, allow_redirects=False)
    assert resp.status == 302
    assert await status_with(client, ops_cookie, "/keywords") == 302


async def test_disabling_a_user_ends_their_sessions_for_good(client):
    ops_cookie, _ = await fresh_login(client, "ops", "manager")
    _, csrf = await fresh_login(client)
    for op in ("disable", "enable"):
        await client.post("/users", data={"csrf_token": csrf, "op": op, "name": "ops"}, allow_redirects=False)
    assert await status_with(client, ops_cookie, "/keywords") == 302


async def test_cli_passwd_ends_the_users_console_sessions(aiohttp_client, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f"[bot]\ndemo = true\ndata_dir = '{tmp_path / 'data'}'\n"
                      "[console]\nsecret = 'test-secret-key-0123456789'\n", encoding="utf-8")
    from bot.config import load_settings

    client = await aiohttp_client(create_app(load_settings(config)))
    cookie, _ = await fresh_login(client)
    assert await status_with(client, cookie) == 200
    assert main(["user", "passwd", "admin", "--password", NEW_PASSWORD, "--config", str(config)]) == 0
    assert await status_with(client, cookie) == 302


async def test_a_cookie_signed_before_sessions_were_stored_is_refused(client):
    import base64
    import hashlib
    import hmac
    import json

    await fresh_login(client)
    body = base64.urlsafe_b64encode(json.dumps({"u": "admin", "e": 4e9, "c": "x"}).encode()).decode()
    mac = hmac.new(b"test-secret-key-0123456789", body.encode(), hashlib.sha256).hexdigest()
    assert await status_with(client, f"{body}.{mac}") == 302


# -- login guessing ------------------------------------------------------------------------------


async def test_login_failures_are_forgotten_after_a_quiet_period(aiohttp_client, tmp_path):
    clock = FakeClock()
    client = await aiohttp_client(create_app(make_settings(tmp_path, console={"max_login_failures": 3}), clock=clock))
    add_user(client.app[STORE], "ops", "manager")
    for _ in range(2):
        await client.post("/login", data={"username": "ops", "password": "typo"})
    clock.advance(3600)
    for _ in range(2):
        await client.post("/login", data={"username": "ops", "password": "typo"})
    resp = await client.post("/login", data={"username": "ops", "password": TEST_PASSWORD}, allow_redirects=False)
    assert resp.status == 302, "two typos an hour apart from two more locked the account"


async def test_failures_close_together_still_lock_the_account(aiohttp_client, tmp_path):
    clock = FakeClock()
    client = await aiohttp_client(create_app(make_settings(tmp_path, console={"max_login_failures": 3}), clock=clock))
    add_user(client.app[STORE], "ops", "manager")
    for _ in range(3):
        clock.advance(60)
        await client.post("/login", data={"username": "ops", "password": "typo"})
    resp = await client.post("/login", data={"username": "ops", "password": TEST_PASSWORD})
    assert resp.status == 401 and "登录失败次数过多" in await resp.text()
    clock.advance(6 * 60)
    resp = await client.post("/login", data={"username": "ops", "password": TEST_PASSWORD}, allow_redirects=False)
    assert resp.status == 302


async def test_every_login_attempt_hashes_a_password_once(client, monkeypatch):
    """Unknown, disabled and locked users cost the same scrypt as a known one: the time of
    the answer does not tell which names exist."""
    import bot.web.passwords as passwords

    calls: list[str] = []
    real = passwords.verify_password

    def counting(password: str, stored: str) -> bool:
        calls.append(password)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counting)
    store = client.app[STORE]
    add_user(store, "gone", "manager")
    store.accounts.set_disabled("gone", True)
    add_user(store, "known", "manager")
    for name in ("nobody", "gone", "known"):
        calls.clear()
        resp = await client.post("/login", data={"username": name, "password": "wrong-guess"})
        assert resp.status == 401
        assert calls == ["wrong-guess"], f"{name}: {len(calls)} password hashes"


def forwarded(client_ip: str, proto: str | None = None) -> dict[str, str]:
    headers = {"X-Forwarded-For": client_ip}
    if proto:
        headers["X-Forwarded-Proto"] = proto
    return headers


async def test_forwarded_for_is_ignored_without_trusted_proxies(client):
    for i in range(10):
        await client.post("/login", data={"username": "nobody", "password": "x"}, headers=forwarded(f"203.0.113.{i}"))
    resp = await client.post("/login", data={"username": "nobody", "password": "x"},
                             headers=forwarded("198.51.100.7"))
    assert resp.status == 429


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(aiohttp_client, tmp_path):
    settings = make_settings(tmp_path, console={"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]})
    client = await aiohttp_client(create_app(settings))
    for _ in range(10):
        # the left entry is the client's own to forge; the proxies' entries are on the right
        await client.post("/login", data={"username": "nobody", "password": "x"},
                          headers=forwarded(f"1.2.3.{_}, 203.0.113.5, 10.1.2.3"))
    resp = await client.post("/login", data={"username": "nobody", "password": "x"},
                             headers=forwarded("203.0.113.5"))
    assert resp.status == 429
    resp = await client.post("/login", data={"username": "nobody", "password": "x"},
                             headers=forwarded("198.51.100.7"))
    assert resp.status == 401


async def test_session_cookie_is_secure_when_a_trusted_proxy_says_https(aiohttp_client, tmp_path):
    store_user = {"username": "admin", "password": TEST_PASSWORD, "next": "/"}
    plain = await aiohttp_client(create_app(make_settings(tmp_path / "a")))
    add_user(plain.app[STORE], "admin", "admin")
    resp = await plain.post("/login", data=store_user, headers=forwarded("203.0.113.5", "https"),
                            allow_redirects=False)
    assert resp.status == 302 and not resp.cookies[COOKIE]["secure"]

    proxied = await aiohttp_client(
        create_app(make_settings(tmp_path / "b", console={"trusted_proxies": ["127.0.0.1"]}))
    )
    add_user(proxied.app[STORE], "admin", "admin")
    resp = await proxied.post("/login", data=store_user, headers=forwarded("203.0.113.5", "https"),
                              allow_redirects=False)
    assert resp.status == 302 and resp.cookies[COOKIE]["secure"]
    resp = await proxied.post("/login", data=store_user, headers=forwarded("203.0.113.5", "http"),
                              allow_redirects=False)
    assert resp.status == 302 and not resp.cookies[COOKIE]["secure"]


# -- check-config ------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("max_login_failures", 0), ("max_login_failures", -3),
    ("session_hours", 0), ("session_hours", -1), ("session_hours", 87600), ("session_hours", float("inf")),
    ("trusted_proxies", ["proxy.example.com"]),
])
def test_console_limits_that_make_no_sense_are_refused(key, value):
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"console": {key: value}}, "config.toml")
    assert err.value.key == f"console.{key}" and "config.toml" in str(err.value)


def test_check_config_names_file_key_and_reason(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text("[bot]\ndata_dir = 'data'\n[console]\nmax_login_failures = 0\n", encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) != 0
    err = capsys.readouterr().err
    assert "config.toml" in err and "console.max_login_failures" in err and "至少为 1" in err


def test_a_database_from_before_sessions_is_upgraded_and_its_users_can_log_in(tmp_path):
    import sqlite3

    from bot.store import Store
    from bot.web.passwords import verify_password

    settings = make_settings(tmp_path, bot={"demo": False})
    store = Store(settings.database_path)
    add_user(store, "admin", "admin")
    store.close()
    conn = sqlite3.connect(settings.database_path)
    conn.executescript("DROP TABLE console_sessions; ALTER TABLE users DROP COLUMN last_failed_at;"
                       " DELETE FROM schema_version WHERE component = 'accounts';")
    conn.close()
    store = Store(settings.database_path)
    try:
        assert store.applied_migrations == ["accounts:1"]
        user = store.accounts.get_user("admin")
        assert verify_password(TEST_PASSWORD, user["password_hash"]) and user["last_failed_at"] is None
    finally:
        store.close()
