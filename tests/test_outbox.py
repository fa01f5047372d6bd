"""The outbox: rate limits, retries with backoff, the unique delivery ledger, restart safety."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.adapters.base import (
    ActionNotSupported,
    Adapter,
    Delivery,
    NotConnected,
    OutcomeUnknown,
    PermanentSendError,
    TransientSendError,
)
from bot.config import OutboxSettings
from bot.kernel.clock import FakeClock
from bot.kernel.durations import Duration
from bot.kernel.priorities import BROADCAST_PRIORITY
from bot.outbox import Outbox
from bot.store import Store
from bot.store.outbound import OutboundItem
from tests.conftest import wait_until


class RecordingAdapter(Adapter):
    """A platform stand-in that remembers what it was asked to send and can fail on demand."""

    name = "fake"

    def __init__(self, fail_first: int = 0, permanent: bool = False, idempotent: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.calls = 0
        self.fail_first = fail_first
        self.permanent = permanent
        self.idempotent_send = idempotent

    async def send(self, delivery: Delivery) -> str:
        self.calls += 1
        if self.permanent:
            raise PermanentSendError("chat not found")
        if self.calls <= self.fail_first:
            raise TransientSendError("HTTP 502")
        self.sent.append((delivery.chat_id, delivery.text))
        return f"pm{self.calls}"


def item(
    chat: str, occurrence: str = "2026-11-23T20:00", source: str = "post:sale", text: str = "秒杀开始"
) -> OutboundItem:
    return OutboundItem(source=source, occurrence=occurrence, platform="fake", chat_id=chat,
                        payload={"text": text}, priority=BROADCAST_PRIORITY)


def settings(**kw) -> OutboxSettings:
    base: dict[str, Any] = {"per_target_per_minute": 100, "per_adapter_per_minute": 1000, "max_attempts": 4,
            "retry_base": Duration(0.02), "retry_max": Duration(0.1)}
    base.update(kw)
    return OutboxSettings(**base)


def on_fake_clock(db: Store, adapter: Adapter, **kw) -> tuple[Outbox, FakeClock]:
    """An outbox whose backoffs (30 s doubling to 120 s, no jitter) pass only when the test
    moves the clock: retries are checked without ever waiting one out."""
    clock = FakeClock()
    base = {"retry_base": Duration(30), "retry_max": Duration(120), **kw}
    return Outbox(db, {"fake": adapter}, settings(**base), clock=clock, rng=lambda: 0.5), clock


async def advance(outbox: Outbox, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    outbox.wake()


async def fail_then_advance(db: Store, outbox: Outbox, clock: FakeClock, item_id: int, attempts: int) -> float:
    """Wait until try number `attempts` failed and was put back, then move the clock to the
    retry time the ledger holds. Returns the backoff in seconds."""

    def put_back() -> bool:
        row = db.outbound.get(item_id)
        assert row is not None
        return row["status"] == "pending" and row["attempts"] == attempts and bool(row["next_attempt_at"])

    await wait_until(put_back, what=f"delivery {item_id}: attempt {attempts} failed and waits for its retry")
    row = db.outbound.get(item_id)
    assert row is not None
    backoff = (datetime.fromisoformat(row["next_attempt_at"]) - clock.now()).total_seconds()
    await advance(outbox, clock, backoff)
    return backoff


@pytest.fixture
def db(tmp_path):
    store = Store(tmp_path / "q.db")
    yield store
    store.close()


async def test_same_occurrence_and_target_is_delivered_once(db):
    adapter = RecordingAdapter()
    outbox = Outbox(db, {"fake": adapter}, settings())
    await outbox.start()
    first = await outbox.submit([item("g1"), item("g2")])
    again = await outbox.submit([item("g1"), item("g2")])
    await outbox.drain()
    await outbox.stop()
    assert len(first) == 2 and again == []
    assert sorted(adapter.sent) == [("g1", "秒杀开始"), ("g2", "秒杀开始")]
    assert db.outbound.count_by_status() == {"sent": 2}


def test_a_batch_with_keys_already_queued_gets_the_ids_of_its_new_rows(db):
    """New rows are numbered before the insert; a key already there (or twice in the batch)
    leaves its number unused, and every returned item carries its own row's id."""
    db.outbound.insert([item("g1")])
    created = db.outbound.insert([item("g1"), item("g3", text="三"), item("g2", text="二"), item("g3", text="again")])
    assert [c.chat_id for c in created] == ["g3", "g2"]
    rows = {r["id"]: r for r in db.outbound.query("SELECT id, chat_id, payload FROM outbound")}
    assert len(rows) == 3
    for c in created:
        assert rows[c.id]["chat_id"] == c.chat_id and c.payload["text"] in rows[c.id]["payload"]
    assert db.outbound.insert([item("g1"), item("g2"), item("g3")]) == []
    [later] = db.outbound.insert([item("g4")])
    assert later.id > max(rows)


