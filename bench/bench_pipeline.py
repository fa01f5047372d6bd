"""Events per second through the whole pipeline in-process, recording to a real SQLite file.

    python bench/bench_pipeline.py [--quick]
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from common import (
    chat_lines,
    figure,
    latency_figures,
    peak_rss_mb,
    run_messages_benchmark,
)

from bot.adapters.sim import SimAdapter
from bot.config import settings_from_dict
from bot.kernel.events import ChatKind, Decision, Event, pass_
from bot.kernel.pipeline import Outcome
from bot.metrics import Metrics
from bot.runtime import Bot
from bot.store import Store


def events(lines: list[str], groups: int = 50) -> Iterator[Event]:
    """Built one at a time, as an adapter would: the benchmark's own memory stays out of RSS."""
    now = datetime.now(UTC)
    return (
        Event(platform="sim", chat_id=f"g{i % groups}", chat_kind=ChatKind.GROUP, sender_id=f"u{i % 997}",
              sender_name=f"成员{i % 997}", message_id=f"b{i}", time=now, text=text)
        for i, text in enumerate(lines)
    )


def _empty_stage(name: str):
    async def stage(event, ctx):
        return pass_(name)

    return stage


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict({"bot": {"data_dir": tmp, "demo": False}}, Path(tmp) / "config.toml")
        store = Store(settings.database_path)
        bot = Bot(settings, store, adapters={"sim": SimAdapter()})
        for name in ("moderation", "keywords", "intents"):
            bot.pipeline.replace(name, _empty_stage(name))
        await bot.start()
        lines = chat_lines(n)
        latencies: list[float] = []
        started = time.perf_counter()
        for i, event in enumerate(events(lines)):
            t0 = time.perf_counter()
            await bot.handle(event)
            latencies.append((time.perf_counter() - t0) * 1000)
            if i % 1000 == 999:
                # intake waits for the group commit in production: the writer sets the pace
                await bot.recorder.durable()
        await bot.recorder.flush()
        elapsed = time.perf_counter() - started
        recorded = store.messages.count("in")
        await bot.stop()
        store.close()
    assert recorded == len(lines), f"recorded {recorded} of {len(lines)}"
    latency_figures("pipeline_empty_stages", len(lines), elapsed, latencies)
    figure("pipeline_empty_stages_peak_rss_mb", peak_rss_mb(), "MB")
    metrics_observe_cost()


def metrics_observe_cost(n: int = 20_000) -> None:
    """What /metrics adds to each message (a timing, so measured here, not asserted by a test)."""
    decisions = [Decision(f"s{i}", "pass", elapsed_ms=0.01) for i in range(6)]
    event = Event(platform="sim", chat_id="g", chat_kind=ChatKind.GROUP, sender_id="u", sender_name="",
                  message_id="x", time=datetime.now(UTC), text="")
    outcome = Outcome(event=event, decisions=decisions, replies=[], actions=[], status="passed")
    metrics = Metrics()
    started = time.perf_counter()
    for _ in range(n):
        metrics.observe(outcome)
    figure("metrics_observe_us_per_message", (time.perf_counter() - started) / n * 1e6, "us")


if __name__ == "__main__":
    run_messages_benchmark(run)
