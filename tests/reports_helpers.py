"""A store seeded with known messages and decision traces, for report, metrics and retention tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from bot.kernel.events import ChatKind, Decision, Event, EventType
from bot.store import Store

XSS_GROUP = "<script>alert('x')</script>学生群"
_ids = itertools.count(1)


def at(local: str) -> datetime:
    """A Shanghai wall-clock time ("2026-11-21 09:00") as an aware UTC datetime."""
    naive = datetime.fromisoformat(local)
    return (naive.replace(tzinfo=UTC) - (datetime(2000, 1, 1, 8) - datetime(2000, 1, 1))).astimezone(UTC)


def event(chat: str, sender: str, when: datetime, text: str = "你好", *, kind: str = "group",
          type: EventType = EventType.MESSAGE, name: str = "") -> Event:
    return Event(
        platform="sim", chat_id=chat, chat_kind=ChatKind(kind), sender_id=sender,
        sender_name=name or f"成员{sender}", message_id=f"m{next(_ids)}", time=when, text=text, type=type,
    )


def trace(last: Decision | None) -> list[Decision]:
    out = [Decision("dedupe", "pass"), Decision("record", "recorded")]
    return [*out, last] if last else out


def keyword(rule: str, word: str) -> Decision:
    return Decision("keywords", "answered", detail={"id": rule, "keyword": word, "rule_id": rule}, stop=True)


def faq(entry: str) -> Decision:
    return Decision("intents", "answered", detail={"entry_id": entry, "score": 91.0, "via": "answer"}, stop=True)


def unanswered(text: str) -> Decision:
    return Decision("intents", "pass", detail={"outcome": "silent", "text": text, "candidates": []})


def suggested(text: str) -> Decision:
    return Decision("intents", "suggested", stop=True,
                    detail={"outcome": "suggest", "text": text, "candidates": [{"id": "faq-ship"}]})


def blocked(category: str, outcome: str = "blocked", action: str = "recall") -> Decision:
    hits: list[dict[str, Any]] = [
        {"rule": "word", "category": "低俗", "action": "allow", "severity": 1},
        {"rule": "word", "category": category, "action": action, "severity": 3},
    ]
    return Decision("moderation", outcome, detail={"hits": hits, "requested": action}, stop=True)


def record(store: Store, ev: Event, last: Decision | None, status: str = "passed") -> None:
    store.messages.record_batch([(ev, status, False)], [(ev.uid, trace(last), status)])


def seed(store: Store) -> None:
    """Two report days (Nov 20 and 21, Shanghai) plus messages just outside them.

    Expected figures are asserted in tests/test_reports.py.
    """
    store.chats.upsert_chat("sim", "g_mom", name="宝妈群", tags=["宝妈", "VIP"])
    store.chats.upsert_chat("sim", "g_stu", name=XSS_GROUP, tags=["学生"])
    store.chats.upsert_chat("sim", "u_9", kind="private", name="小王")
    d1, d2 = "2026-11-20", "2026-11-21"
    # day 1, 宝妈群: 4 messages by 3 members, 1 keyword answer, 1 FAQ answer, 1 block, 1 join
    record(store, event("g_mom", "a", at(f"{d1} 09:00"), "几号发货"), keyword("K1", "发货"))
    record(store, event("g_mom", "b", at(f"{d1} 09:05"), "怎么退款？"), faq("faq-refund"))
    record(store, event("g_mom", "c", at(f"{d1} 10:00"), "加我微信卖货"), blocked("广告"), "blocked")
    record(store, event("g_mom", "a", at(f"{d1} 11:00"), "今天天气不错"), Decision("intents", "pass"))
    record(store, event("g_mom", "n1", at(f"{d1} 12:00"), "", type=EventType.MEMBER_JOIN),
           Decision("keywords", "pass"))
    # day 2, 宝妈群: late evening local time still counts for Nov 21 (UTC is Nov 21 15:30)
    record(store, event("g_mom", "a", at(f"{d2} 23:30"), "几号发货"), keyword("K1", "发货"))
    dup = event("g_mom", "b", at(f"{d2} 08:00"), "有优惠券吗？")
    record(store, dup, unanswered("有优惠券吗？"))
    # the platform retried the same message: a dedupe trace row must not count it twice
    store.messages.record_batch([], [(dup.uid, [Decision("dedupe", "duplicate", stop=True)], "received")])
    record(store, event("g_mom", "c", at(f"{d2} 09:00"), "有没有优惠券"), unanswered("有没有优惠券"))
    record(store, event("g_mom", "c", at(f"{d2} 09:10"), "点击领红包 http://x"), blocked("广告"), "blocked")
    record(store, event("g_mom", "n1", at(f"{d2} 20:00"), "", type=EventType.MEMBER_LEAVE), None)
    # day 2, the student group: 3 messages by 2 members, 1 FAQ answer, 1 held, 1 suggestion
    record(store, event("g_stu", "s1", at(f"{d2} 10:00"), "怎么退款"), faq("faq-refund"))
    record(store, event("g_stu", "s2", at(f"{d2} 10:05"), "看这个链接"), blocked("链接", "held", "review"), "held")
    record(store, event("g_stu", "s1", at(f"{d2} 10:10"), "发货要多久？"), suggested("发货要多久？"))
    # day 2, a private chat: 1 FAQ answer
    record(store, event("u_9", "u_9", at(f"{d2} 11:00"), "退款多久到账？", kind="private"), faq("faq-ship"))
    # outside the period on both sides
    record(store, event("g_mom", "z", at("2026-11-19 23:59"), "早"), keyword("K1", "发货"))
    record(store, event("g_mom", "z", at("2026-11-22 00:00"), "早"), keyword("K1", "发货"))
