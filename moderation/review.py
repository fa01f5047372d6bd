"""The review queue: what moderators decide about held messages.

approve = the message was fine: it becomes a "not spam" sample and, if it is recent
(`answer_approved_within`), goes on through the stages after moderation, so the member
gets the keyword or FAQ answer the hold kept back;
confirm = apply the action the word or rule asked for, through the bot's adapter (recall,
mute/kick per the strike ladder, warning in the group) and keep it as a "spam" sample.
Both close the flag once, so two moderators clicking at the same time cannot act twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.store.base import parse_iso
from bot.store.outbound import OutboundItem
from moderation.actions import Plan, notice_text, plan

if TYPE_CHECKING:
    from bot.kernel.pipeline import Outcome
    from moderation.stage import ModerationStage

ERR_GONE = "该条目已被处理或不存在"
# what a moderator may pick instead of the ladder's next step
CHOICES = {"warn": "warn", "mute": "mute", "kick": "kick", "recall": "recall"}


class ReviewPort(Protocol):
    """What a moderator's decision needs of the running bot (bot.runtime.Bot provides it)."""

    async def perform(self, platform: str, action: dict[str, Any]) -> bool:
        """Do a platform action (recall, mute, kick); True once the platform confirmed it."""
        ...

    async def resume(self, uid: str, after: str) -> Outcome | None:
        """Run a recorded message through the stages after `after`; None when it is unknown."""
        ...

    def offline(self, platform: str) -> bool:
        """True when the platform's adapter exists and has no connection now."""
        ...


@dataclass
class ReviewResult:
    ok: bool
    message: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    performed: list[bool] = field(default_factory=list)
    step: str = ""


class ReviewQueue:
    """Approve / confirm flagged messages; used by the console and tests."""

    def __init__(self, stage: ModerationStage) -> None:
        self.stage = stage
        self.store = stage.services.store

    async def approve(self, flag_id: int, actor: str, note: str = "", bot: ReviewPort | None = None) -> ReviewResult:
        flag = await self.store.run(self.store.moderation.get_flag, flag_id)
        now = self.stage.services.clock.now()
        if flag is None or not await self.store.run(self.store.moderation.decide_flag, flag_id, "approved",
                                                    actor, now, note):
            return ReviewResult(False, ERR_GONE)
        await self._sample(flag, False)
        window = float(self.stage.settings.answer_approved_within)
        if bot is None or not window:
            return ReviewResult(True, "已放行")
        if (now - parse_iso(flag["time"])).total_seconds() > window:
            # an answer to a question asked long ago would only confuse the group
            return ReviewResult(True, "已放行（消息已过时，不再补答）")
        outcome = await bot.resume(flag["message_uid"], after="moderation")
        if outcome is not None and outcome.replies:
            return ReviewResult(True, f"已放行，并已补发回答（{len(outcome.replies)} 条）")
        return ReviewResult(True, "已放行")

    async def ladder_preview(self, flag: dict[str, Any]) -> tuple[str, int]:
        """What confirming with the ladder would do to this member now, and their active strikes."""
        active = await self.store.run(self.stage.strikes.active, flag["platform"], flag["chat_id"], flag["member_id"])
        p = self._plan(flag, "ladder", active, None)
        return p.summary(), active

    def _plan(self, flag: dict[str, Any], choice: str, active: int, mute_seconds: float | None) -> Plan:
        """The moderator's choice as a plan: the ladder's next step, or warn / mute N / kick / only recall."""
        requested = flag["action"] if choice == "ladder" else CHOICES[choice]
        if requested in ("allow", "review"):
            # a held message confirmed as a violation: recall it and put the member on the ladder
            requested = "strike"
        p = plan(requested, self.stage.settings, self.stage.services.capabilities(flag["platform"]),
                 chat_id=flag["chat_id"], member_id=flag["member_id"],
                 message_id=flag["message_uid"].split(":", 1)[-1], active_strikes=active,
                 message_uid=flag["message_uid"], member_name=flag["member_name"])
        if choice in ("warn", "mute", "kick"):
            p.strike = True  # a punishment the moderator chose still counts on the member's ladder
        if choice == "mute" and mute_seconds and p.step == "mute":
            p.seconds = mute_seconds
            for action in p.actions:
                if action["action"] == "mute":
                    action["seconds"] = int(mute_seconds)
        return p

    async def confirm(self, flag_id: int, actor: str, bot: ReviewPort | None, note: str = "", *,
                      choice: str = "ladder", mute_seconds: float | None = None) -> ReviewResult:
        """Close the flag as a violation and act: `choice` is "ladder" (what the word or rule and the
        strike ladder ask for), "warn", "mute" (for `mute_seconds`), "kick" or "recall" (only delete)."""
        if choice not in ("ladder", *CHOICES):
            return ReviewResult(False, "未知的处理方式")
        store = self.store
        flag = await store.run(store.moderation.get_flag, flag_id)
        now = self.stage.services.clock.now()
        if flag is None or not await store.run(store.moderation.decide_flag, flag_id, "confirmed", actor, now, note):
            return ReviewResult(False, ERR_GONE)
        strikes = self.stage.strikes
        active = await store.run(strikes.active, flag["platform"], flag["chat_id"], flag["member_id"])
        p = self._plan(flag, choice, active, mute_seconds)
        reason = f"审核员 {actor} 确认违规：{flag['category']}（{flag['word'] or flag['rule']}），处理：{p.summary()}"
        if p.strike:
            step = f"mute:{int(p.seconds)}s" if p.step == "mute" else p.step
            await store.run(strikes.record, flag["platform"], flag["chat_id"], flag["member_id"], step, reason,
                            flag_id=flag_id, source="review", actor=actor)
        performed = []
        if bot is not None:
            for action in p.actions:
                performed.append(await bot.perform(flag["platform"], action))
        submit = self.stage.services.submit
        if p.warn and submit is not None:
            text = notice_text(self.stage.settings, flag["category"], name=flag["member_name"] or flag["member_id"],
                               reason=flag["category"], action=p.summary())
            await submit([OutboundItem(source=f"moderation:{flag_id}", occurrence="warn",
                                       platform=flag["platform"], chat_id=flag["chat_id"],
                                       payload={"text": text, "kind": "text"})])
        await self._sample(flag, True)
        msg = f"已确认违规，{p.summary()}"
        if p.degraded:
            msg += "（" + "；".join(d["reason"] for d in p.degraded) + "）"
        if performed and not all(performed):
            if bot is not None and bot.offline(flag["platform"]):
                # the actions wait in the outbox for the connection; their outcome goes to the audit log
                msg += "；平台当前未连接，平台操作将在连接恢复后执行，结果见审计日志"
            else:
                msg += "；部分平台操作未成功，请在客户端核实"
        return ReviewResult(True, msg, p.actions, performed, p.step)

    async def _sample(self, flag: dict[str, Any], spam: bool) -> None:
        if flag["text"]:
            await self.store.run(self.store.lexicon.add_samples, [(flag["text"], spam)], "review")
