"""A broadcast to 2,000 groups respects the platform's rate limit and never delays member replies."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bot.adapters.base import RateLimit
from bot.adapters.sim import SimAdapter
from bot.kernel.events import ChatKind, Event
from bot.kernel.priorities import BROADCAST_PRIORITY
from bot.runtime import Bot
from bot.store import Store
from bot.store.outbound import OutboundItem
from tests.conftest import make_settings, wait_until

PER_SECOND = 500


class LimitedSim(SimAdapter):
    """The simulator with a platform-style limit: at most PER_SECOND messages per second."""

    rate_limits = (RateLimit("adapter", PER_SECOND, 1.0),)

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[float] = []

    async def send(self, delivery):
        self.sent_at.append(time.monotonic())
        return await super().send(delivery)


async def test_fan_out_to_2000_groups_stays_under_the_rate_limit_while_members_are_answered(tmp_path):
    settings = make_settings(tmp_path)
    store = Store(settings.database_path)
    groups = [f"fan{i}" for i in range(2000)]
    store.chats.ensure_chats([("sim", g, "group", g) for g in groups])
    sim = LimitedSim()
    bot = Bot(settings, store, adapters={"sim": sim})
    await bot.start()
    try:
        items = [OutboundItem(source="post:fan", occurrence="2026-11-23T20:00+08:00", platform="sim",
                              chat_id=g, payload={"text": "今晚 8 点秒杀开始"}, priority=BROADCAST_PRIORITY)
                 for g in groups]
        await bot.outbox.submit(items)
        await wait_until(lambda: len(sim.sent_at) >= 600, timeout=10)

        # a member asks while about 1,400 posts are still queued: the reply jumps the queue
        await bot.submit(Event(platform="sim", chat_id="g_mom", chat_kind=ChatKind.GROUP,
                               sender_id="u_lin", sender_name="林姐", message_id="q1",
                               time=datetime.now(UTC), text="/help"))
        await wait_until(lambda: store.outbound.list(source="reply:sim:q1") and
                         store.outbound.list(source="reply:sim:q1")[0]["status"] == "sent", timeout=5)
        assert bot.outbox.depth() > 0, "the reply jumped the queue: the broadcast is still going out"

        assert await bot.outbox.drain(timeout=30)
    finally:
        await bot.stop()
    progress = store.outbound.progress("post:fan")[0]
    assert (progress["total"], progress["sent"], progress["failed"]) == (2000, 2000, 0)
    # never (beyond send-time jitter of a few ms) more than PER_SECOND sends in a one-second window
    stamps = sorted(sim.sent_at)
    worst = max(
        sum(1 for t in stamps[i : i + PER_SECOND + 10] if t - stamps[i] < 0.99) for i in range(0, len(stamps), 25)
    )
    assert worst <= PER_SECOND
    store.close()
