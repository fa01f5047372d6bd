"""The brand-wide blacklist (黑名单) and its enforcement, for the running bot.

Adding a member: they are removed from every group the bot knows them in where the adapter
can remove members (elsewhere the audit says why not), their pending join requests are
refused, and a later join is removed at once. The CLI writes the same rows from another
process: the stage notices the store's guard version change within seconds and enforces
entries it has not enforced yet. Every removal is one outbox row keyed by the blacklist
entry and the group, so it happens once, across restarts and repeated enforcement.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.kernel.actions import ACTION_KIND, JOIN_ANSWER, KICK, LABELS
from bot.kernel.actions import MUTE as UNMUTE_CAP
from bot.kernel.priorities import ACTION_PRIORITY
from bot.store.outbound import OutboundItem

if TYPE_CHECKING:
    from bot.services import Services
    from bot.store import Store

log = logging.getLogger("qunbot.moderation")

ERR_REF = "成员标识应写成 平台:用户ID，例如 onebot:10001"
ERR_STAFF = "不能将工作人员（群管理员/审核员）加入黑名单：{ref}"
ERR_SELF = "不能将机器人自己加入黑名单：{ref}"
ERR_SCOPED = "成员 {ref} 来自成员 ID 仅在单个群内有效的平台，无法跨群拉黑"
NO_KICK = "平台不支持移出群聊"
# platforms whose member ids are scoped to one group: no brand-wide action can follow them
GROUP_SCOPED_PLATFORMS = frozenset({"qq"})
BLACKLIST_REFUSE_REASON = "您已被列入黑名单"


class BadRef(ValueError):
    """A member reference that is not PLATFORM:USER_ID, or one that may not be blacklisted."""


def parse_ref(ref: str) -> tuple[str, str]:
    platform, sep, user = ref.strip().partition(":")
    if not sep or not platform or not user or not platform.isidentifier():
        raise BadRef(ERR_REF)
    return platform, user


def action_row(platform: str, action: dict[str, Any], *, source: str, occurrence: str) -> OutboundItem:
    """One platform action as an outbox row (the same shape as bot.actions.action_item)."""
    kind = str(action.get("action", ""))
    who = str(action.get("member_name") or action.get("member_id") or "")
    return OutboundItem(source=source, occurrence=occurrence, platform=platform, chat_id=str(action.get("chat_id", "")),
                        payload={"kind": ACTION_KIND, "action": action,
                                 "text": f"[平台操作] {LABELS.get(kind, kind)} {who}".strip()},
                        priority=ACTION_PRIORITY)


def check_blacklistable(store: Store, ref: str, staff: set[str], self_ids: dict[str, str]) -> tuple[str, str]:
    """(platform, user id) of a ref that may be blacklisted; BadRef with the zh-CN reason otherwise."""
    platform, user = parse_ref(ref)
    if platform in GROUP_SCOPED_PLATFORMS:
        raise BadRef(ERR_SCOPED.format(ref=ref))
    if self_ids.get(platform) == user or user == "bot":
        raise BadRef(ERR_SELF.format(ref=ref))
    if ref in staff or store.guard.is_staff(platform, user):
        raise BadRef(ERR_STAFF.format(ref=ref))
    return platform, user


class Blacklist:
    """The running bot's view of the blacklist and the enforcement of new entries."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.refs: dict[str, dict[str, Any]] = {}
        self.version = -1
        self._enforced: set[str] = set()

    def load(self) -> set[str]:
        """Read the list (writer thread or off the loop); returns the refs new since the last load."""
        store = self.services.store
        self.version = store.guard.version()
        rows = {r["ref"]: r for r in store.guard.blacklist()}
        new = set(rows) - set(self.refs) if self.refs or self._enforced else set(rows)
        self.refs = rows
        return new

    def __contains__(self, ref: str) -> bool:
        return ref in self.refs

    def reason(self, ref: str) -> str:
        row = self.refs.get(ref)
        return (row or {}).get("reason", "")

    async def reload_if_changed(self) -> bool:
        """Pick up changes made by another process (the CLI); True when there were some."""
        store = self.services.store
        if await store.run(store.guard.version) == self.version:
            return False
        initial = self.version < 0
        new = await store.run(self.load)
        # at start-up every entry is enforced again: one added while the bot was down is new to
        # it, and the ledger keeps the removals already done from being repeated
        for ref in sorted(self.refs if initial else new):
            await self.enforce(ref, actor=self.refs[ref].get("by_user") or "cli", initial=initial)
        return True

    async def apply_cli_unmutes(self) -> int:
        """Unmute on the platform what `qunbot moderation unmute` lifted (one outbox row per mute)."""
        store = self.services.store
        if self.services.submit is None:
            return 0
        since = self.services.clock.now() - timedelta(days=1)
        rows = await store.run(store.guard.cli_lifts, since)
        items = [action_row(r["platform"], {"action": "unmute", "chat_id": r["chat_id"], "member_id": r["member_id"],
                                            "member_name": r["member_name"], "actor": "cli"},
                            source=f"unmute:{r['id']}", occurrence="unmute")
                 for r in rows if UNMUTE_CAP in self.services.capabilities(r["platform"])]
        return len(await self.services.submit(items)) if items else 0

    async def enforce(self, ref: str, actor: str, initial: bool = False) -> dict[str, Any]:
        """Remove the member from every group where the adapter can, refuse their pending
        join requests; every step audited. Returns what was done (for the console's message).
        `initial`: the entries found at start-up, enforced again (the ledger keeps each removal
        once); only what is new is audited then."""
        store = self.services.store
        platform, user = parse_ref(ref)
        self._enforced.add(ref)
        caps = self.services.capabilities(platform)
        groups = await store.run(store.guard.member_groups, platform, user)
        requests = await store.run(store.guard.pending_requests_of, platform, user)
        kicked, skipped, refused = [], [], []
        items = []
        for chat in groups:
            if KICK in caps:
                items.append(action_row(platform, {"action": "kick", "chat_id": chat, "member_id": user,
                                                   "reason": "黑名单"},
                                        source=f"blacklist:{ref}", occurrence=f"kick:{chat}"))
                kicked.append(chat)
            else:
                skipped.append({"chat_id": chat, "reason": NO_KICK if caps else "平台未连接或未配置"})
        now = self.services.clock.now()
        for req in requests:
            if not await store.run(store.guard.decide_join_request, req["id"], "refused", "blacklist", now,
                                   BLACKLIST_REFUSE_REASON):
                continue
            if JOIN_ANSWER in caps:
                items.append(action_row(platform, join_answer(req, False, BLACKLIST_REFUSE_REASON),
                                        source=f"join:{req['id']}", occurrence="answer"))
            refused.append(req["id"])
        created = await self.services.submit(items) if items and self.services.submit is not None else []
        new_kicks = {i.chat_id for i in created if i.source == f"blacklist:{ref}"}
        for chat in kicked:
            if chat in new_kicks:
                await store.run(store.accounts.audit, actor, "blacklist.kick", f"{platform}:{chat}:{user}",
                                {"ref": ref, "queued": True})
        for skip in [] if initial else skipped:
            await store.run(store.accounts.audit, actor, "blacklist.kick_skipped",
                            f"{platform}:{skip['chat_id']}:{user}", {"ref": ref, "reason": skip["reason"]})
        for req_id in refused:
            await store.run(store.accounts.audit, actor, "blacklist.join_refused", str(req_id), {"ref": ref})
        log.info("blacklist enforced", extra={"ref": ref, "kicked": len(kicked), "skipped": len(skipped)})
        return {"ref": ref, "kicked": kicked, "skipped": skipped, "refused_requests": refused,
                "offline": self.services.submit is None}


