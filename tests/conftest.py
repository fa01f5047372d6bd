"""Shared fixtures: settings on a temp data dir, a real store, the real app over real HTTP."""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from bot.config import Settings, settings_from_dict
from bot.store import Store
from bot.web import passwords

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TEST_PASSWORD = "correct-horse-9"


def make_settings(tmp_path: Path, **sections: Any) -> Settings:
    """Settings for a test: data in tmp_path, demo data on unless told otherwise."""
    data: dict[str, Any] = {
        "bot": {"data_dir": str(tmp_path / "data"), "demo": True},
        "console": {"secret": "test-secret-key-0123456789"},
        "outbox": {"per_target_per_minute": 1000, "per_adapter_per_minute": 10000, "retry_base": "0.05s"},
        # bulk pacing off unless a test is about it: posts go out as soon as they are due
        "sending": {"jitter": "0", "quiet_hours": "", "daily_budget": 100000, "identical_per_minute": 100000},
        "broadcast": {"poll_seconds": 0.1},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return settings_from_dict(data, tmp_path / "config.toml")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (public data sets read at test time). A local run without it skips the
    tests that need it; under CI=true its absence is a failure, not a silent skip."""
    if not SHARED_DATA.is_dir():
        message = f"shared data not found at {SHARED_DATA}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def store(settings: Settings):
    s = Store(settings.database_path)
    yield s
    s.close()


def add_user(store: Store, name: str, role: str, password: str = TEST_PASSWORD) -> None:
    store.accounts.add_user(name, cheap_hash(password), role)


@functools.cache
def cheap_hash(password: str) -> str:
    """A real scrypt hash of the stored format with a small cost (the string names its n, so a
    login verifies it like any other): a test login costs ~2 ms of scrypt instead of ~0.1 s."""
    with mock.patch.object(passwords, "N", 2**10):
        return passwords.hash_password(password)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def login(client, name: str = "admin", role: str = "admin", password: str = TEST_PASSWORD) -> str:
    """Create the user if needed, log in through the form, return the session's CSRF token."""
    from bot.web.keys import STORE

    store = client.app[STORE]
    if store.accounts.get_user(name) is None:
        add_user(store, name, role, password)
    resp = await client.post("/login", data={"username": name, "password": password, "next": "/"},
                             allow_redirects=False)
    assert resp.status == 302, await resp.text()
    page = await client.get("/")
    if page.status == 200:
        match = _CSRF.search(await page.text())
        assert match, "no CSRF token on the overview page"
        return match.group(1)
    # a role that cannot see the overview still gets a token on a page it may open
    resp = await client.get("/sim")
    match = _CSRF.search(await resp.text())
    assert match
    return match.group(1)


async def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02,
                     what: str = "") -> Any:
    """Poll until predicate() is truthy (for background work such as the outbox). The timeout
    is generous (a loaded 2-core machine); a test never relies on it to pass."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what or predicate_source(predicate)}")
        await asyncio.sleep(interval)


def predicate_source(predicate: Callable[[], Any]) -> str:
    """The awaited condition as written in the test, for the failure message."""
    try:
        return " ".join(inspect.getsource(predicate).split())
    except (OSError, TypeError):
        return repr(predicate)


@pytest.fixture
def chromium_path() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Debian's chromium is not installed (.ci/run installs it)")
        pytest.skip("browser test skipped: no Chromium installed (apt-get install chromium)")
    return CHROMIUM


BROWSER_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


# -- browser tests: the real app on a real port, driven by Debian's Chromium -------------

@pytest.fixture
async def console_server(tmp_path):
    """Start the real app on 127.0.0.1 with the given (name, role) users; returns the server."""
    from aiohttp.test_utils import TestServer

    from bot.web.app import create_app
    from bot.web.keys import STORE

    servers = []

    async def start(*users: tuple[str, str], **sections: Any):
        app = create_app(make_settings(tmp_path, **sections))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        for name, role in users:
            add_user(app[STORE], name, role)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def page(chromium_path):
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS, headless=True)
        context = await browser.new_context(locale="zh-CN")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        yield page
        await browser.close()


async def browser_login(page, server, name: str, password: str = TEST_PASSWORD) -> str:
    """Log in through the form; returns the server's base URL."""
    base = str(server.make_url("")).rstrip("/")
    await page.goto(f"{base}/login")
    await page.fill("#username", name)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return base


async def browser_say(page, group: str, member: str, text: str) -> None:
    """Open the simulator's group and post `text` as `member`; returns once the chat shows it."""
    await page.click("nav >> text=群聊模拟器")
    await page.click(f"text={group}")
    await page.select_option("#member-select", label=member)
    await page.fill("#message-input", text)
    await page.click("#send-button")
    await page.wait_for_selector(f"#chat-log .msg.in >> text={text}")
