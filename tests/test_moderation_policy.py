"""Per-group / per-tag policies in the stage, with a fake clock: category overrides and the
ladder of a lenient group, probation that ends after N hours, recall instead of review."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.kernel.clock import FakeClock
from bot.kernel.events import ChatKind, Event, EventType
from bot.kernel.pipeline import Context, Pipeline
from bot.services import Services
from bot.store import Store
from moderation.config import ModerationSettings, RuleSettings
from moderation.policy import PolicySettings
from moderation.stage import ModerationStage

ALL = frozenset({"send", "recall", "mute", "kick"})


class Harness:
    def __init__(self, tmp_path, *policies: PolicySettings, caps=ALL) -> None:
        self.clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
        moderation = ModerationSettings(rules=RuleSettings(rate=False, flood=False), policies=list(policies))
        self.store = Store(tmp_path / "q.db")
        self.store.lexicon.add_words([{"word": "傻逼", "category": "辱骂", "action": "strike"},
                                      {"word": "代开发票", "category": "广告", "action": "kick"}])
        self.stage = ModerationStage(Services(settings=Settings(moderation=moderation), store=self.store,
                                              clock=self.clock, capabilities=lambda platform: caps))
        self.pipeline = Pipeline()
        self.pipeline.register("moderation", self.stage)
        self.n = 0

    async def send(self, text: str, sender: str = "u1", *, chat: str = "g1", tags: tuple[str, ...] = (),
                   attachments: tuple[str, ...] = (), type: EventType = EventType.MESSAGE):
        self.n += 1
        e = Event("sim", chat, ChatKind.GROUP, sender, f"成员{sender}", f"m{self.n}", self.clock.now(), text,
                  attachments=list(attachments), type=type)
        return await self.pipeline.run(e, Context(now=self.clock.now(), chat_name=f"{chat}群", chat_tags=list(tags)))


@pytest.fixture
def after_sales(tmp_path):
    policy = PolicySettings(name="售后群", tags=["售后"], categories={"广告": "review", "辱骂": "strike"},
                            ladder=["warn", "warn", "mute:1h"])
    h = Harness(tmp_path, policy)
    yield h
    h.store.close()


async def test_tagged_group_policy_overrides_category_action_and_ladder(after_sales):
    h = after_sales
    held = await h.send("代开发票", tags=("售后",))  # kick elsewhere, review here
    assert held.status == "held" and "按“售后群”策略" in held.decisions[-1].reason
    elsewhere = await h.send("代开发票", sender="u2")
    assert [a["action"] for a in elsewhere.actions] == ["recall", "kick"]
    steps = []
    for _ in range(3):
        out = await h.send("傻逼", sender="u3", tags=("售后",))
        steps.append([a["action"] for a in out.actions])
    assert steps == [["recall"], ["recall"], ["recall", "mute"]]  # warn, warn, then a 1-hour mute
    assert out.actions[-1]["seconds"] == 3600 and "禁言 1 小时" in out.decisions[-1].reason


async def test_probation_holds_images_until_the_window_ends(tmp_path):
    h = Harness(tmp_path, PolicySettings(groups=["g1"], probation=6 * 3600))
    await h.send("", sender="new", type=EventType.MEMBER_JOIN)
    held = await h.send("看图", sender="new", attachments=("image",))
    assert held.status == "held" and "新成员观察期（入群 6 小时 内）不能发图片" in held.decisions[-1].reason
    h.clock.advance(6 * 3600 + 1)
    assert (await h.send("看图", sender="new", attachments=("image",))).status == "passed"
    h.store.close()


async def test_probation_recall_recalls_a_new_members_link(tmp_path):
    h = Harness(tmp_path, PolicySettings(groups=["g1"], probation=3600, probation_action="recall"))
    await h.send("", sender="new", type=EventType.MEMBER_JOIN)
    out = await h.send("看这里 https://spam.example/x", sender="new")
    assert out.status == "blocked" and [a["action"] for a in out.actions] == ["recall"]
    assert "已撤回" in out.decisions[-1].reason
    h.store.close()


def test_a_policy_without_groups_or_tags_is_a_config_error(tmp_path):
    from bot.config import settings_from_dict
    from bot.settings_loader import ConfigError

    with pytest.raises(ConfigError) as err:
        settings_from_dict({"moderation": {"policies": [{"name": "x", "curfew": ["7:00-8:00"]}]}}, tmp_path / "c.toml")
    assert "groups" in str(err.value)
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"moderation": {"policies": [{"tags": ["a"], "curfew": ["25:00-08:00"]}]}},
                           tmp_path / "c.toml")
    assert "curfew[0]" in str(err.value) and "HH:MM-HH:MM" in str(err.value)


async def test_blacklisted_member_on_a_platform_without_kick_is_explained_not_faked(tmp_path):
    h = Harness(tmp_path, caps=frozenset({"send"}))  # like WeCom / 公众号
    h.store.guard.blacklist_add("sim:bad", "诈骗", "admin")
    h.stage.gate.blacklist.load()
    joined = await h.send("", sender="bad", type=EventType.MEMBER_JOIN)
    assert joined.actions == [] and "平台不支持移出群聊，请在客户端手动移出" in joined.decisions[-1].reason
    spoke = await h.send("加我", sender="bad")
    assert spoke.status == "held" and spoke.actions == []
    assert "黑名单成员发言（诈骗）" in spoke.decisions[-1].reason
    h.store.close()


async def test_blacklisted_member_joining_is_removed_where_the_platform_can(tmp_path):
    h = Harness(tmp_path)
    h.store.guard.blacklist_add("sim:bad", "诈骗", "admin")
    h.stage.gate.blacklist.load()
    joined = await h.send("", sender="bad", type=EventType.MEMBER_JOIN)
    assert [a["action"] for a in joined.actions] == ["kick"]
    spoke = await h.send("加我", sender="bad")
    assert [a["action"] for a in spoke.actions] == ["recall", "kick"] and spoke.status == "blocked"
    h.store.close()
