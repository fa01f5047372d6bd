"""Recording faults: stopping while the writer is busy, poison deferred writes, a full disk.

Real SQLite files and the real recorder; a store job blocked on a threading.Event stands in
for a writer thread busy with a long job (a FAQ reload, a big import).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from bot.events import ChatKind, Decision, Event
from bot.recorder import Recorder
from bot.store import Store

pytestmark = pytest.mark.faults


def event(i: int, chat: str = "g1") -> Event:
    return Event(platform="sim", chat_id=chat, chat_kind=ChatKind.GROUP, sender_id=f"u{i % 3}",
                 sender_name="小明", message_id=f"m{i}", time=datetime(2026, 11, 23, tzinfo=UTC), text=f"第{i}条消息")


async def until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_stop_while_the_writer_is_busy_records_every_queued_message(tmp_path):
    """The batch has left the recorder's buffers and waits behind a long store job when the
    bot stops: stop() lets that write finish (or puts the batch back) and drains the rest."""
    with Store(tmp_path / "q.db") as store:
        recorder = Recorder(store, interval=0.01)
        await recorder.start()
        gate = threading.Event()
        busy = asyncio.ensure_future(store.run(gate.wait, 10))
        for i in range(10):
            recorder.add_message(event(i))
            recorder.add_decisions(f"sim:m{i}", [Decision("record", "recorded")], "passed")
        # the background flush takes the batch and waits for the writer thread
        await until(lambda: recorder.pending() == 0)
        stopping = asyncio.ensure_future(recorder.stop())
        for _ in range(5):
            await asyncio.sleep(0)
        recorder.add_message(event(10))  # arrives while stopping: drained too
        gate.set()
        await asyncio.wait_for(stopping, timeout=10)
        await busy
        assert store.messages.count("in") == 11
        assert {m["status"] for m in store.messages.chat_messages("sim", "g1", limit=50)} == {"passed", "received"}
        assert recorder.pending() == 0


async def test_a_flush_cancelled_before_its_write_starts_puts_the_batch_back(tmp_path):
    """Whoever awaits a flush may be cancelled (a timeout, shutdown); the batch it took out of
    the buffers is still written, once, by that flush or a later one."""
    with Store(tmp_path / "q.db") as store:
        recorder = Recorder(store)
        gate = threading.Event()
        busy = asyncio.ensure_future(store.run(gate.wait, 10))
        for i in range(5):
            recorder.add_message(event(i))
        flushing = asyncio.ensure_future(recorder.flush())
        await until(lambda: recorder.pending() == 0)
        flushing.cancel()
        gate.set()
        await busy
        await recorder.flush()
        assert store.messages.count("in") == 5
