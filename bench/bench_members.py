"""The member directory at scale: 100,000 members in 500 groups and 5,000,000 messages.

    python bench/bench_members.py [--quick]      (--quick: 10,000 members, 500,000 messages)

Generates the database with set-based SQL (recursive CTEs; the message indexes are built
after the rows), starts the real console, logs in, and times over real HTTP the member list
page (first page, a deep page, filtered by group, tag, search, muted, silent) and a member's
page, and `member show` (what the command runs once the store is open). Prints p50 / p95.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from common import figure, machine, percentile

from bot.config import settings_from_dict
from bot.store import Store
from bot.web import passwords
from bot.web.app import create_app
from members import service

CHATS = 500
PASSWORD = "bench-password-1"
T0 = 1_780_000_000  # 2026-05-28, unix seconds


def generate(store: Store, members: int, messages: int) -> None:
    """Chats, members (each in two groups), profiles, names, tags, strikes and messages."""
    span = 180 * 86400  # the messages spread over six months
    step = span / messages
    with store.lock:
        conn = store.conn
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)"
            " INSERT INTO chats(platform, chat_id, kind, name, tags, created_at, updated_at)"
            " SELECT 'onebot', 'g' || i, 'group', '门店群' || i,"
            " CASE i % 4 WHEN 0 THEN '[\"VIP\"]' WHEN 1 THEN '[\"宝妈\"]' ELSE '[]' END,"
            " '2026-01-01T00:00:00.000+00:00', '2026-01-01T00:00:00.000+00:00' FROM n", (CHATS,))
        # member u is in groups u % CHATS and (u * 7 + 1) % CHATS
        per = max(1, messages // members)
        for which in (0, 1):
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)"
                " INSERT OR IGNORE INTO members(platform, chat_id, member_id, name, joined_at, last_seen_at, messages)"
                " SELECT 'onebot', 'g' || (CASE ? WHEN 0 THEN i % ? ELSE (i * 7 + 1) % ? END), 'u' || i,"
                " '群友' || i, '2026-01-01T00:00:00.000+00:00',"
                " strftime('%Y-%m-%dT%H:%M:%f+00:00', ? + (i % 1000) * 15000, 'unixepoch'), ? FROM n",
                (members, which, CHATS, CHATS, T0, per // 2))
        conn.execute(
            "INSERT INTO member_profiles(platform, user_id, name, first_seen_at, last_seen_at, messages)"
            " SELECT platform, member_id, min(name), '2026-01-01T00:00:00.000+00:00', max(last_seen_at),"
            " sum(messages) FROM members GROUP BY platform, member_id")
        conn.execute(
            "INSERT INTO member_names(platform, user_id, name, first_seen_at, last_seen_at)"
            " SELECT platform, user_id, name, first_seen_at, last_seen_at FROM member_profiles")
        conn.execute(
            "INSERT INTO member_tags(platform, user_id, tag, source, actor, created_at)"
            " SELECT platform, user_id, CASE abs(random()) % 3 WHEN 0 THEN 'VIP' WHEN 1 THEN '活跃' ELSE '宝妈' END,"
            " 'manual', 'bench', first_seen_at FROM member_profiles WHERE abs(random()) % 10 = 0")
        conn.execute(
            "INSERT INTO moderation_strikes(platform, chat_id, member_id, time, expires_at, step, reason)"
            " SELECT platform, chat_id, member_id, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-1 hour'),"
            " strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '+30 days'), 'mute:86400s', '广告'"
            " FROM members WHERE abs(random()) % 100 = 0")
        conn.execute("DROP INDEX messages_chat_time_sender")
        conn.execute("DROP INDEX messages_time")
        # message i: sender (i * 7919) % members, in one of the sender's two groups
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1),"
            " s(i, u) AS (SELECT i, (i * 7919) % ? FROM n)"
            " INSERT INTO messages(uid, platform, message_id, chat_id, chat_kind, type, sender_id, sender_name,"
            " time, text, status)"
            " SELECT 'onebot:m' || i, 'onebot', 'm' || i,"
            " 'g' || (CASE i % 2 WHEN 0 THEN u % ? ELSE (u * 7 + 1) % ? END), 'group', 'message', 'u' || u,"
            " '群友' || u, strftime('%Y-%m-%dT%H:%M:%f+00:00', ? + i * ?, 'unixepoch'),"
            " '第 ' || i || ' 条消息：今天有什么优惠吗', 'passed' FROM s",
            (messages, members, CHATS, CHATS, T0 - span, step))
        conn.execute("CREATE INDEX messages_chat_time_sender ON messages(platform, chat_id, time, sender_id)")
        conn.execute("CREATE INDEX messages_time ON messages(time)")
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA synchronous = NORMAL")


async def timed(fn: Callable[[], Any], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(name: str, samples: list[float]) -> None:
    figure(f"{name}_p50_ms", percentile(samples, 50), "ms")
    figure(f"{name}_p95_ms", percentile(samples, 95), "ms")


async def run(members: int, messages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict(
            {"bot": {"data_dir": tmp, "demo": False}, "console": {"secret": "bench-secret-0123456789abcdef"}},
            Path(tmp) / "config.toml")
        store = Store(settings.database_path)
        started = time.perf_counter()
        generate(store, members, messages)
        figure("members_generate_s", time.perf_counter() - started, "s")
        figure("members_rows", store.scalar_ping() and store.members.search(limit=1)[1], "members")
        store.accounts.add_user("bench", passwords.hash_password(PASSWORD), "admin")
        store.close()

        # member show: what `qunbot member show REF` runs once the store is open
        store = Store(settings.database_path)
        rng = random.Random(7)
        refs = [f"onebot:u{rng.randrange(members)}" for _ in range(rounds)]
        samples = []
        for ref in refs:
            t0 = time.perf_counter()
            service.show(store, ref)
            samples.append((time.perf_counter() - t0) * 1000)
        report("member_show", samples)
        store.close()

        app = create_app(settings)
        server = TestServer(app)
        await server.start_server()
        try:
            # unsafe: keep cookies for an IP address host (127.0.0.1)
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=jar) as http:
                async with http.post("/login", data={"username": "bench", "password": PASSWORD, "next": "/"},
                                     allow_redirects=False) as resp:
                    assert resp.status == 302, await resp.text()

                async def get(path: str, params: dict[str, str] | None = None) -> None:
                    async with http.get(path, params=params, allow_redirects=False) as resp:
                        body = await resp.text()
                        assert resp.status == 200 and "退出登录" in body, (path, resp.status, body[:300])

                deep = str(max(1, members // 50 // 2))
                variants = {
                    "member_list_page": ("/members", None),
                    "member_list_deep_page": ("/members", {"page": deep}),
                    "member_list_group": ("/members", {"group": "g7"}),
                    "member_list_tag": ("/members", {"tag": "VIP"}),
                    "member_list_search": ("/members", {"q": "群友4242"}),
                    "member_list_muted": ("/members", {"muted": "1"}),
                    "member_list_silent": ("/members", {"silent": "30"}),
                }
                for name, (path, params) in variants.items():
                    await get(path, params)  # warm
                    report(name, await timed(lambda p=path, q=params: get(p, q), rounds))
                page = await (await http.get("/members", params={"tag": "VIP"})).text()
                ref = re.search(r'href="/members/(onebot:u\d+)"', page)
                assert ref, "no member on the list page"
                refs_iter = iter(refs * 2)
                report("member_page", await timed(lambda: get(f"/members/{next(refs_iter)}"), rounds))
        finally:
            await server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    members, messages = (10_000, 500_000) if args.quick else (100_000, 5_000_000)
    print(f"# {members} members in {CHATS} groups, {messages} messages")
    asyncio.run(run(members, messages, 40 if args.quick else 100))


if __name__ == "__main__":
    main()
