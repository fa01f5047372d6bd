"""群SOP sequences on a FakeClock and real SQLite: enrolment, timing, exactly once, stops, grace, preview."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import settings_from_dict
from bot.kernel.clock import FakeClock
from bot.services import Services
from bot.settings_loader import ConfigError
from bot.store import Store
from bot.store.base import iso
from schedules.scheduler import Scheduler
from schedules.sop_service import SopError, member_preview, save, set_status

TZ = ZoneInfo("Asia/Shanghai")


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


NEWBIE = {
    "id": "newbie", "anchor": "member_joined", "tags": ["宝妈"],
    "steps": [
        {"after": "0d", "text": "欢迎 {nickname} 加入{group}！", "private": True},
        {"after": "3d 10:00", "text": "{nickname}，第 3 天的小贴士", "private": True},
        {"after": "7d 20:00", "text": "请 {nickname} 填一下问卷", "private": False},
    ],
}


class World:
    """A store with groups, a scheduler with its SOP runner on a FakeClock; `restart()` reopens them."""

    def __init__(self, tmp_path, config: dict, start: datetime, tags=None) -> None:
        self.path = tmp_path / "qunbot.db"
        self.config = config
        self.clock = FakeClock(start.astimezone(UTC))
        self.store = Store(self.path)
        self.store.chats.upsert_chat("sim", "mom", name="宝妈群", tags=["宝妈"])
        self.store.chats.upsert_chat("sim", "stu", name="学生群", tags=["学生"])
        self.tags: dict[str, set[str]] = tags if tags is not None else {}
        self._start()

    def _start(self) -> None:
        self.settings = settings_from_dict(self.config)
        self.scheduler = Scheduler(Services(settings=self.settings, store=self.store, clock=self.clock,
                                            capabilities=lambda platform: frozenset({"send", "private"}),
                                            rng=random.Random(7)))
        self.scheduler.sop.member_tags = lambda store, platform, member: self.tags.get(member, set())

    async def load(self) -> None:
        await self.scheduler.load()

    def restart(self) -> None:
        self.store.close()
        self.store = Store(self.path)
        self._start()

    def at(self, when: datetime) -> None:
        self.clock.set(when.astimezone(UTC))

    def join(self, chat: str, member: str, name: str) -> None:
        """A member joins now (by the fake clock), as the runtime records it."""
        self.store.chats.upsert_member("sim", chat, member, name, joined=True)
        with self.store.chats.tx() as conn:
            conn.execute("UPDATE members SET joined_at = ? WHERE chat_id = ? AND member_id = ?",
                         (iso(self.clock.now()), chat, member))

    async def run(self, when: datetime) -> list[dict]:
        self.at(when)
        return await self.scheduler.sop.run_due()

    def sent(self) -> list[tuple[str, str, str]]:
        rows = [r for r in self.store.outbound.list(limit=10_000) if r["source"].startswith("sop:")]
        return sorted((r["source"], r["chat_id"], r["payload"]["text"]) for r in rows)


@pytest.fixture
def world(tmp_path):
    worlds = []

    def make(config: dict, start: datetime, **kw) -> World:
        w = World(tmp_path, config, start, **kw)
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        w.store.close()


async def test_new_member_gets_day_0_day_3_and_day_7_steps_at_their_local_times(world):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    await w.load()
    w.at(sh(11, 23, 15, 30))
    w.join("mom", "u1", "小红")
    await w.run(sh(11, 23, 15, 30, ))
    assert w.sent() == [("sop:newbie:0", "u1", "欢迎 小红 加入宝妈群！")]
    await w.run(sh(11, 26, 9, 59))
    assert len(w.sent()) == 1, "day 3 at 10:00 local is not due at 09:59"
    await w.run(sh(11, 26, 10, 0))
    await w.run(sh(11, 30, 20, 0))
    assert w.sent() == [
        ("sop:newbie:0", "u1", "欢迎 小红 加入宝妈群！"),
        ("sop:newbie:1", "u1", "小红，第 3 天的小贴士"),
        ("sop:newbie:2", "mom", "请 小红 填一下问卷"),
    ]
    rows = w.store.outbound.list(limit=100)
    assert {r["chat_kind"] for r in rows if r["chat_id"] == "u1"} == {"private"}


async def test_members_of_untagged_groups_and_earlier_members_are_not_enrolled(world):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    w.join("mom", "old", "老成员")  # joined before the sequence existed
    w.at(sh(11, 23, 9, 1))
    await w.load()
    w.join("stu", "u2", "小明")
    await w.run(sh(11, 23, 9, 2))
    assert w.sent() == []


async def test_each_step_is_sent_once_across_runs_and_restarts(world):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    await w.load()
    w.join("mom", "u1", "小红")
    await w.run(sh(11, 23, 9, 0))
    await w.run(sh(11, 23, 9, 0))
    w.restart()
    await w.load()
    await w.run(sh(11, 23, 9, 1))
    assert len(w.sent()) == 1


async def test_crash_between_hand_over_and_record_does_not_repeat_the_step(world, monkeypatch):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    await w.load()
    w.join("mom", "u1", "小红")
    original = w.store.sop.record_step

    def crash(*args, **kwargs):
        raise RuntimeError("killed before the record")

    monkeypatch.setattr(w.store.sop, "record_step", crash)
    await w.run(sh(11, 23, 9, 0))
    monkeypatch.setattr(w.store.sop, "record_step", original)
    # restarted much later (past the grace): the ledger says it was handed over, so it counts as sent
    await w.run(sh(11, 24, 9, 0))
    assert len(w.sent()) == 1
    preview = member_preview(w.store, w.settings, "u1", w.clock.now())
    assert preview[0]["status"] == "pending" and preview[0]["reason"] == "已提交，等待发送"


async def test_member_who_left_or_is_blacklisted_gets_no_further_steps(world):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    await w.load()
    w.join("mom", "u1", "小红")
    w.join("mom", "u2", "小兰")
    await w.run(sh(11, 23, 9, 0))
    w.store.chats.upsert_member("sim", "mom", "u1", left=True)
    with w.store.chats.tx() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS blacklist (ref TEXT PRIMARY KEY, reason TEXT NOT NULL DEFAULT '',"
                     " by_user TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL)")
        conn.execute("INSERT INTO blacklist(ref, created_at) VALUES ('sim:u2', '2026-11-23')")
    await w.run(sh(12, 1, 0, 0))
    assert [s[:2] for s in w.sent()] == [("sop:newbie:0", "u1"), ("sop:newbie:0", "u2")]
    steps = {(r["member"], r["step"]): r for name in ("u1", "u2")
             for r in member_preview(w.store, w.settings, f"sim:{name}", w.clock.now())}
    assert steps[("u1", 2)]["status"] == "skipped" and steps[("u1", 2)]["reason"] == "成员已退群，序列停止"
    assert steps[("u2", 3)]["reason"] == "成员已被拉黑，序列停止"


async def test_steps_missed_while_down_are_sent_within_grace_else_skipped_and_counted(world):
    config = {"schedule": {"sop_misfire_grace": "2h"}, "sop": [NEWBIE]}
    w = world(config, sh(11, 23, 9, 0))
    await w.load()
    w.join("mom", "u1", "小红")
    await w.run(sh(11, 23, 9, 0))
    # down from day 2 to day 3 11:30: the 10:00 tip is 1.5 h late (sent); day 7 20:00 was 3 h late (skipped)
    results = await w.run(sh(11, 26, 11, 30))
    assert [(r["step"], r["status"]) for r in results] == [(2, "submitted")]
    assert "补发" in results[0]["reason"]
    results = await w.run(sh(11, 30, 23, 0))
    assert [(r["step"], r["status"]) for r in results] == [(3, "skipped")]
    assert "超过补发宽限 2h" in results[0]["reason"]
    assert len(w.sent()) == 2
    assert w.store.sop.totals()["newbie"] == {"done": 1, "steps_submitted": 2, "steps_skipped": 1}


async def test_member_tag_condition_present_and_absent(world):
    seq = {"id": "vip", "anchor": "member_joined", "steps": [
        {"after": "1h", "text": "VIP 专属：{nickname}", "private": True, "if_tag": "VIP"},
        {"after": "1h", "text": "还没买？{nickname}", "private": True, "unless_tag": "已购"},
    ]}
    w = world({"sop": [seq]}, sh(11, 23, 9, 0), tags={"u1": {"VIP", "已购"}, "u2": set()})
    await w.load()
    w.join("stu", "u1", "甲")
    w.join("mom", "u2", "乙")
    await w.run(sh(11, 23, 9, 0))
    await w.run(sh(11, 23, 10, 0))
    assert w.sent() == [("sop:vip:0", "u1", "VIP 专属：甲"), ("sop:vip:1", "u2", "还没买？乙")]
    preview = member_preview(w.store, w.settings, "u1", w.clock.now())
    reasons = {r["reason"] for r in preview if r["status"] == "skipped"}
    assert reasons == {"条件不满足：成员带有标签「已购」"}


async def test_staff_step_goes_privately_to_the_groups_managers(world):
    seq = {"id": "followup", "anchor": "member_joined", "tags": ["宝妈"], "steps": [
        {"after": "1d", "text": "请跟进新成员 {nickname}", "to": "staff"}]}
    w = world({"sop": [seq]}, sh(11, 23, 9, 0))
    w.store.chats.upsert_member("sim", "mom", "boss", "群主", moderator=True)
    await w.load()
    w.join("mom", "u1", "小红")
    await w.run(sh(11, 24, 9, 0))
    assert w.sent() == [("sop:followup:0", "boss", "请跟进新成员 小红")]


async def test_group_tagged_sequence_starts_when_a_group_gets_the_tag(world):
    seq = {"id": "vipgroup", "anchor": "group_tagged", "tags": ["VIP"], "steps": [
        {"after": "0d", "text": "本群已升级为 VIP 群（{group}）"},
        {"after": "1d 20:00", "text": "{nickname} 你好，VIP 福利", "private": True}]}
    w = world({"sop": [seq]}, sh(11, 23, 9, 0))
    w.store.chats.upsert_chat("sim", "old", name="老 VIP 群", tags=["VIP"])
    await w.load()
    w.store.chats.upsert_member("sim", "stu", "s1", "学生甲", joined=True)
    w.store.chats.set_tags("sim", "stu", ["学生", "VIP"])
    await w.run(sh(11, 23, 9, 5))
    await w.run(sh(11, 24, 20, 0))
    assert w.sent() == [("sop:vipgroup:0", "stu", "本群已升级为 VIP 群（学生群）"),
                        ("sop:vipgroup:1", "s1", "学生甲 你好，VIP 福利")]


async def test_paused_sequence_skips_due_steps_and_resumes_later_ones(world):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    await w.load()
    w.join("mom", "u1", "小红")
    await w.run(sh(11, 23, 9, 0))
    await w.store.run(set_status, w.store, "newbie", "paused")
    await w.run(sh(11, 26, 10, 0))
    await w.store.run(set_status, w.store, "newbie", "active")
    await w.run(sh(11, 30, 20, 0))
    assert [s[0] for s in w.sent()] == ["sop:newbie:0", "sop:newbie:2"]


async def test_preview_lists_every_step_with_time_and_status(world):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    await w.load()
    w.at(sh(11, 23, 15, 30))
    w.join("mom", "u1", "小红")
    before = member_preview(w.store, w.settings, "小红", w.clock.now())
    assert [r["status"] for r in before] == ["pending"] * 3, "a join not yet enrolled is previewed too"
    await w.run(sh(11, 23, 15, 30))
    rows = w.store.outbound.list(limit=10)
    w.store.outbound.mark(rows[0]["id"], "sent")
    rows = member_preview(w.store, w.settings, "sim:u1", w.clock.now())
    assert [(r["step"], r["time"], r["status"], r["to"]) for r in rows] == [
        (1, "2026-11-23T15:30:00+08:00", "sent", "member"),
        (2, "2026-11-26T10:00:00+08:00", "pending", "member"),
        (3, "2026-11-30T20:00:00+08:00", "pending", "group"),
    ]
    assert rows[0]["text"] == "欢迎 小红 加入宝妈群！"
    with pytest.raises(SopError):
        member_preview(w.store, w.settings, "nobody", w.clock.now())


async def test_console_save_validates_and_refuses_config_sequences(world):
    w = world({"sop": [NEWBIE]}, sh(11, 23, 9, 0))
    await w.load()
    now = w.clock.now()
    with pytest.raises(ConfigError) as bad:
        save(w.store, {"id": "x", "anchor": "member_joined", "steps": [{"after": "3 days", "text": "hi {nick}"}]}, now)
    keys = {e.key: e.reason for e in bad.value.errors}
    assert "steps[0].after" in keys and "3d 10:00" in keys["steps[0].after"]
    with pytest.raises(SopError, match=r"config\.toml"):
        save(w.store, NEWBIE, now, seq_id="newbie")
    spec = save(w.store, {"id": "console1", "anchor": "member_joined", "steps": [{"after": "2h", "text": "hi"}]}, now)
    assert spec.id == "console1" and w.store.sop.get_sequence("console1")["origin"] == "console"


def test_config_errors_name_file_key_and_reason(tmp_path):
    from bot.config import load_settings

    path = tmp_path / "config.toml"
    path.write_text("""
