"""Every console page, as each role, reads in Chinese: no internal codes or English errors leak.

The pages are found from the router (every GET route without a path parameter, plus the first
object of each parameterised page the demo data has), so a new page is checked without anyone
adding it here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bot.web.app import create_app
from bot.web.keys import BOT, STORE
from tests.conftest import login, make_settings

# English fragments and internal codes that must never be visible text on a console page
LEAKS = [
    re.compile(r"Not Found|Forbidden|Internal Server Error|Error validating|unterminated|Traceback"),
    re.compile(r"\\u[0-9a-fA-F]{4}"),  # JSON escapes
    re.compile(r"\b(review|strike|kick|warn|mute|recall)\b(?!\.)"),
    re.compile(r"\bmute:\d+s\b|\b\d{3,}s\b"),  # durations in seconds (86400s)
    re.compile(r"\b(users|groups|keywords|schedules|moderation|faq)\.[a-z_]+\b"),  # audit action codes
    re.compile(r"campaign:\d+:\d+"),
]
NOT_PAGES = {"/healthz", "/metrics", "/reports/export", "/keywords/export", "/faq/export", "/login"}


class VisibleText(HTMLParser):
    """Text a person sees: text nodes outside script/style, plus placeholder/title/aria-label and
    button values; never hrefs, names or hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "pre"):
            self._skip += 1
        a = dict(attrs)
        for key in ("placeholder", "title", "aria-label"):
            if a.get(key):
                self.parts.append(a[key] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(p.strip() for p in parser.parts if p.strip())


def leaks_in(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        for pattern in LEAKS:
            m = pattern.search(line)
            if m:
                found.append(f"{m.group(0)!r} in {line[:120]!r}")
    return found


def page_paths(app) -> list[str]:
    paths = []
    for route in app.router.routes():
        if route.method != "GET" or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path")
        if path and path not in NOT_PAGES and not path.startswith(("/sim/api", "/static")):
            paths.append(path)
    return sorted(set(paths))


async def object_pages(client) -> list[str]:
    """One page per parameterised route, for objects the demo data (plus a flagged message) has."""
    store = client.app[STORE]
    bot = client.app[BOT]
    pages = []
    rules = store.keywords.list_rules()
    if rules:
        pages.append(f"/keywords/{rules[0]['rowid']}/edit")
    entries = store.faq.list_entries()
    if entries:
        pages.append(f"/faq/edit/{entries[0]['id']}")
    flags = store.moderation.list_flags()
    if flags:
        pages.append(f"/moderation/review/{flags[0]['id']}")
    jobs = await bot.schedules.jobs()
    for job in jobs[:2]:
        pages += [f"/schedules/{job.id}", f"/schedules/{job.id}/edit"]
    return pages


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def seed(client) -> None:
    """Content that exercises the pages: a held message, an audit trail, a post."""
    from tests.test_moderation_console import held_message

    await held_message(client, "快来买竞品牌吧")
    store = client.app[STORE]
    store.accounts.audit("admin", "groups.tags", "sim:g_mom", {"before": ["宝妈"], "after": ["宝妈", "上班族"]})
    store.accounts.audit("cli", "keywords.delete", "rule-1", {"spec": {"keyword": "发货", "reply": "亲，已发货"}})
    await client.app[BOT].schedules.create("post", {"name": "早安", "text": "早上好", "at": ["09:00"],
                                                    "tags": ["宝妈"]})


@pytest.mark.parametrize("role", ["admin", "manager", "moderator"])
async def test_every_console_page_reads_in_chinese(client, role):
    await seed(client)
    await login(client, name=f"walker_{role}", role=role)
    problems = []
    paths = page_paths(client.app) + await object_pages(client)
    assert len(paths) > 20  # the router was really walked
    for path in paths:
        resp = await client.get(path, headers={"Accept": "text/html"})
        if resp.status in (302, 303):
            continue
        if not resp.headers.get("Content-Type", "").startswith("text/html"):
            continue
        for leak in leaks_in(visible_text(await resp.text())):
            problems.append(f"{path} ({resp.status}): {leak}")
    assert not problems, "\n".join(problems)


def test_the_leak_detector_catches_the_known_leaks():
    html = ("<p>404: Not Found</p><td>review</td><td>mute:86400s</td><td>users.create</td>"
            '<td>{"a": "\\u4e0a"}</td><td>campaign:2:0:0</td><a href="/moderation/review">审核</a>')
    found = leaks_in(visible_text(html))
    assert len({f.split(" in ", 1)[1] for f in found}) == 6, found
    assert leaks_in(visible_text('<a href="/moderation/review">审核队列</a><input name="review">')) == []


async def test_review_and_lexicon_pages_show_actions_and_sources_in_words(client):
    from tests.test_moderation_console import held_message

    store = client.app[STORE]
    store.lexicon.add_words([{"word": "刷单群", "category": "广告", "action": "mute", "source": "words.txt"}])
    await held_message(client, "快来买竞品牌吧")
    await login(client, "mod", "moderator")
    flag = store.moderation.list_flags()[0]
    detail = visible_text(await (await client.get(f"/moderation/review/{flag['id']}")).text())
    assert "敏感词" in detail and "转人工审核" in detail
    lexicon = visible_text(await (await client.get("/moderation/lexicon")).text())
    assert "演示词库" in lexicon and "导入：words.txt" in lexicon
    assert "\ndemo\n" not in f"\n{lexicon}\n"
    from moderation.actions import action_text

    assert action_text("mute:86400s") == "禁言 1 天" and action_text("mute:2h") == "禁言 2 小时"
