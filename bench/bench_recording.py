"""Recording into a database that already holds months of messages: the cost of each
message's rows grows with the indexes' size, and an empty database hides it.

    python bench/bench_recording.py [--quick]

Writes H history messages (50 chats, ~2,000 members, real chat text), then times batches of
1,000 messages with their decision traces as the recorder writes them, and a moderator's
"recent messages of this member" lookup.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import chat_lines, figure, machine

from bot.kernel.events import ChatKind, Decision, Event
from bot.store import Store

CHATS = 50
MEMBERS = 1997
BATCH = 1000


def events(start: int, count: int, texts: list[str], t0: datetime) -> list[Event]:
    return [
        Event(platform="sim", chat_id=f"g{i % CHATS}", chat_kind=ChatKind.GROUP,
              sender_id=f"u{(i * 7919) % MEMBERS}", sender_name=f"成员{(i * 7919) % MEMBERS}",
              message_id=f"h{i}", time=t0 + timedelta(seconds=2 * i), text=texts[i % len(texts)])
        for i in range(start, start + count)
    ]


# the decisions of a message nothing answered, as the recorder writes them
TRACE = [Decision("dedupe", "pass"), Decision("record", "recorded"), Decision("moderation", "pass"),
         Decision("keywords", "pass"), Decision("intents", "pass", "群聊消息不像提问，未匹配常见问题")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    history = 100_000 if args.quick else 500_000
    texts = chat_lines(20_000)
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "q.db")
        store.chats.ensure_chats([("sim", f"g{c}", "group", f"群{c}") for c in range(CHATS)])
        for start in range(0, history, BATCH):
            store.messages.record_batch([(e, "passed", False) for e in events(start, BATCH, texts, t0)], [])
        timed = 0.0
        rounds = 20
        for r in range(rounds):
            batch = events(history + r * BATCH, BATCH, texts, t0)
            started = time.perf_counter()
            store.messages.record_batch([(e, "passed", False) for e in batch],
                                        [(e.uid, TRACE, "passed") for e in batch])
            timed += time.perf_counter() - started
        figure(f"record_us_per_msg_{history // 1000}k_history", 1e6 * timed / (rounds * BATCH), "us")
        # the member directory's write, which the recorder makes once a second with the sums
        # per (chat, sender): here once per batch of 1,000 messages from ~1,000 distinct
        # senders, the worst case (a busy second repeats senders, which this one never does)
        timed = 0.0
        for r in range(rounds):
            batch = events(history + (rounds + r) * BATCH, BATCH, texts, t0)
            seen: dict[tuple[str, str, str], list] = {}
            started = time.perf_counter()
            for e in batch:
                t = e.time.isoformat()
                s = seen.get((e.platform, e.chat_id, e.sender_id))
                if s is None:
                    seen[(e.platform, e.chat_id, e.sender_id)] = [e.sender_name, 1, t, t]
                else:
                    s[1] += 1
            store.messages.record_batch([(e, "passed", False) for e in batch],
                                        [(e.uid, TRACE, "passed") for e in batch])
            store.members.record_seen([(*k, *v) for k, v in seen.items()])
            timed += time.perf_counter() - started
        figure(f"record_with_members_us_per_msg_{history // 1000}k_history", 1e6 * timed / (rounds * BATCH), "us")
        started = time.perf_counter()
        for m in range(50):
            store.messages.member_messages("sim", f"g{m % CHATS}", f"u{(m * 7919) % MEMBERS}", 10)
        figure(f"member_messages_ms_{history // 1000}k_history", 1000 * (time.perf_counter() - started) / 50, "ms")
        store.close()


if __name__ == "__main__":
    main()