def join_answer(req: dict[str, Any], approve: bool, reason: str = "") -> dict[str, Any]:
    """The platform action answering a stored join request."""
    return {"action": "join_answer", "chat_id": req["chat_id"], "member_id": req["member_id"], "flag": req["flag"],
            "sub_type": req.get("sub_type") or "add", "approve": approve, "reason": reason}


def staff_refs(store: Store, groups: Any) -> set[str]:
    """Refs of the moderators the bot knows: declared in config and registered in the store,
    plus console account names (an account named like a member id is staff too)."""
    refs = {f"{g.platform}:{m}" for g in groups for m in g.moderators}
    refs |= {f"{p}:{m}" for p, _c, m in store.moderation.moderators()}
    return refs


def add_entry(store: Store, ref: str, reason: str, actor: str, *, staff: set[str],
              self_ids: dict[str, str]) -> bool:
    """Validate and store a blacklist entry, with its audit row (CLI and console alike).
    BadRef when refused; False when it was listed already."""
    ref = ref.strip()
    platform, user = check_blacklistable(store, ref, staff, self_ids)
    if store.accounts.get_user(user) is not None:
        raise BadRef(ERR_STAFF.format(ref=ref))
    if not reason.strip():
        raise BadRef("请填写拉黑原因")
    added = store.guard.blacklist_add(f"{platform}:{user}", reason.strip(), actor)
    if added:
        store.accounts.audit(actor, "blacklist.add", f"{platform}:{user}", {"reason": reason.strip()})
    return added


def remove_entry(store: Store, ref: str, actor: str) -> bool:
    platform, user = parse_ref(ref)
    removed = store.guard.blacklist_remove(f"{platform}:{user}")
    if removed:
        store.accounts.audit(actor, "blacklist.remove", f"{platform}:{user}", {})
    return removed
