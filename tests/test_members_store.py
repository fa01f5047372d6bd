"""The member directory as the running bot fills it: every sender of every chat, names over
time, message counts per chat, joins and leaves, and the store API other domains use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.sim import SimAdapter
from bot.kernel.events import ChatKind, Event, EventType
from bot.runtime import Bot
from bot.store import Store
from bot.store.members import MemberRefError, parse_ref
from tests.conftest import make_settings


def event(message_id: str, *, chat: str = "g1", sender: str = "u1", name: str = "小王",
          type: EventType = EventType.MESSAGE, at: datetime | None = None) -> Event:
    return Event(platform="sim", chat_id=chat, chat_kind=ChatKind.GROUP, sender_id=sender,
                 sender_name=name, message_id=message_id, time=at or datetime.now(UTC), text="你好呀",
                 type=type)


@pytest.fixture
async def bot(tmp_path):
    settings = make_settings(tmp_path, bot={"demo": False})
    store = Store(settings.database_path)
    bot = Bot(settings, store, adapters={"sim": SimAdapter()})
    await bot.start()
    yield bot
    await bot.stop()
    store.close()


async def test_every_sender_gets_a_profile_with_names_groups_and_counts(bot):
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(3):
        await bot.submit(event(f"a{i}", chat="g1", at=t0 + timedelta(minutes=i)))
    await bot.submit(event("b0", chat="g2", name="王大锤", at=t0 + timedelta(hours=1)))
    await bot.submit(event("c0", chat="g1", sender="u2", name="小李", at=t0))
    await bot.stop()
    store = bot.store
    profile = store.members.get("sim", "u1")
    assert profile is not None
    assert profile["name"] == "王大锤"
    assert profile["messages"] == 4
    assert profile["first_seen_at"].startswith("2026-11-01T00:00")
    assert profile["last_seen_at"].startswith("2026-11-01T01:00")
    assert [n["name"] for n in store.members.names("sim", "u1")] == ["王大锤", "小王"]
    groups = {g["chat_id"]: g["messages"] for g in store.members.groups("sim", "u1")}
    assert groups == {"g1": 3, "g2": 1}
    rows, total = store.members.search()
    assert total == 2 and {r["ref"] for r in rows} == {"sim:u1", "sim:u2"}


async def test_join_and_leave_are_kept_per_group(bot):
    await bot.submit(event("j1", sender="u9", name="新人", type=EventType.MEMBER_JOIN))
    await bot.submit(event("l1", sender="u9", name="新人", type=EventType.MEMBER_LEAVE))
    groups = bot.store.members.groups("sim", "u9")
    assert groups[0]["joined_at"] and groups[0]["left_at"]
    assert bot.store.members.get("sim", "u9")["messages"] == 0
    # a member who left is not listed under the group any more
    rows, _ = bot.store.members.search(chat=("sim", "g1"))
    assert "sim:u9" not in {r["ref"] for r in rows}


def test_tags_filter_and_version_bump(store: Store):
    store.members.upsert("onebot", "100", "10001", "阿强")
    store.members.upsert("onebot", "100", "10002", "阿珍")
    v = store.members.version()
    assert store.members.add_tags([("onebot", "10001", "VIP")], actor="admin") == 1
    assert store.members.version() == v + 1
    rows, total = store.members.search(tag="VIP")
    assert total == 1 and rows[0]["ref"] == "onebot:10001" and rows[0]["tags"] == ["VIP"]
    rows, total = store.members.search(text="珍")
    assert [r["ref"] for r in rows] == ["onebot:10002"]
    assert store.members.remove_tags([("onebot", "10001", "VIP")]) == 1
    assert store.members.search(tag="VIP")[1] == 0


def test_blacklisted_reads_the_guard_table_when_it_exists(store: Store):
    assert store.members.is_blacklisted("onebot:1") is False
    with store.lock:
        store.conn.execute("CREATE TABLE blacklist(ref TEXT PRIMARY KEY, reason TEXT, by_user TEXT, created_at TEXT)")
        store.conn.execute("INSERT INTO blacklist VALUES ('onebot:1', '广告', 'admin', '2026-01-01')")
    assert store.members.is_blacklisted("onebot:1") is True
    assert store.members.is_blacklisted("onebot:2") is False


@pytest.mark.parametrize("ref", ["", "onebot", "onebot:", ":123"])
def test_malformed_refs_are_refused_in_chinese(ref):
    with pytest.raises(MemberRefError, match="平台:用户ID"):
        parse_ref(ref)
