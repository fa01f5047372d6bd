"""群SOP runner throughput: N members join a tagged group at once; how long one run takes to
enrol them and hand each one's day-0 step to the ledger (real SQLite, FakeClock, no sending).

    python bench/bench_sop.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import figure, machine

from bot.config import settings_from_dict
from bot.kernel.clock import FakeClock
from bot.services import Services
from bot.store import Store
from bot.store.base import iso
from schedules.scheduler import Scheduler

SOP = {"id": "newbie", "anchor": "member_joined", "tags": ["宝妈"], "steps": [
    {"after": "0d", "text": "欢迎 {nickname} 加入{group}！", "private": True},
    {"after": "3d 10:00", "text": "{nickname}，第 3 天的小贴士", "private": True}]}


async def run(members: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "q.db")
        clock = FakeClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
        settings = settings_from_dict({"sop": [SOP]})
        scheduler = Scheduler(Services(settings=settings, store=store, clock=clock,
                                       capabilities=lambda platform: frozenset({"send", "private"})))
        await scheduler.load()
        store.chats.upsert_chat("sim", "mom", name="宝妈群", tags=["宝妈"])
        clock.advance(60)
        with store.chats.tx() as conn:
            conn.executemany(
                "INSERT INTO members(platform, chat_id, member_id, name, joined_at, last_seen_at)"
                " VALUES ('sim', 'mom', ?, ?, ?, ?)",
                [(f"m{i}", f"成员{i}", iso(clock.now()), iso(clock.now())) for i in range(members)])
        started = time.perf_counter()
        results = await scheduler.sop.run_due()
        took = time.perf_counter() - started
        assert len(results) == members
        figure(f"sop_day0_{members}_members_s", took, "s")
        figure("sop_ms_per_member_step", 1000 * took / members, "ms")
        started = time.perf_counter()
        await scheduler.sop.run_due()
        figure(f"sop_idle_run_{members}_enrolled_ms", 1000 * (time.perf_counter() - started), "ms")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    asyncio.run(run(1000 if args.quick else 10_000))


if __name__ == "__main__":
    main()