[[sop]]
id = "a"
anchor = "member_left"
steps = [{after = "0d", text = "hi"}]

[[sop]]
id = "b"
anchor = "member_joined"
steps = [{after = "3d 25:00", text = "hi {price}"}, {after = "1h", text = "", private = true, to = "staff"}]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    lines = [e.line() for e in exc.value.errors]
    assert any(line.startswith(f"{path}: sop[0].anchor:") for line in lines), lines
    assert any("sop[1].steps[0].after" in line for line in lines), lines
    assert any("sop[1].steps[1].text" in line for line in lines), lines


def test_text_variables_are_checked_in_the_steps_context():
    from schedules.sop_config import parse_sequence

    group_step = {"id": "g", "anchor": "group_tagged", "tags": ["VIP"],
                  "steps": [{"after": "0d", "text": "欢迎 {nickname}"}]}
    with pytest.raises(ConfigError) as exc:
        parse_sequence(group_step)
    (error,) = exc.value.errors
    assert error.key == "steps[0].text"
    assert "{nickname}" in error.reason and "此处可用：{group} {date} {time} {weekday}" in error.reason
    # the same variable is fine where a member is known: a private step of the group sequence
    group_step["steps"][0]["private"] = True
    assert parse_sequence(group_step).steps[0].target == "member"


