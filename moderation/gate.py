"""Member rules the moderation stage applies before and around word matching: the blacklist
(a join or a message from a listed member removes them), join requests, new-member probation,
mute on entry until a confirmation phrase. Each returns the stage's Decision, with a zh-CN
reason saying what was done and, where the platform cannot do it, why not."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.kernel.actions import JOIN_ANSWER, KICK, MUTE, RECALL
from bot.kernel.events import Decision, Event, EventType, pass_
from moderation.actions import human_duration
from moderation.guard import NO_KICK, Blacklist, join_answer
from moderation.joins import judge
from moderation.policy import PolicySettings, policy_for

if TYPE_CHECKING:
    from bot.kernel.pipeline import Context
    from bot.services import Services

log = logging.getLogger("qunbot.moderation")
# the mutes table's reason for an entry mute: how a restart finds who still owes the phrase
ENTRY_MUTE_REASON = "入群禁言，待发送确认口令"
KIND_LABELS = {"link": "链接", "image": "图片", "card": "名片", "qrcode": "二维码", "miniprogram": "小程序"}


class MemberGate:
    """Blacklist, join requests, probation and entry mutes for one bot."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings.moderation
        self.policies: list[PolicySettings] = list(self.settings.policies)
        self.blacklist = Blacklist(services)
        # (platform, member) -> {chat_id: phrase}: muted on entry, waiting for the phrase
        self.awaiting: dict[tuple[str, str], dict[str, str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def preload(self) -> None:
        """Start-up: the blacklist (enforced again on the first check) and open entry mutes."""
        self.blacklist.load()
        self.blacklist.version = -1
        for m in self.services.store.guard.active_mutes(self.services.clock.now()):
            if m["reason"] == ENTRY_MUTE_REASON:
                phrase = self._phrase(m["chat_id"])
                if phrase:
                    self.awaiting.setdefault((m["platform"], m["member_id"]), {})[m["chat_id"]] = phrase

    def _phrase(self, chat_id: str) -> str:
        for p in self.policies:
            if chat_id in p.groups and p.confirm_phrase:
                return p.confirm_phrase
        return next((p.confirm_phrase for p in self.policies if p.confirm_phrase and p.tags), "")

    @property
    def longest_probation(self) -> float:
        return max((float(p.probation) for p in self.policies), default=0.0)

    def policy(self, event: Event, ctx: Context) -> PolicySettings | None:
        if not self.policies:
            return None
        return policy_for(self.policies, event.chat_id, ctx.chat_name or event.chat_name, ctx.chat_tags)

    def in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- joins -----------------------------------------------------------------------------

    def on_join(self, event: Event, ctx: Context) -> Decision:
        ref = f"{event.platform}:{event.sender_id}"
        caps = self.services.capabilities(event.platform)
        if ref in self.blacklist:
            return self._remove_listed(event, "入群")
        policy = self.policy(event, ctx)
        if policy is None or not float(policy.entry_mute) or not policy.confirm_phrase:
            return pass_("moderation")
        if MUTE not in caps:
            return pass_("moderation", f"按“{policy.label}”策略应入群禁言，但平台不支持禁言")
        self.awaiting.setdefault((event.platform, event.sender_id), {})[event.chat_id] = policy.confirm_phrase
        action = {"action": "mute", "chat_id": event.chat_id, "member_id": event.sender_id,
                  "seconds": int(policy.entry_mute), "member_name": event.sender_name,
                  "message_uid": event.uid, "reason": ENTRY_MUTE_REASON}
        reason = (f"按“{policy.label}”策略入群禁言 {human_duration(float(policy.entry_mute))}，"
                  f"发送“{policy.confirm_phrase}”后解除")
        return Decision(stage="moderation", outcome="flagged", reason=reason, actions=[action])

    async def on_join_request(self, event: Event, ctx: Context) -> Decision:
        ref = f"{event.platform}:{event.sender_id}"
        policy = self.policy(event, ctx)
        verdict = judge(event.text, policy, ref in self.blacklist, self.blacklist.reason(ref))
        status, reason = verdict.status, verdict.reason
        can_answer = JOIN_ANSWER in self.services.capabilities(event.platform)
        if status != "pending" and not can_answer:
            status, reason = "pending", f"{reason}；但平台不支持处理入群申请，转人工审核"
        flag = str(event.raw.get("flag") or event.message_id)
        row = {"platform": event.platform, "chat_id": event.chat_id, "member_id": event.sender_id,
               "sub_type": str(event.raw.get("sub_type") or "add"), "flag": flag, "comment": event.text,
               "time": event.time, "status": status, "reason": verdict.answer or reason,
               "decided_by": "bot" if status != "pending" else "",
               "decided_at": self.services.clock.now() if status != "pending" else None}
        if ctx.dry_run:
            return Decision(stage="moderation", outcome="flagged", reason=reason)
        store = self.services.store
        request_id = await store.run(store.guard.add_join_request, row)
        if request_id is None:
            return pass_("moderation", "重复的入群申请")
        if status == "pending":
            return Decision(stage="moderation", outcome="held", reason=reason, stop=True,
                            detail={"join_request": request_id})
        action = join_answer(row, status == "approved", verdict.answer)
        return Decision(stage="moderation", outcome="blocked" if status == "refused" else "flagged", reason=reason,
                        stop=True, actions=[action], detail={"join_request": request_id, "status": status})

    # -- messages ----------------------------------------------------------------------------

    def confirmation(self, event: Event) -> Decision | None:
        """The entry-muted member sent the phrase (in the group, or privately to the bot)."""
        waiting = self.awaiting.get((event.platform, event.sender_id))
        if not waiting:
            return None
        # privately to the bot: every group waiting for it; in a group: that group
        chats = [c for c, phrase in waiting.items()
                 if phrase in event.text and (not event.is_group or c == event.chat_id)]
        if not chats:
            return None
        for c in chats:
            waiting.pop(c, None)
        if not waiting:
            self.awaiting.pop((event.platform, event.sender_id), None)
        actions = [{"action": "unmute", "chat_id": c, "member_id": event.sender_id, "member_name": event.sender_name,
                    "message_uid": event.uid} for c in chats]
        return Decision(stage="moderation", outcome="flagged", reason="成员已发送确认口令，解除入群禁言",
                        actions=actions)

    def blacklisted_message(self, event: Event) -> Decision | None:
        if f"{event.platform}:{event.sender_id}" not in self.blacklist:
            return None
        return self._remove_listed(event, "发言")

    def _remove_listed(self, event: Event, what: str) -> Decision:
        """Remove a blacklisted member (and recall what they wrote); where the adapter cannot
        remove, say so and hold the message for a human instead of pretending."""
        ref = f"{event.platform}:{event.sender_id}"
        caps = self.services.capabilities(event.platform)
        why = self.blacklist.reason(ref)
        head = f"黑名单成员{what}{('（' + why + '）') if why else ''}"
        message = event.message_id if event.type is EventType.MESSAGE else None
        actions: list[dict[str, Any]] = []
        if message and RECALL in caps:
            actions.append({"action": "recall", "chat_id": event.chat_id, "message_id": message,
                            "member_id": event.sender_id, "message_uid": event.uid, "member_name": event.sender_name})
        if KICK in caps:
            actions.append({"action": "kick", "chat_id": event.chat_id, "member_id": event.sender_id,
                            "member_name": event.sender_name, "message_uid": event.uid, "reason": head})
            done = ("撤回并" if len(actions) == 2 else "") + "移出群聊"
            return Decision(stage="moderation", outcome="blocked", reason=f"{head}，处理：{done}", stop=True,
                            actions=actions, detail={"blacklisted": ref})
        done = "平台不支持移出群聊，请在客户端手动移出" + ("；消息已撤回" if actions else "")
        return Decision(stage="moderation", outcome="held" if message else "flagged", reason=f"{head}，{done}",
                        stop=True, actions=actions, detail={"blacklisted": ref, "degraded": [NO_KICK]})

    def probation(self, event: Event, ctx: Context, policy: PolicySettings | None, joined: datetime | None,
                  has_link: bool) -> Decision | None:
        """A new member's link, image, card, QR code or mini-program during probation: held or recalled."""
        if policy is None or not float(policy.probation) or joined is None:
            return None
        age = (ctx.now - joined).total_seconds()
        if age > float(policy.probation):
            return None
        kinds = [k for k in policy.probation_kinds if k in event.attachments or (k == "link" and has_link)]
        if not kinds:
            return None
        what = "、".join(KIND_LABELS[k] for k in kinds)
        hours = human_duration(float(policy.probation))
        recall = policy.probation_action == "recall" and RECALL in self.services.capabilities(event.platform)
        actions: list[dict[str, Any]] = []
        if recall:
            actions.append({"action": "recall", "chat_id": event.chat_id, "message_id": event.message_id,
                            "member_id": event.sender_id, "message_uid": event.uid, "member_name": event.sender_name})
            done = "已撤回"
        else:
            done = "转人工审核" + ("（平台不支持撤回）" if policy.probation_action == "recall" else "")
        reason = f"新成员观察期（入群 {hours} 内）不能发{what}，{done}"
        return Decision(stage="moderation", outcome="blocked" if recall else "held", reason=reason, stop=True,
                        actions=actions, detail={"probation": kinds, "review": not recall,
                                                 "joined_seconds_ago": int(age)})


def join_window(gate: MemberGate, new_member_window: float) -> timedelta:
    return timedelta(seconds=max(new_member_window, gate.longest_probation))


__all__ = ["ENTRY_MUTE_REASON", "MemberGate", "join_window"]
