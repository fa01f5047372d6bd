"""From the action a word or rule asks for to the platform actions the adapter can really do.

`plan()` is pure: given the requested action, the member's active strikes and the adapter's
capabilities, it says what to do (recall, mute, kick, warn in the group, hold for review) and
records every degradation ("this adapter cannot remove members: muted for 15 days instead").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.kernel.actions import KICK, MUTE, RECALL, SEND
from bot.kernel.durations import parse_duration
from moderation.config import ModerationSettings, parse_step

ACTION_LABELS = {
    "allow": "放行并记录", "review": "转人工审核", "recall": "撤回", "warn": "警告", "strike": "按违规阶梯处理",
    "mute": "禁言", "kick": "移出群聊",
}
_NEEDS = {"recall": RECALL, "mute": MUTE, "kick": KICK, "warn": SEND}
_CANNOT = {RECALL: "平台不支持撤回消息", MUTE: "平台不支持禁言", KICK: "平台不支持移出群聊", SEND: "平台不支持发消息"}


@dataclass(slots=True)
class Plan:
    """What the stage will return: platform actions, whether to warn, queue, strike."""

    requested: str
    step: str = "allow"  # the effective punishment: allow, review, recall, warn, mute, kick
    seconds: float = 0.0
    actions: list[dict[str, Any]] = field(default_factory=list)
    warn: bool = False
    review: bool = False
    strike: bool = False
    degraded: list[dict[str, str]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.step == "allow":
            return "flagged"
        if self.review and not self.actions:
            return "held"
        return "blocked"

    def summary(self) -> str:
        if self.step == "mute":
            text = f"禁言 {human_duration(self.seconds)}"
        else:
            text = ACTION_LABELS.get(self.step, self.step)
        if self.step not in ("allow", "review", "recall") and any(a["action"] == "recall" for a in self.actions):
            text = "撤回并" + text
        if self.review and self.step != "review":
            text += "，并转人工审核"
        return text


def human_duration(seconds: float) -> str:
    """zh-CN days / hours / minutes (1 天 12 小时, 30 分钟): never seconds, which nobody reads."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} 天"] if days else []
    if hours:
        parts.append(f"{hours} 小时")
    if minutes and not days:
        parts.append(f"{minutes} 分钟")
    return " ".join(parts) or ("不到 1 分钟" if total else "0 分钟")


def notice_text(settings: ModerationSettings, category: str, *, name: str, reason: str, action: str) -> str:
    """The warning the group reads: the category's own sentence, or warn_text."""
    template = settings.notices.get(category) or settings.warn_text
    return template.format(name=name, reason=reason, action=action)


def action_text(action: str) -> str:
    """A stored action ("mute:86400s", "mute:1d", "kick", "strike") as a moderator reads it."""
    name, _, duration = action.partition(":")
    if name == "mute" and duration:
        try:
            return f"禁言 {human_duration(parse_duration(duration))}"
        except ValueError:
            return "禁言"
    return ACTION_LABELS.get(name, name)


def ladder_step(settings: ModerationSettings, active_strikes: int) -> tuple[str, float]:
    """The ladder step for a member who already has `active_strikes` unexpired strikes."""
    steps = settings.ladder
    return parse_step(steps[min(active_strikes, len(steps) - 1)])


def plan(
    requested: str, settings: ModerationSettings, capabilities: frozenset[str], *,
    chat_id: str, member_id: str, message_id: str | None, active_strikes: int = 0,
    message_uid: str | None = None, member_name: str = "",
) -> Plan:
    """Turn a requested action into platform actions the adapter supports."""
    p = Plan(requested)
    if requested == "allow":
        return p
    if requested == "review":
        p.step, p.review = "review", True
        return p
    if requested == "strike":
        p.strike = True
        p.step, p.seconds = ladder_step(settings, active_strikes)
    elif requested == "mute":
        p.step, p.seconds = "mute", float(settings.mute_duration)
    else:
        p.step = requested  # recall, warn, kick
    # the punishment, degraded to the strongest one the adapter can do
    chain = ["kick", "mute", "warn"]
    if p.step in chain:
        for candidate in chain[chain.index(p.step):]:
            if _NEEDS[candidate] in capabilities:
                if candidate != p.step:
                    p.degraded.append({"from": p.step, "to": candidate, "reason": _CANNOT[_NEEDS[p.step]]})
                    if candidate == "mute" and p.step == "kick":
                        p.seconds = _longest_mute(settings)
                    p.step = candidate
                break
            if candidate == chain[-1]:
                p.degraded.append({"from": p.step, "to": "review", "reason": _CANNOT[_NEEDS[candidate]]})
                p.step, p.review = "review", True
    # removing the message itself
    if message_id:
        if RECALL in capabilities:
            p.actions.append({"action": "recall", "chat_id": chat_id, "message_id": message_id,
                              "member_id": member_id, "message_uid": message_uid, "member_name": member_name})
        else:
            p.degraded.append({"from": "recall", "to": "review", "reason": _CANNOT[RECALL]})
            p.review = True
    if p.step == "mute":
        # message_uid: the action's outbox row and audit entry name the message that caused it
        p.actions.append({"action": "mute", "chat_id": chat_id, "member_id": member_id, "seconds": int(p.seconds),
                          "member_name": member_name, "message_uid": message_uid})
        p.warn = SEND in capabilities
    elif p.step == "kick":
        p.actions.append({"action": "kick", "chat_id": chat_id, "member_id": member_id, "member_name": member_name,
                          "message_uid": message_uid})
        p.warn = SEND in capabilities
    elif p.step == "warn":
        p.warn = True
    if p.step == "recall" and not p.actions:
        p.step = "review"
    return p


def _longest_mute(settings: ModerationSettings) -> float:
    mutes = [parse_step(s)[1] for s in settings.ladder if s.startswith("mute")]
    return max(mutes, default=float(settings.mute_duration))