async def test_transient_errors_are_retried_with_backoff_until_sent(db):
    adapter = RecordingAdapter(fail_first=2)
    outbox, clock = on_fake_clock(db, adapter)
    await outbox.start()
    [created] = await outbox.submit([item("g1")])
    backoffs = [await fail_then_advance(db, outbox, clock, created.id, n) for n in (1, 2)]
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "sent")
    await outbox.stop()
    row = db.outbound.get(created.id)
    assert row["attempts"] == 3 and adapter.sent == [("g1", "秒杀开始")]
    assert backoffs == [30, 60]  # retry_base, then doubled


async def test_delivery_is_marked_failed_after_max_attempts_and_can_be_retried(db):
    adapter = RecordingAdapter(fail_first=100)
    outbox, clock = on_fake_clock(db, adapter, max_attempts=3)
    await outbox.start()
    [created] = await outbox.submit([item("g1")])
    for n in (1, 2):
        await fail_then_advance(db, outbox, clock, created.id, n)
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "failed")
    assert adapter.calls == 3 and db.outbound.get(created.id)["error"] == "HTTP 502"
    adapter.fail_first = 0
    assert await outbox.retry_failed("post:sale") == 1
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "sent")
    await outbox.stop()
    assert adapter.sent == [("g1", "秒杀开始")]


async def test_permanent_error_fails_without_retrying(db):
    adapter = RecordingAdapter(permanent=True)
    outbox = Outbox(db, {"fake": adapter}, settings())
    await outbox.start()
    [created] = await outbox.submit([item("g1")])
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "failed")
    await outbox.stop()
    assert adapter.calls == 1


async def test_per_target_rate_limit_holds_back_only_that_target(db):
    adapter = RecordingAdapter()
    outbox = Outbox(db, {"fake": adapter}, settings(per_target_per_minute=2))
    await outbox.start()
    await outbox.submit([item("g1", occurrence=str(i)) for i in range(4)] + [item("g2", occurrence="x")])
    await wait_until(lambda: len(adapter.sent) >= 3)
    await asyncio.sleep(0.2)
    await outbox.stop()
    targets = [chat for chat, _ in adapter.sent]
    assert targets.count("g1") == 2, "the third and fourth posts to g1 must wait for the next minute"
    assert targets.count("g2") == 1
    assert db.outbound.count_by_status() == {"sent": 3, "pending": 2}


async def test_per_adapter_rate_limit_applies_across_targets(db):
    adapter = RecordingAdapter()
    outbox = Outbox(db, {"fake": adapter}, settings(per_adapter_per_minute=3))
    await outbox.start()
    await outbox.submit([item(f"g{i}") for i in range(6)])
    await wait_until(lambda: len(adapter.sent) >= 3)
    await asyncio.sleep(0.2)
    await outbox.stop()
    assert len(adapter.sent) == 3


async def test_pending_deliveries_are_sent_once_after_a_restart(tmp_path):
    path = tmp_path / "q.db"
    store = Store(path)
    # the first process queued the posts and died before its outbox sent anything
    store.outbound.insert([item("g1"), item("g2")])
    store.close()

    store = Store(path)
    adapter = RecordingAdapter()
    outbox = Outbox(store, {"fake": adapter}, settings())
    await outbox.start()
    await outbox.drain()
    await outbox.stop()
    store.close()

    store = Store(path)
    adapter2 = RecordingAdapter()
    outbox = Outbox(store, {"fake": adapter2}, settings())
    await outbox.start()
    await outbox.submit([item("g1"), item("g2")])  # the scheduler fires the same occurrence again
    await outbox.drain()
    await outbox.stop()
    store.close()
    assert sorted(adapter.sent) == [("g1", "秒杀开始"), ("g2", "秒杀开始")]
    assert adapter2.sent == []


