"""Schedules: timeline computation, occurrence hand-over to the ledger, and a 2,000-group fan-out.

- `schedules_timeline_occurrences_per_s`: occurrences computed per second for a mix of interval,
  window, cron and daily posts over 30 days (what `schedule preview` and catch-up do).
- `schedules_handover_2000_ms`: one occurrence to 2,000 groups, from `run_due` to the rows being
  in the delivery ledger (one transaction).
- `schedules_fanout_2000_msgs_per_s`: the same fan-out delivered end to end through the outbox to
  the simulator adapter with rate limits lifted (the outbox's own ceiling on this machine).

    .venv/bin/python bench/bench_schedules.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import figure, machine

from bot.adapters.registry import build_adapters
from bot.config import settings_from_dict
from bot.kernel.clock import FakeClock
from bot.kernel.durations import Duration
from bot.runtime import Bot
from bot.services import Services
from bot.store import Store
from schedules.config import PostConfig
from schedules.scheduler import Scheduler
from schedules.timeline import post_times

TZ = ZoneInfo("Asia/Shanghai")


def bench_timeline(days: int) -> None:
    posts = [
        PostConfig(name="a", text="x", every=Duration(1800), window="19:00-23:00", groups=["g"]),
        PostConfig(name="b", text="x", every=Duration(300), groups=["g"]),
        PostConfig(name="c", text="x", cron="*/10 8-22 * * 1-5", groups=["g"]),
        PostConfig(name="d", text="x", at=["09:00", "12:00", "20:00"], window="08:00-21:00", groups=["g"]),
        PostConfig(name="e", text="x", every=Duration(900), window="22:00-02:00", groups=["g"]),
    ]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    began = time.perf_counter()
    count = sum(len(list(post_times(p, start, start + timedelta(days=days), TZ))) for p in posts)
    figure("schedules_timeline_occurrences_per_s", count / (time.perf_counter() - began), "occ/s")


def make_settings(tmp: Path) -> dict:
    return {
        "bot": {"data_dir": str(tmp), "demo": False},
        "console": {"enabled": False},
        "adapters": {"sim": {"enabled": True}},
        "outbox": {"per_target_per_minute": 1000, "per_adapter_per_minute": 10_000_000},
        "posts": [{"name": "fan", "text": "今晚 8 点秒杀开始", "at": ["20:00"], "tags": ["粉丝"]}],
    }


def seed(store: Store, groups: int) -> None:
    with store.chats.tx():
        for i in range(groups):
            store.chats.upsert_chat("sim", f"fan{i:05d}", name=f"粉丝群{i}", tags=["粉丝"])


async def bench_handover(tmp: Path, groups: int) -> None:
    settings = settings_from_dict(make_settings(tmp))
    store = Store(tmp / "handover.db")
    seed(store, groups)
    clock = FakeClock(datetime(2026, 11, 23, 11, 59, tzinfo=UTC))
    scheduler = Scheduler(Services(settings=settings, store=store, clock=clock))
    await scheduler.load()
    clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    began = time.perf_counter()
    await scheduler.run_due()
    figure(f"schedules_handover_{groups}_ms", (time.perf_counter() - began) * 1000, "ms")
    store.close()


async def bench_fanout(tmp: Path, groups: int) -> None:
    settings = settings_from_dict(make_settings(tmp))
    store = Store(settings.database_path)
    seed(store, groups)
    clock = FakeClock(datetime(2026, 11, 23, 11, 59, tzinfo=UTC))
    bot = Bot(settings, store, clock=clock, adapters=build_adapters(settings))
    await bot.start()
    clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    began = time.perf_counter()
    await bot.scheduler.run_due()
    await bot.outbox.drain(600)
    elapsed = time.perf_counter() - began
    sent = store.schedules.delivery_progress("post:")[0]["sent"]
    await bot.stop()
    store.close()
    assert sent == groups, f"only {sent} of {groups} delivered"
    figure(f"schedules_fanout_{groups}_msgs_per_s", groups / elapsed, "msg/s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# machine: {machine()}", flush=True)
    bench_timeline(7 if args.quick else 30)
    groups = 500 if args.quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench_handover(Path(tmp), groups))
        asyncio.run(bench_fanout(Path(tmp) / "fan", groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
