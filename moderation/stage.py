"""The moderation pipeline stage: inspect, then block, hold for review, or let pass.

A clean message costs one `Moderator.inspect` call and no I/O. A hit becomes a stopping
Decision carrying the platform actions (recall, mute, kick) for the runtime to perform, the
warning to post in the group, a flag in the review queue and, on the ladder, a strike.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.kernel.events import Decision, Event, EventType, Reply, pass_
from bot.kernel.pipeline import Context
from bot.store.outbound import OutboundItem
from moderation.actions import ACTION_LABELS, Plan, notice_text, plan
from moderation.config import ACTION_RANK
from moderation.engine import Hit, Moderator, Verdict
from moderation.gate import MemberGate, join_window
from moderation.policy import PolicySettings, adjust_hits, effective_settings
from moderation.rules import RULE_LABELS
from moderation.strikes import StrikeBook

if TYPE_CHECKING:
    from bot.kernel.commands import CommandStage
    from bot.services import Services

log = logging.getLogger("qunbot.moderation")
RELOAD_CHECK_SECONDS = 5.0


class ModerationStage:
    """Pipeline stage; its engine is `.engine` (reload() after edits). Registers the moderators'
    chat commands (/mute, /warn …) with `commands` when given."""

    def __init__(self, services: Services, commands: CommandStage | None = None) -> None:
        self.services = services
        self.settings = services.settings.moderation
        self.engine = Moderator(self.settings, services.store)
        self.strikes = StrikeBook(self.settings, services.store, services.clock)
        self.joins: dict[tuple[str, str, str], datetime] = {}
        self.gate = MemberGate(services)
        self._join_window = join_window(self.gate, float(self.settings.rules.new_member_window))
        self._policy_settings: dict[int, Any] = {}
        self.config_moderators = {
            (g.platform, g.id, m) for g in services.settings.groups for m in g.moderators
        }
        self.moderators: set[tuple[str, str, str]] = set(self.config_moderators)
        try:
            self.engine.reload()
            self.refresh_moderators()
            self.strikes.preload()
            self.gate.preload()
            since = services.clock.now() - self._join_window
            self.joins.update(services.store.moderation.recent_joins(since))
            self.engine.on_reload = self.refresh_moderators
        except Exception:
            log.exception("moderation lexicon could not be loaded; matching with an empty lexicon")
        self._next_check = 0.0
        self._reloading: asyncio.Future[dict[str, int]] | None = None
        if commands is not None:
            from moderation.commands import register_commands

            register_commands(commands, self)

    def refresh_moderators(self) -> None:
        self.moderators = set(self.config_moderators) | set(self.services.store.moderation.moderators())

    def is_moderator(self, platform: str, chat_id: str, member_id: str) -> bool:
        return (platform, chat_id, member_id) in self.moderators

    async def __call__(self, event: Event, ctx: Context) -> Decision:
        if not self.settings.enabled:
            return pass_("moderation", "审核已关闭")
        mono = self.services.clock.monotonic()
        if mono >= self._next_check:
            self._next_check = mono + RELOAD_CHECK_SECONDS
            await self._reload_if_changed()
        if event.type is EventType.JOIN_REQUEST:
            return await self.gate.on_join_request(event, ctx)
        if event.type is not EventType.MESSAGE:
            if event.type is EventType.MEMBER_JOIN and not ctx.dry_run:
                self._remember_join(event, ctx)
                return self.gate.on_join(event, ctx)
            return pass_("moderation")
        confirmed = self.gate.confirmation(event) if self.gate.awaiting and not ctx.dry_run else None
        if not event.is_group:
            return confirmed or pass_("moderation", "私聊消息不审核")
        if self.settings.exempt_moderators and (event.platform, event.chat_id, event.sender_id) in self.moderators:
            return pass_("moderation", "群管理员发言不审核")
        if confirmed is not None:
            return confirmed
        if self.gate.blacklist.refs:
            listed = self.gate.blacklisted_message(event)
            if listed is not None:
                return listed
        verdict = self.engine.inspect(event, self.services.clock.monotonic(), record=not ctx.dry_run,
                                      traffic=not ctx.recovered)
        ctx.notes["normalized"] = verdict.norm.compact
        policy = self.gate.policy(event, ctx)
        if policy is not None and float(policy.probation):
            joined = self.joins.get((event.platform, event.chat_id, event.sender_id))
            held = self.gate.probation(event, ctx, policy, joined, any(h.rule == "link" for h in verdict.hits))
            if held is not None:
                if not ctx.dry_run:
                    self._record_probation(event, ctx, held)
                return held
        if not verdict.hits:
            return pass_("moderation")
        if any(h.rule == "link" for h in verdict.hits) and self._is_new_member(event, ctx):
            link = next(h for h in verdict.hits if h.rule == "link")
            verdict.hits.append(Hit("new_member_link", RULE_LABELS["new_member_link"],
                                    self.settings.rules.new_member_link_action, link.start, link.end, link.word))
        return await self.decide(event, ctx, verdict, policy)

    async def background(self, interval: float = RELOAD_CHECK_SECONDS) -> None:
        """The running bot's loop: blacklist changes made by the CLI, curfew edges."""
        from moderation.curfew import CurfewClock

        curfew = CurfewClock(self.services, self.gate.policies)
        while True:
            try:
                if await self.gate.blacklist.reload_if_changed():
                    await self.gate.blacklist.apply_cli_unmutes()
                await curfew.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("moderation background check failed")
            await asyncio.sleep(interval)

    def _record_probation(self, event: Event, ctx: Context, decision: Decision) -> None:
        flag = {
            "message_uid": event.uid, "platform": event.platform, "chat_id": event.chat_id,
            "chat_name": ctx.chat_name or event.chat_name, "member_id": event.sender_id,
            "member_name": event.sender_name, "text": event.text, "time": event.time,
            "rule": "probation", "category": "新成员观察期", "word": "、".join(decision.detail.get("probation", [])),
            "action": "review" if decision.detail.get("review") else "recall",
            "status": "pending" if decision.detail.get("review") else "applied", "hits": [],
            "detail": {"step": "review" if decision.detail.get("review") else "recall", "reason": decision.reason},
        }
        self.services.write_row_later(self.services.store.moderation.add_flags, (flag, None))

    def settings_for(self, policy: PolicySettings | None) -> Any:
        """The settings plan() uses under a policy (its ladder), built once per policy."""
        if policy is None or not policy.ladder:
            return self.settings
        key = id(policy)
        if key not in self._policy_settings:
            self._policy_settings[key] = effective_settings(self.settings, policy)
        return self._policy_settings[key]

    async def _reload_if_changed(self) -> None:
        """Pick up word-list changes made by another process (CLI import) without a restart."""
        store = self.services.store
        if self._reloading is not None and not self._reloading.done():
            return
        if await store.run(store.lexicon.version) != self.engine.version:
            loop = asyncio.get_running_loop()
            self._reloading = asyncio.ensure_future(loop.run_in_executor(None, self.engine.reload))

    def _remember_join(self, event: Event, ctx: Context) -> None:
        self.joins[(event.platform, event.chat_id, event.sender_id)] = ctx.now
        if len(self.joins) % 1000 == 0:  # forget joins older than the window (bounded memory)
            window = self._join_window.total_seconds()
            self.joins = {k: t for k, t in self.joins.items() if (ctx.now - t).total_seconds() <= window}

    def _is_new_member(self, event: Event, ctx: Context) -> bool:
        """Joined within `new_member_window` (joins loaded at start-up, then seen as events)."""
        joined = self.joins.get((event.platform, event.chat_id, event.sender_id))
        return joined is not None and (ctx.now - joined).total_seconds() <= float(self.settings.rules.new_member_window)

    async def decide(self, event: Event, ctx: Context, verdict: Verdict,
                     policy: PolicySettings | None = None) -> Decision:
        adjusted = adjust_hits(verdict.hits, policy)
        top = verdict.top
        assert top is not None
        requested = verdict.action
        settings = self.settings_for(policy)
        active = 0
        if requested == "strike":
            active = await self.strikes.active_cached(event.platform, event.chat_id, event.sender_id)
        p = plan(requested, settings, self.services.capabilities(event.platform),
                 chat_id=event.chat_id, member_id=event.sender_id,
                 message_id=event.message_id if event.is_group else None, active_strikes=active,
                 message_uid=event.uid, member_name=event.sender_name)
        reason = f"{describe(top, event.text)}，处理：{p.summary()}"
        if policy is not None and (adjusted or policy.ladder):
            reason += f"（按“{policy.label}”策略）"
        for action in p.actions:
            action.setdefault("reason", reason)
        detail: dict[str, Any] = {
            "hits": [h.as_dict() for h in verdict.hits], "requested": requested, "step": p.step,
            "normalized": verdict.norm.folded[:200],
        }
        if p.seconds:
            detail["seconds"] = int(p.seconds)
        if p.degraded:
            detail["degraded"] = p.degraded
            reason += (
                "（" + "；".join(f"{d['reason']}，{_label(d['from'])}改为{_label(d['to'])}" for d in p.degraded) + "）"
            )
        if p.strike:
            detail["strike"] = active + 1
        if policy is not None:
            detail["policy"] = policy.label
        if p.step == "allow":
            return Decision(stage="moderation", outcome="flagged", reason=reason, detail=detail)
        if not ctx.dry_run:
            self._record(event, ctx, verdict, p, reason)
            if self.settings.notify_moderators and (p.review or p.step == "kick"):
                await self._notify(event, ctx, reason)
        replies = []
        if p.warn:
            replies.append(Reply(text=notice_text(settings, top.category, name=event.sender_name or event.sender_id,
                                                  reason=_short_reason(top), action=p.summary())))
        return Decision(stage="moderation", outcome=p.outcome, reason=reason, detail=detail, stop=True,
                        replies=replies, actions=p.actions)

    async def _notify(self, event: Event, ctx: Context, reason: str) -> None:
        """Tell the group's moderators privately (through the outbox) what was held or removed."""
        submit = self.services.submit
        mods = sorted(m for p, c, m in self.moderators if p == event.platform and c == event.chat_id)
        if submit is None or not mods:
            return
        group = ctx.chat_name or event.chat_name or event.chat_id
        text = f"【审核提醒】群“{group}”成员 {event.sender_name or event.sender_id}：{event.text[:120]}\n{reason}"
        items = [OutboundItem(source=f"moderation:{event.uid}", occurrence="notify", platform=event.platform,
                              chat_id=m, chat_kind="private", payload={"text": text, "kind": "text"})
                 for m in mods]
        if self.services.submit_nowait is not None:
            self.services.submit_nowait(items)  # the ledger insert is batched, not awaited
            return
        try:
            await submit(items)
        except Exception:
            log.exception("could not notify moderators of %s", event.uid)

    def _record(self, event: Event, ctx: Context, verdict: Verdict, p: Plan, reason: str) -> None:
        """Queue the flag (and strike) for the recorder's next batch; count the strike now."""
        top = verdict.top
        assert top is not None
        flag = {
            "message_uid": event.uid, "platform": event.platform, "chat_id": event.chat_id,
            "chat_name": ctx.chat_name or event.chat_name, "member_id": event.sender_id,
            "member_name": event.sender_name, "text": event.text, "time": event.time,
            "rule": top.rule, "category": top.category, "word": top.word, "action": verdict.action,
            "status": "pending" if p.review else "applied",
            "hits": [h.as_dict() for h in verdict.hits],
            "detail": {"step": p.step, "seconds": p.seconds, "degraded": p.degraded, "reason": reason},
        }
        strike: dict[str, Any] | None = None
        if p.strike:
            strike = {"time": self.services.clock.now(), "expires_at": self.strikes.expires_at(),
                      "step": _step_name(p), "reason": reason}
            self.strikes.note(event.platform, event.chat_id, event.sender_id, strike["expires_at"])
        self.services.write_row_later(self.services.store.moderation.add_flags, (flag, strike))