@pytest.mark.parametrize(("idempotent", "expected"), [(False, "uncertain"), (True, "sent")])
async def test_delivery_caught_mid_send_is_resent_only_when_idempotent(tmp_path, idempotent, expected):
    path = tmp_path / "q.db"
    store = Store(path)
    [row] = store.outbound.insert([item("g1")])
    store.outbound.mark(row.id, "sending", attempts=1)  # crash between marking and the platform's answer
    store.close()

    store = Store(path)
    adapter = RecordingAdapter(idempotent=idempotent)
    outbox = Outbox(store, {"fake": adapter}, settings())
    await outbox.start()
    await outbox.drain()
    await outbox.stop()
    assert store.outbound.get(row.id)["status"] == expected
    assert len(adapter.sent) == (1 if idempotent else 0)
    store.close()


async def test_expired_posts_are_skipped_not_sent(db):
    from datetime import timedelta

    from bot.kernel.clock import Clock

    adapter = RecordingAdapter()
    outbox = Outbox(db, {"fake": adapter}, settings())
    await outbox.start()
    stale = item("g1")
    stale.not_after = Clock().now() - timedelta(minutes=1)
    [created] = await outbox.submit([stale])
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "skipped")
    await outbox.stop()
    assert adapter.sent == []


async def test_cancelled_source_is_withdrawn_before_sending(db):
    adapter = RecordingAdapter()
    outbox = Outbox(db, {"fake": adapter}, settings(per_adapter_per_minute=2))
    await outbox.start()
    await outbox.submit([item(f"g{i}", source="campaign:7:start") for i in range(5)])
    await wait_until(lambda: len(adapter.sent) >= 2)
    assert await outbox.cancel("campaign:7:start") == 3
    await asyncio.sleep(0.1)
    await outbox.stop()
    assert len(adapter.sent) == 2
    assert db.outbound.count_by_status() == {"sent": 2, "cancelled": 3}


async def test_group_committed_marks_are_durable_before_each_send(tmp_path):
    """Through the recorder, 'sending' marks of a burst share transactions, yet each one is
    committed (visible to another connection) before the platform is asked to send."""
    import sqlite3

    from bot.recorder import Recorder

    path = tmp_path / "q.db"
    store = Store(path)
    seen: list[str] = []

    class CheckingAdapter(RecordingAdapter):
        async def send(self, delivery: Delivery) -> str:
            other = sqlite3.connect(path)
            seen.append(other.execute("SELECT status FROM outbound WHERE id = ?", (delivery.id,)).fetchone()[0])
            other.close()
            return await super().send(delivery)

    adapter = CheckingAdapter()
    recorder = Recorder(store)
    await recorder.start()
    outbox = Outbox(store, {"fake": adapter}, settings(), recorder=recorder)
    await outbox.start()
    await outbox.submit([item(f"g{i}") for i in range(40)])
    await outbox.drain()
    await outbox.stop()
    await recorder.stop()
    rows = store.outbound.query("SELECT status FROM outbound")
    store.close()
    assert seen == ["sending"] * 40
    assert [r["status"] for r in rows] == ["sent"] * 40


async def test_deliveries_past_their_time_leave_the_queue_without_waiting_for_the_limit(db):
    """Under a long overload, replies the rate limit held back past reply_ttl are dropped
    (a late answer confuses the group) and the queue does not keep growing."""
    adapter = RecordingAdapter()
    outbox, clock = on_fake_clock(db, adapter, per_adapter_per_minute=1)
    await outbox.start()
    items = [item(f"g{i}") for i in range(5)]
    for it in items:
        it.not_after = clock.now() + timedelta(seconds=30)
    created = await outbox.submit(items)

    def statuses() -> list[str]:
        return sorted(db.outbound.get(c.id)["status"] for c in created)

    await wait_until(lambda: statuses() == ["pending"] * 4 + ["sent"])
    await advance(outbox, clock, 31)  # past not_after, half a minute before the limit frees a slot
    await wait_until(lambda: "pending" not in statuses())
    assert outbox.depth() == 0
    await outbox.stop()
    assert len(adapter.sent) == 1  # the limit allowed one; the minute never had to pass
    assert statuses() == ["sent", "skipped", "skipped", "skipped", "skipped"]
    assert db.outbound.get(created[-1].id)["error"] == "已过期，未发送"


