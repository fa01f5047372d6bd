"""The stage end to end: actions by capability, the strike ladder with a fake clock, commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import GroupConfig, Settings
from bot.kernel.clock import FakeClock
from bot.kernel.commands import CommandStage
from bot.kernel.events import ChatKind, Event, EventType
from bot.kernel.pipeline import Context, Pipeline
from bot.services import Services
from bot.store import Store
from moderation.actions import plan
from moderation.config import ModerationSettings, RuleSettings
from moderation.stage import ModerationStage

ALL = frozenset({"send", "recall", "mute", "kick"})


class Harness:
    def __init__(self, tmp_path, caps=ALL, moderation: ModerationSettings | None = None, groups=()):
        self.clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
        settings = Settings(moderation=moderation or ModerationSettings(
            rules=RuleSettings(rate=False, flood=False)), groups=list(groups))
        self.store = Store(tmp_path / "q.db")
        self.store.lexicon.add_words([
            {"word": "傻逼", "category": "辱骂", "action": "strike"},
            {"word": "代开发票", "category": "广告", "action": "kick"},
            {"word": "竞品牌", "category": "竞品", "action": "review"},
        ])
        self.commands = CommandStage("小Q")
        self.services = Services(settings=settings, store=self.store, clock=self.clock,
                                 capabilities=lambda platform: caps)
        self.stage = ModerationStage(self.services, commands=self.commands)
        self.pipeline = Pipeline()
        self.pipeline.register("moderation", self.stage)
        self.pipeline.register("commands", self.commands)
        self.n = 0

    async def send(self, text: str, sender: str = "u1", *, dry_run=False, mentions=(), kind=ChatKind.GROUP,
                   type=EventType.MESSAGE):
        self.n += 1
        e = Event("sim", "g1", kind, sender, f"成员{sender}", f"m{self.n}", self.clock.now(), text,
                  mentions=list(mentions), type=type)
        return await self.pipeline.run(e, Context(now=self.clock.now(), dry_run=dry_run, chat_name="测试群"))


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


async def test_clean_message_passes_without_actions(h):
    out = await h.send("今天天气不错")
    assert out.status == "passed" and out.actions == []


async def test_first_strike_recalls_and_warns_in_group(h):
    out = await h.send("你个傻*逼")
    assert out.status == "blocked"
    assert [(a["action"], a["message_id"], a["member_id"]) for a in out.actions] == [("recall", "m1", "u1")]
    # the category's own sentence (辱骂), saying what was done
    assert out.replies[0].text == "@成员u1 请文明交流，您的消息已撤回并警告。"
    d = out.decisions[0]
    assert d.detail["step"] == "warn" and "傻逼" in d.reason and "傻*逼" in d.reason


async def test_full_ladder_then_expiry(h):
    steps = []
    for _ in range(6):
        out = await h.send("傻逼")
        steps.append((out.decisions[0].detail["step"], out.decisions[0].detail.get("seconds")))
        h.clock.advance(3600)
    assert steps == [("warn", None), ("mute", 86400), ("mute", 7 * 86400), ("mute", 15 * 86400),
                     ("kick", None), ("kick", None)]
    out = await h.send("傻逼")
    assert "kick" in [a["action"] for a in out.actions]
    h.clock.advance(31 * 86400)  # every strike has expired
    out = await h.send("傻逼")
    assert out.decisions[0].detail["step"] == "warn"


async def test_dry_run_changes_no_strikes(h):
    for _ in range(3):
        out = await h.send("傻逼", dry_run=True)
        assert out.decisions[0].detail["step"] == "warn"
    assert h.store.moderation.active_strikes("sim", "g1", "u1", h.clock.now()) == 0
    assert h.store.moderation.count_flags("applied") == 0


async def test_review_word_holds_message_in_queue(h):
    out = await h.send("试试竞品牌吧")
    assert out.status == "held" and out.actions == [] and out.replies == []
    flags = h.store.moderation.list_flags()
    assert [(f["word"], f["status"]) for f in flags] == [("竞品牌", "pending")]


@pytest.mark.parametrize(
    ("caps", "step", "actions", "review"),
    [
        (ALL, "kick", ["recall", "kick"], False),
        (frozenset({"send", "recall", "mute"}), "mute", ["recall", "mute"], False),
        (frozenset({"send", "recall"}), "warn", ["recall"], False),
        (frozenset({"send"}), "warn", [], True),
        (frozenset(), "review", [], True),
    ],
)
def test_kick_degrades_to_strongest_action_adapter_can_do(caps, step, actions, review):
    p = plan("kick", ModerationSettings(), caps, chat_id="g", member_id="u", message_id="m")
    assert p.step == step
    assert [a["action"] for a in p.actions] == actions
    assert p.review is review
    if caps != ALL:
        assert p.degraded


async def test_degradation_is_explained_in_the_decision(tmp_path):
    h = Harness(tmp_path, caps=frozenset({"send", "recall", "mute"}))
    out = await h.send("代开发票联系我")
    d = out.decisions[0]
    assert d.detail["step"] == "mute" and d.detail["seconds"] == 15 * 86400
    assert d.detail["degraded"][0]["from"] == "kick"
    assert "平台不支持移出群聊" in d.reason
    h.store.close()


async def test_new_member_posting_link_is_escalated(h):
    await h.send("", sender="new", type=EventType.MEMBER_JOIN)
    out = await h.send("福利 http://spam.example.xyz", sender="new")
    assert "new_member_link" in [x["rule"] for x in out.decisions[0].detail["hits"]]
    assert out.status == "blocked"
    old = await h.send("福利 http://spam.example.xyz", sender="old")
    assert old.status == "held"


async def test_moderator_is_exempt_and_can_mute(tmp_path):
    h = Harness(tmp_path, groups=[GroupConfig(id="g1", moderators=["boss"])])
    assert (await h.send("傻逼", sender="boss")).status == "passed"
    out = await h.send("/mute @成员u9 2h", sender="boss", mentions=["u9"])
    assert [(a["action"], a["member_id"], a["seconds"]) for a in out.actions] == [("mute", "u9", 7200)]
    assert "已禁言" in out.replies[0].text
    out = await h.send("/unmute", sender="boss", mentions=["u9"])
    assert [(a["action"], a["member_id"]) for a in out.actions] == [("unmute", "u9")]
    out = await h.send("/warn", sender="boss", mentions=["u9"])
    assert h.store.moderation.active_strikes("sim", "g1", "u9", h.clock.now()) == 2
    out = await h.send("/kick", sender="boss", mentions=["u9"])
    assert [(a["action"], a["member_id"]) for a in out.actions] == [("kick", "u9")]
    h.store.close()


async def test_member_without_permission_cannot_use_moderator_commands(h):
    out = await h.send("/mute 1d", sender="u2", mentions=["u3"])
    assert out.status == "denied" and out.actions == []
    assert "只有本群管理员" in out.replies[0].text


async def test_moderator_registered_in_database_can_kick(h):
    h.store.chats.ensure_chats([("sim", "g1", "group", "测试群")])
    h.store.chats.upsert_member("sim", "g1", "mod", "版主", moderator=True)
    h.stage.engine.reload()
    out = await h.send("/kick", sender="mod", mentions=["u5"])
    assert [(a["action"], a["member_id"]) for a in out.actions] == [("kick", "u5")]


async def test_mute_command_on_platform_without_mute_explains(tmp_path):
    h = Harness(tmp_path, caps=frozenset({"send"}), groups=[GroupConfig(id="g1", moderators=["boss"])])
    out = await h.send("/mute 1d", sender="boss", mentions=["u9"])
    assert out.actions == [] and "不支持禁言" in out.replies[0].text
    h.store.close()


async def test_hot_reload_picks_up_new_word_without_restart(h):
    assert (await h.send("新违禁词出现")).status == "passed"
    h.store.lexicon.add_words([{"word": "新违禁词", "category": "其他", "action": "review"}])
    h.stage.engine.reload()
    assert (await h.send("新违禁词出现")).status == "held"


async def test_private_messages_are_not_moderated(h):
    out = await h.send("傻逼", kind=ChatKind.PRIVATE)
    assert out.status == "passed"


async def test_words_imported_by_another_process_are_picked_up_within_seconds(h):
    assert (await h.send("外部导入词")).status == "passed"
    h.store.lexicon.add_words([{"word": "外部导入词", "category": "其他", "action": "review"}])
    h.store.lexicon.bump_version()
    h.clock.advance(6)
    await h.send("你好")  # notices the change and reloads in the background
    await h.stage._reloading
    assert (await h.send("外部导入词")).status == "held"


async def test_moderators_are_told_privately_about_held_messages(tmp_path):
    h = Harness(tmp_path, groups=[GroupConfig(id="g1", moderators=["boss"])])
    sent = []

    async def submit(items):
        sent.extend(items)
        return items

    h.services.submit = submit
    await h.send("试试竞品牌吧")
    assert [(i.chat_id, i.chat_kind) for i in sent] == [("boss", "private")]
    assert "竞品牌" in sent[0].payload["text"]
    h.store.close()


async def test_command_target_by_at_name_without_platform_mentions(tmp_path):
    h = Harness(tmp_path, groups=[GroupConfig(id="g1", moderators=["boss"])])
    h.store.chats.ensure_chats([("sim", "g1", "group", "测试群")])
    h.store.chats.upsert_member("sim", "g1", "u7", "小红")
    out = await h.send("/warn @小红", sender="boss")
    assert "@小红" in out.replies[0].text
    assert h.store.moderation.active_strikes("sim", "g1", "u7", h.clock.now()) == 1
    out = await h.send("/warn", sender="boss")
    assert "请 @ 要处理的成员" in out.replies[0].text
    h.store.close()


@pytest.mark.parametrize("same_message", [False, True])
def test_flags_written_together_keep_each_strike_on_its_own_flag(tmp_path, same_message):
    store = Store(tmp_path / "flags.db")
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    flags = []
    for i in range(4):
        flag = {"message_uid": "sim:dup" if same_message else f"sim:m{i}", "platform": "sim", "chat_id": "g1",
                "chat_name": "测试群", "member_id": f"u{i}", "member_name": f"成员{i}", "text": f"广告{i}",
                "time": at, "rule": "word", "category": "广告", "word": "代开发票", "action": "strike",
                "status": "applied"}
        strike = {"time": at, "expires_at": at.replace(day=30), "step": "warn", "reason": f"第{i}次"}
        flags.append((flag, strike if i % 2 == 0 else None))
    store.moderation.add_flags(flags)
    rows = store.moderation.query("SELECT s.reason, f.member_id FROM moderation_strikes s"
                                  " JOIN moderation_flags f ON f.id = s.flag_id ORDER BY s.id")
    assert [(r["reason"], r["member_id"]) for r in rows] == [("第0次", "u0"), ("第2次", "u2")]
    assert len(store.moderation.list_flags(status=None)) == 4
    store.close()