async def test_variant_lines_pick_one_alternative_per_member(world):
    seq = {"id": "v", "anchor": "member_joined", "steps": [
        {"after": "0d", "text": "{variant}你好 {nickname}\n{variant}嗨 {nickname}\n欢迎常来", "private": True}]}
    w = world({"sop": [seq]}, sh(11, 23, 9, 0))
    await w.load()
    for i in range(12):
        w.join("mom", f"u{i}", f"成员{i}")
    await w.run(sh(11, 23, 9, 0))
    texts = [t for _, _, t in w.sent()]
    assert len(texts) == 12 and all(t.endswith("\n欢迎常来") and "{" not in t for t in texts)
    assert {t.split()[0] for t in texts} == {"你好", "嗨"}


def test_cli_preview_lists_the_members_steps_as_json(tmp_path, capsys):
    import json

    from bot.cli import main

    config = tmp_path / "config.toml"
    config.write_text(
        "[bot]\ndemo = true\ndata_dir = 'data'\n[console]\nport = 0\n"
        "[[sop]]\nid = 'newbie'\nanchor = 'member_joined'\ntags = ['宝妈']\n"
        "steps = [{after = '0d', text = '欢迎 {nickname}', private = true}, {after = '2d 20:00', text = '问卷'}]\n",
        encoding="utf-8")
    assert main(["sop", "preview", "--member", "nobody", "--config", str(config)]) == 1
    assert "找不到成员" in capsys.readouterr().err
    assert main(["sop", "preview", "--member", "u_mama_wang", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == [], "members from before the sequence are not enrolled"
    store = Store(tmp_path / "data" / "qunbot.db")
    store.chats.upsert_member("sim", "g_mom", "u_new", "新妈妈", joined=True)
    store.close()
    assert main(["sop", "preview", "--member", "sim:u_new", "--json", "--config", str(config)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["sequence"], r["step"], r["to"], r["status"], r["text"]) for r in rows] == [
        ("newbie", 1, "member", "pending", "欢迎 新妈妈"), ("newbie", 2, "group", "pending", "问卷")]
    assert rows[1]["time"].endswith("20:00:00+08:00") and rows[0]["chat_name"] == "宝妈群"


async def test_conditions_read_the_member_directorys_tags(world):
    from schedules import sop_members

    seq = {"id": "vip2", "anchor": "member_joined", "steps": [
        {"after": "0d", "text": "VIP 你好 {nickname}", "private": True, "if_tag": "VIP"}]}
    w = world({"sop": [seq]}, sh(11, 23, 9, 0))
    w.scheduler.sop.member_tags = sop_members.member_tags
    await w.load()
    w.store.members.add_tags([("sim", "u1", "VIP")])
    w.join("mom", "u1", "甲")
    w.join("mom", "u2", "乙")
    await w.run(sh(11, 23, 9, 0))
    assert w.sent() == [("sop:vip2:0", "u1", "VIP 你好 甲")]


def test_step_recipient_from_to_and_private():
    from schedules.sop_config import parse_sequence

    def target(**step):
        seq = {"id": "t", "anchor": "member_joined", "steps": [{"after": "0d", "text": "hi", **step}]}
        return parse_sequence(seq).steps[0].target

    assert target() == "group" and target(private=True) == "member" and target(to="member") == "member"
    assert target(to="staff") == "staff" and target(to="group") == "group"
    with pytest.raises(ConfigError) as exc:
        target(to="group", private=True)
    assert exc.value.errors[0].key == "steps[0].to"


async def test_group_sequence_stops_when_the_group_loses_the_tag(world):
    seq = {"id": "vipg", "anchor": "group_tagged", "tags": ["VIP"], "steps": [
        {"after": "0d", "text": "欢迎升级"}, {"after": "2d", "text": "第三天"}]}
    w = world({"sop": [seq]}, sh(11, 23, 9, 0))
    await w.load()
    w.store.chats.set_tags("sim", "stu", ["VIP"])
    await w.run(sh(11, 23, 9, 1))
    w.store.chats.set_tags("sim", "stu", ["学生"])
    await w.run(sh(11, 26, 9, 0))
    assert [s[0] for s in w.sent()] == ["sop:vipg:0"]
    (enrollment,) = w.store.sop.recent("vipg")
    assert enrollment["status"] == "stopped" and enrollment["reason"] == "群已不再带有序列的标签，序列停止"