def describe(hit: Hit, text: str) -> str:
    """zh-CN reason shown to managers: what matched, as the member wrote it."""
    written = text[hit.start:hit.end] if hit.end > hit.start else ""
    if hit.rule in _WORD_RULES:
        # the evasion seen through, in zh-CN: 谐音, 拼音, 拆字, 形近字, 表情替字
        how = hit.technique or ("谐音" if hit.rule == "pinyin" else "")
        shown = f"“{written}”" if written and written != hit.word else ""
        return f"命中{how}敏感词“{hit.word}”{shown}（{hit.category}）"
    if hit.rule == "spam_score":
        return f"疑似垃圾消息（得分 {hit.score:.2f}）"
    what = f"“{written}”" if written else (f"（{hit.word}）" if hit.word else "")
    how = f"（{hit.technique}）" if hit.technique else ""
    return f"{hit.category}{what}{how}"


_WORD_RULES = ("word", "pinyin", "latin")


def _short_reason(hit: Hit) -> str:
    return f"包含{hit.category}内容" if hit.rule in _WORD_RULES else hit.category


def _label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def _step_name(p: Plan) -> str:
    return f"mute:{int(p.seconds)}s" if p.step == "mute" else p.step


__all__ = ["ACTION_RANK", "ModerationStage", "describe"]