def test_marks_in_one_batch_apply_in_order_even_for_the_same_delivery(tmp_path):
    store = Store(tmp_path / "marks.db")
    first, second = store.outbound.insert([
        OutboundItem(source="s", occurrence=str(i), platform="sim", chat_id="g1", payload={"text": "x"})
        for i in range(2)
    ])
    store.outbound.mark_many([
        (first.id, "sending", {"attempts": 1}),
        (second.id, "pending", {"error": "超时", "attempts": 2}),
        (first.id, "sent", {"platform_message_id": "m1"}),
    ])
    a, b = (store.outbound.get(i) for i in (first.id, second.id))
    assert (a["status"], a["attempts"], a["platform_message_id"], a["error"]) == ("sent", 1, "m1", "")
    assert a["sent_at"] and not b["sent_at"]
    assert (b["status"], b["attempts"], b["error"]) == ("pending", 2, "超时")
    store.close()


async def test_failed_attempts_do_not_use_up_the_rate_limit(db):
    """Only what the platform may have seen counts: three refused tries leave the minute's
    three slots free, so the fourth try goes out now, not a minute later."""
    adapter = RecordingAdapter(fail_first=3)
    outbox, clock = on_fake_clock(db, adapter, per_adapter_per_minute=3, max_attempts=5,
                                  retry_base=Duration(1), retry_max=Duration(4))
    await outbox.start()
    [created] = await outbox.submit([item("g1")])
    waited = sum([await fail_then_advance(db, outbox, clock, created.id, n) for n in (1, 2, 3)])
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "sent")
    await outbox.stop()
    assert adapter.sent == [("g1", "秒杀开始")]
    assert waited == 1 + 2 + 4  # the backoffs only: the minute of the limit never had to pass


class BrokenAdapter(RecordingAdapter):
    async def send(self, delivery: Delivery) -> str:
        self.calls += 1
        return delivery.payload["missing"]  # a bug: KeyError


async def test_a_bug_in_the_adapter_fails_the_delivery_at_once_with_one_traceback(db, caplog):
    adapter = BrokenAdapter()
    outbox = Outbox(db, {"fake": adapter}, settings(max_attempts=4))
    await outbox.start()
    [created] = await outbox.submit([item("g1")])
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "failed")
    await asyncio.sleep(0.2)
    await outbox.stop()
    assert adapter.calls == 1
    tracebacks = [r for r in caplog.records if r.exc_info and r.name == "qunbot.outbox"]
    assert len(tracebacks) == 1 and tracebacks[0].exc_info[0] is KeyError
    assert "程序错误" in db.outbound.get(created.id)["error"]


class LostAnswerAdapter(RecordingAdapter):
    """The platform got the request; the answer never came back."""

    async def send(self, delivery: Delivery) -> str:
        self.calls += 1
        if self.calls == 1:
            raise OutcomeUnknown("socket closed after the request")
        self.sent.append((delivery.chat_id, delivery.text))
        return "pm"


@pytest.mark.parametrize(("idempotent", "calls", "status"), [(False, 1, "uncertain"), (True, 2, "sent")])
async def test_an_attempt_with_unknown_outcome_is_uncertain_unless_the_send_is_idempotent(
        db, idempotent, calls, status):
    adapter = LostAnswerAdapter(idempotent=idempotent)
    outbox, clock = on_fake_clock(db, adapter)
    await outbox.start()
    [created] = await outbox.submit([item("g1")])
    if idempotent:
        await fail_then_advance(db, outbox, clock, created.id, 1)
    await wait_until(lambda: db.outbound.get(created.id)["status"] not in ("pending", "sending"))
    await asyncio.sleep(0.2)
    await outbox.stop()
    assert adapter.calls == calls
    assert db.outbound.get(created.id)["status"] == status


