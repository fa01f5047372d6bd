"""A bulk fan-out on a fake clock through the real Outbox and Pacer (tests and bench/bench_pacing.py).

The fake clock moves in small steps only when the outbox has nothing in flight, so simulated hours
take real seconds; each send is stamped with the fake time it happened at.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.adapters.base import Adapter, Delivery, PermanentSendError
from bot.config import OutboxSettings
from bot.kernel.clock import FakeClock
from bot.kernel.pacing import Pacer, SendingSettings
from bot.kernel.priorities import BROADCAST_PRIORITY, REPLY_PRIORITY
from bot.outbox import Outbox
from bot.store import Store
from bot.store.outbound import OutboundItem

TZ = ZoneInfo("Asia/Shanghai")
# 10:00 local: outside the default quiet hours
START = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
RISK_ERROR = "OneBot 动作 send_group_msg 失败（retcode 100）：SEND_MSG_API_ERROR 消息可能被风控"


class FakeOnebot(Adapter):
    """Stands in for one OneBot account: records the fake time of each send; may hit risk control."""

    name = "onebot"

    def __init__(self, clock: FakeClock, risk_after: int | None = None) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, str, bool]] = []
        self.risk_after = risk_after

    async def send(self, delivery: Delivery) -> str:
        bulk = bool(delivery.payload.get("bulk"))
        if bulk and self.risk_after is not None and sum(1 for s in self.sent if s[3]) >= self.risk_after:
            raise PermanentSendError(RISK_ERROR)
        self.sent.append((self.clock.monotonic(), delivery.chat_id, delivery.text, bulk))
        return str(len(self.sent))


@dataclass
class Result:
    bulk_sent: int = 0
    finished_after: float | None = None  # simulated seconds from the start to the last bulk send
    reply_latencies: list[float] = field(default_factory=list)
    paused: dict[str, dict[str, str]] = field(default_factory=dict)
    max_used: int = 0


async def simulate(groups: int = 500, *, jitter: str = "2s-8s", budget: int = 1000, risk_after: int | None = None,
                   horizon: float = 3600.0, step: float = 0.25, reply_every: float = 20.0, seed: int = 7,
                   resume_at: float | None = None) -> Result:
    """Hand `groups` bulk sends to one account and run the fake clock for `horizon` seconds."""
    clock = FakeClock(START)
    tmp = tempfile.TemporaryDirectory()
    store = Store(Path(tmp.name) / "sim.db")
    adapter = FakeOnebot(clock, risk_after)
    pacer = Pacer(SendingSettings(daily_budget=budget, jitter=jitter, quiet_hours=""), TZ, clock,
                  rng=random.Random(seed).random)
    outbox = Outbox(store, {"onebot": adapter}, OutboxSettings(), clock=clock, pacer=pacer)
    result = Result()
    try:
        await outbox.start()
        await outbox.submit([
            OutboundItem(source="broadcast:1", occurrence="part1", platform="onebot", chat_id=str(100000 + i),
                         payload={"text": f"【秒杀】粉丝{i}群 今晚 8 点开始", "kind": "text", "bulk": True},
                         priority=BROADCAST_PRIORITY)
            for i in range(groups)
        ])
        t0 = clock.monotonic()
        next_reply = reply_every
        asked: dict[str, float] = {}
        n = 0
        while clock.monotonic() - t0 < horizon:
            await _settle(outbox)
            elapsed = clock.monotonic() - t0
            if resume_at is not None and elapsed >= resume_at and pacer.paused():
                adapter.risk_after = None
                pacer.resume("onebot")
                outbox.release_held("onebot")
            if elapsed >= next_reply:
                # a member asks in a group during the fan-out: the reply is not paced
                n += 1
                chat = f"member{n}"
                asked[chat] = clock.monotonic()
                outbox.submit_nowait([OutboundItem(
                    source="reply", occurrence=str(n), platform="onebot", chat_id=chat,
                    payload={"text": "您好，活动今晚 8 点开始"}, priority=REPLY_PRIORITY)])
                next_reply += reply_every
                await _settle(outbox)
            clock.advance(step)
            outbox.wake()
            result.max_used = max(result.max_used, pacer.account("onebot").used)
            bulk = [s for s in adapter.sent if s[3]]
            if len(bulk) == groups and not outbox.depth():
                break
        await _settle(outbox)
        bulk = [s for s in adapter.sent if s[3]]
        result.bulk_sent = len(bulk)
        if bulk and len(bulk) == groups:
            result.finished_after = bulk[-1][0] - t0
        for at, chat, _text, is_bulk in adapter.sent:
            if not is_bulk and chat in asked:
                result.reply_latencies.append(at - asked[chat])
        result.paused = pacer.paused()
    finally:
        await outbox.stop(1)
        store.close()
        tmp.cleanup()
    return result


async def _settle(outbox: Outbox) -> None:
    """Let the outbox dispatch what is due and finish its in-flight sends (real time, no fake time)."""
    for _ in range(3):
        await asyncio.sleep(0)
    while outbox._inflight or outbox._incoming or (outbox._insert_task and not outbox._insert_task.done()):
        await asyncio.sleep(0.001)
    for _ in range(3):
        await asyncio.sleep(0)
