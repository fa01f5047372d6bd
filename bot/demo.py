"""Demo data: simulated groups with tags, members and a little history, so nothing starts empty."""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files
from pathlib import Path

from bot.config import Settings
from bot.kernel.events import ChatKind, Event
from bot.store import Store
from bot.store.base import iso, utcnow

SEEDED_KEY = "demo.seeded"
DEMO_FAQ = Path(str(files("intents") / "data" / "demo_faq.jsonl"))

DEMO_GROUPS: list[tuple[str, str, list[str], list[tuple[str, str]]]] = [
    ("g_student", "学生群", ["学生"], [("u_xiaoming", "小明"), ("u_lily", "Lily"), ("u_ahao", "阿豪")]),
    ("g_mom", "宝妈群", ["宝妈"], [("u_mama_wang", "王妈妈"), ("u_tiantian", "甜甜妈"), ("u_lin", "林姐")]),
    ("g_office", "上班族群", ["上班族"], [("u_zhang", "张工"), ("u_amy", "Amy"), ("u_chen", "陈经理")]),
    ("g_vip", "VIP群", ["VIP"], [("u_boss_li", "李总"), ("u_vivian", "Vivian")]),
    ("g_service", "售后服务群", ["售后"], [("u_zhao", "赵女士"), ("u_sun", "孙先生"), ("u_xiaoming", "小明")]),
]

DEMO_HISTORY = [
    ("g_mom", "u_mama_wang", "王妈妈", "大家早上好～今天有什么活动吗"),
    ("g_mom", "u_tiantian", "甜甜妈", "我也想问，上次的纸尿裤还有优惠吗"),
    ("g_student", "u_xiaoming", "小明", "学生证可以打折吗？"),
    ("g_service", "u_zhao", "赵女士", "我的快递三天了还没到"),
    ("g_office", "u_amy", "Amy", "中午拼单的来"),
]


def seed_if_empty(store: Store, settings: Settings) -> bool:
    """Apply config groups; seed demo data once when `demo = true` and the database is new."""
    _apply_config_groups(store, settings)
    if not settings.bot.demo or store.accounts.get_value(SEEDED_KEY):
        return False
    if store.chats.list_chats("sim"):
        store.accounts.set_value(SEEDED_KEY, "existing")
        return False
    seed_demo(store)
    return True


def seed_demo(store: Store) -> None:
    with store.chats.tx():
        for chat_id, name, tags, members in DEMO_GROUPS:
            store.chats.upsert_chat("sim", chat_id, kind="group", name=name, tags=tags)
            for member_id, member_name in members:
                store.members.upsert("sim", chat_id, member_id, member_name, joined=True)
        store.chats.upsert_member("sim", "g_mom", "u_lin", moderator=True)
        from moderation.seed import seed_demo_words

        seed_demo_words(store)
        start = utcnow() - timedelta(minutes=30)
        # the demo's history happened before the bot: "passed", not a crash's unhandled "received"
        events = [
            (Event(platform="sim", chat_id=chat, chat_kind=ChatKind.GROUP, sender_id=sender,
                   sender_name=name, message_id=f"demo{i}", time=start + timedelta(minutes=i * 3),
                   text=text, chat_name=chat, raw={"source": "demo"}), "passed", False)
            for i, (chat, sender, name, text) in enumerate(DEMO_HISTORY)
        ]
        store.messages.record_batch(events, [])
        store.members.record_seen([(e.platform, e.chat_id, e.sender_id, e.sender_name, 1, iso(e.time), iso(e.time))
                                   for e, _, _ in events])
        _seed_faq(store)
        store.accounts.set_value(SEEDED_KEY, utcnow().isoformat())


def _seed_faq(store: Store) -> None:
    """The FAQ package's demo entries, only where the manager has not made their own yet."""
    if store.faq.count_entries() == 0:
        from intents.faqfile import read_file

        entries = read_file(DEMO_FAQ)
        store.faq.import_entries([
            {"id": e.id, "answer": e.answer, "questions": e.questions, "tags": e.tags} for e in entries
        ], False)


def reset_demo(store: Store) -> None:
    """Forget every simulated chat and message and seed the demo again."""
    with store.chats.tx():
        store.messages.delete_platform("sim")
        store.chats.delete_platform("sim")
    seed_demo(store)


def _apply_config_groups(store: Store, settings: Settings) -> None:
    for group in settings.groups:
        store.chats.upsert_chat(group.platform, group.id, kind="group", name=group.name or None, tags=group.tags)
        for member_id in group.moderators:
            store.chats.upsert_member(group.platform, group.id, member_id, moderator=True)