class OfflineAdapter(RecordingAdapter):
    """Reports its connection through the adapter port; refuses to send while it is down."""

    def __init__(self, claims: bool | None = None) -> None:
        super().__init__()
        self.up = False
        self.refused = 0
        self.claims = claims  # what `connected` says, when it is not the truth (a socket just dropped)

    @property
    def connected(self) -> bool:
        return self.up if self.claims is None else self.claims

    async def send(self, delivery: Delivery) -> str:
        if not self.up:
            self.refused += 1
            raise NotConnected("no socket")
        self.sent.append((delivery.chat_id, delivery.text))
        return "pm"


async def test_deliveries_wait_for_a_disconnected_adapter_without_using_attempts(db):
    adapter = OfflineAdapter()
    outbox, clock = on_fake_clock(db, adapter, max_attempts=2)
    await outbox.start()
    created = await outbox.submit([item(f"g{i}") for i in range(5)])
    await wait_until(lambda: outbox.waiting_for_connection("fake") == 5)
    for _ in range(3):  # several retry schedules long
        await advance(outbox, clock, 120)
    assert adapter.refused == 0 and outbox.waiting_for_connection("fake") == 5
    assert db.outbound.count_by_status() == {"pending": 5}
    adapter.up = True
    adapter.connection_changed()
    await wait_until(lambda: db.outbound.count_by_status() == {"sent": 5})
    await outbox.stop()
    assert sorted(c for c, _ in adapter.sent) == sorted(c.chat_id for c in created)
    assert {db.outbound.get(c.id)["attempts"] for c in created} == {1}


async def test_a_send_that_finds_the_connection_gone_gives_back_its_attempt(db):
    from bot.outbox import RECONNECT_RECHECK_SECONDS

    adapter = OfflineAdapter(claims=True)
    outbox, clock = on_fake_clock(db, adapter, max_attempts=1)
    await outbox.start()
    [created] = await outbox.submit([item("g1")])
    await wait_until(lambda: adapter.refused >= 1 and db.outbound.get(created.id)["status"] == "pending")
    row = db.outbound.get(created.id)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    adapter.up = True
    await advance(outbox, clock, RECONNECT_RECHECK_SECONDS)
    await wait_until(lambda: db.outbound.get(created.id)["status"] == "sent")
    await outbox.stop()


class ActingAdapter(RecordingAdapter):
    """Performs platform actions; the first `fail_first` fail as a busy platform would."""

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(fail_first=fail_first)
        self.performed: list[dict] = []

    async def perform(self, action: dict) -> None:
        self.calls += 1
        if action["action"] == "kick":
            raise ActionNotSupported("kick")
        if self.calls <= self.fail_first:
            raise TransientSendError("busy")
        self.performed.append(action)


async def test_platform_actions_are_retried_like_messages_and_their_outcome_can_be_awaited(db):
    from bot.actions import action_item

    adapter = ActingAdapter(fail_first=1)
    outbox, clock = on_fake_clock(db, adapter)
    settled: list[tuple[str, str]] = []
    outbox.outcomes.hook = lambda item, status, error: settled.append((item.occurrence, status))
    await outbox.start()
    recall = action_item("fake", {"action": "recall", "chat_id": "g1", "message_id": "m1"},
                         source="action:fake:m1", occurrence="0:recall")
    kick = action_item("fake", {"action": "kick", "chat_id": "g1", "member_id": "u1"},
                       source="action:fake:m1", occurrence="1:kick")
    created = await outbox.submit([recall, kick], watch=True)
    await fail_then_advance(db, outbox, clock, created[0].id, 1)  # the platform was busy
    assert [await outbox.outcome(c.id, timeout=5) for c in created] == ["sent", "failed"]
    # the same action asked again is not done again
    assert await outbox.submit([action_item("fake", {"action": "recall", "chat_id": "g1", "message_id": "m1"},
                                            source="action:fake:m1", occurrence="0:recall")]) == []
    await asyncio.sleep(0.1)
    await outbox.stop()
    assert [a["action"] for a in adapter.performed] == ["recall"]
    assert adapter.performed[0]["delivery_id"] == created[0].id
    assert sorted(settled) == [("0:recall", "sent"), ("1:kick", "failed")]
    assert "不支持" in db.outbound.get(created[1].id)["error"]
    assert db.outbound.get(created[0].id)["attempts"] == 2
