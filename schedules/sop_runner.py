"""The running 群SOP: enrols members and groups, hands due steps to the outbox exactly once.

`run_due(now)` does everything, and is safe to call any number of times (the scheduler's tick):
1. enrol: members who joined a tagged group since the sequence exists (the members table's
   join time is the anchor); groups newly carrying a tag (`group_tagged`: the groups tagged
   when the sequence was first seen are a baseline and are not enrolled);
2. for each enrollment whose next step is due: stop it if the member left or is blacklisted,
   else decide each due step (send / send late within the grace / skip and count), hand it
   to the outbox with source `sop:<seq>:<step>` and an occurrence naming the member, then
   record it. A crash between hand-over and record means the next run hands the same keys
   over again, which the ledger ignores: each (step, member) is sent once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.kernel.priorities import BROADCAST_PRIORITY
from bot.store.outbound import OutboundItem
from schedules import sop_members
from schedules.sop_config import SopConfig
from schedules.sop_plan import (
    REASON_BLACKLISTED,
    REASON_GONE,
    REASON_LEFT,
    REASON_UNTAGGED,
    applies,
    condition_fails,
    decide,
    load_spec,
    occurrence,
    render_step,
    source,
    step_times,
)

if TYPE_CHECKING:
    from bot.services import Services
    from bot.store import Store

log = logging.getLogger("qunbot.sop")

# enrollments read from the store at a time
BATCH = 500
# joins are looked for again this far back each run (clock steps; those already enrolled are left
# out by the query, so the overlap costs one index range)
RESCAN = timedelta(minutes=2)

TagsFn = Callable[["Store", str, str], set[str]]


class SopRunner:
    """Enrols members and groups into the stored sequences and sends their due steps."""

    def __init__(self, services: Services, *, member_tags: TagsFn | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.clock = services.clock
        self.tz = services.settings.tz
        self.member_tags = member_tags or sop_members.member_tags
        self.lock = asyncio.Lock()
        # joins up to here have been enrolled (in memory: after a restart, from each sequence's start)
        self._scanned: datetime | None = None
        self.submitted = 0

    # -- reading ---------------------------------------------------------------------

    async def sequences(self, statuses: tuple[str, ...] | None = ("active", "paused")) -> list[dict[str, Any]]:
        """Stored sequences with their parsed spec (`spec_obj`; invalid ones are logged and left out)."""
        out = []
        for row in await self.store.run(self.store.sop.list_sequences, statuses):
            spec = load_spec(row)
            if spec is None:
                log.warning("stored SOP sequence %r is invalid and is ignored", row["id"])
                continue
            row["spec_obj"] = spec
            out.append(row)
        return out

    def grace(self, spec: SopConfig) -> float:
        if spec.misfire_grace is not None:
            return float(spec.misfire_grace)
        return float(self.settings.schedule.sop_misfire_grace)

    # -- running ---------------------------------------------------------------------

    async def run_due(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Enrol, then handle every step due up to `now`; returns what was decided."""
        async with self.lock:
            now = now or self.clock.now()
            seqs = {row["id"]: row for row in await self.sequences()}
            await self.store.run(self._enroll, list(seqs.values()), now)
            results: list[dict[str, Any]] = []
            failed: set[int] = set()
            while True:
                batch = [e for e in await self.store.run(self.store.sop.due, now, BATCH + len(failed))
                         if e["id"] not in failed]
                for enrollment in batch:
                    try:
                        results.extend(await self._handle(enrollment, seqs.get(enrollment["seq_id"]), now))
                    except Exception:
                        # its next_at stays: the next run tries again; the ledger keeps it once
                        failed.add(enrollment["id"])
                        log.exception("SOP %s: enrollment %s failed", enrollment["seq_id"], enrollment["id"])
                if len(batch) < BATCH:
                    return results

    def _enroll(self, seqs: list[dict[str, Any]], now: datetime) -> None:
        """(writer thread) New joins and newly tagged groups become enrollments."""
        repo = self.store.sop
        joined = [s for s in seqs if s["spec_obj"].anchor == "member_joined" and s["status"] == "active"]
        for seq in joined:
            since = seq["since"] if self._scanned is None else max(seq["since"], self._scanned - RESCAN)
            spec: SopConfig = seq["spec_obj"]
            new = [(r["platform"], r["chat_id"], r["member_id"], r["name"], r["joined_at"])
                   for r in repo.joined_since(seq["id"], since) if applies(spec, r["tags"])]
            if new and repo.enroll(seq["id"], new):
                log.info("SOP %s: enrolled %d new members", seq["id"], len(new))
        self._scanned = now
        tagged = [s for s in seqs if s["spec_obj"].anchor == "group_tagged" and s["status"] == "active"]
        if tagged:
            chats = [c for c in self.store.chats.list_chats(kind="group")]
            for seq in tagged:
                matching = [(c["platform"], c["chat_id"], "", c["name"], now) for c in chats
                            if applies(seq["spec_obj"], c["tags"])]
                if not seq["baseline_done"]:
                    # groups tagged before the sequence existed are not "being tagged"
                    repo.enroll(seq["id"], matching, status="baseline")
                    repo.mark_baseline(seq["id"])
                elif matching:
                    known = repo.enrolled_keys(seq["id"])
                    fresh = [m for m in matching if (m[0], m[1], "") not in known]
                    if fresh and repo.enroll(seq["id"], fresh):
                        log.info("SOP %s: %d newly tagged groups", seq["id"], len(fresh))

    async def _handle(self, enrollment: dict[str, Any], seq: dict[str, Any] | None,
                      now: datetime) -> list[dict[str, Any]]:
        repo = self.store.sop
        if seq is None:
            await self.store.run(repo.stop, enrollment["id"], REASON_GONE)
            return []
        spec: SopConfig = seq["spec_obj"]
        stop, decided = await self.store.run(self._state, enrollment, spec)
        if stop:
            log.info("SOP %s: enrollment %s stopped: %s", spec.id, enrollment["id"], stop)
            return []
        times = step_times(enrollment["anchor_at"], spec, self.tz)
        results = []
        for index in sorted(range(len(spec.steps)), key=lambda i: times[i]):
            if index in decided or times[index] > now:
                continue
            results.append(await self._step(enrollment, seq, spec, index, times[index], now))
        pending = [times[i] for i in range(len(spec.steps)) if i not in decided and times[i] > now]
        await self.store.run(repo.set_next, enrollment["id"], min(pending) if pending else None)
        return results

    def _state(self, enrollment: dict[str, Any], spec: SopConfig) -> tuple[str, dict[int, dict[str, Any]]]:
        """(writer thread) Why the enrollment stops now (it is stopped then), or its decided steps."""
        stop = self._stop_reason(enrollment, spec)
        if stop:
            self.store.sop.stop(enrollment["id"], stop)
            return stop, {}
        return "", self.store.sop.steps_of([enrollment["id"]]).get(enrollment["id"], {})

    def _stop_reason(self, enrollment: dict[str, Any], spec: SopConfig) -> str:
        """(writer thread) Why an enrollment ends now: the member left, is blacklisted, the group untagged."""
        platform, chat_id, member_id = enrollment["platform"], enrollment["chat_id"], enrollment["member_id"]
        if member_id:
            if self.store.sop.member_left(platform, chat_id, member_id):
                return REASON_LEFT
            if sop_members.blacklisted(self.store, platform, member_id):
                return REASON_BLACKLISTED
            return ""
        chat = self.store.chats.get_chat(platform, chat_id)
        return "" if chat is not None and applies(spec, chat["tags"]) else REASON_UNTAGGED

    async def _step(self, enrollment: dict[str, Any], seq: dict[str, Any], spec: SopConfig, index: int,
                    due: datetime, now: datetime) -> dict[str, Any]:
        repo = self.store.sop
        src, occ = source(spec.id, index), occurrence(enrollment["platform"], enrollment["chat_id"],
                                                      enrollment["member_id"])
        result = {"sequence": spec.id, "step": index + 1, "enrollment": enrollment["id"], "due": due,
                  "member": enrollment["member_id"], "chat": enrollment["chat_id"], "status": "skipped",
                  "reason": "", "targets": 0}
        verdict = decide(due, now, self.grace(spec), paused=seq["status"] == "paused")
        reason = verdict.reason
        if not verdict.send:
            # a crash after the hand-over but before the record: the ledger already has it
            if await self.store.run(self.store.outbound.exists, src, occ):
                await self.store.run(repo.record_step, enrollment["id"], index, due, "submitted",
                                     reason="重启后确认：此前已提交发送")
                result.update(status="submitted")
                return result
            return await self._skip(result, enrollment, index, due, reason)
        items, text, why_not = await self.store.run(self._items, enrollment, spec, index, src, occ, now)
        if why_not:
            return await self._skip(result, enrollment, index, due, why_not)
        if self.services.submit is not None:
            await self.services.submit(items)
        else:
            await self.store.run(self.store.outbound.insert, items)
        await self.store.run(repo.record_step, enrollment["id"], index, due, "submitted", reason=reason,
                             targets=len(items), text=text)
        self.submitted += 1
        log.info("SOP %s step %d for %s submitted to %d chats", spec.id, index + 1, occ, len(items))
        result.update(status="submitted", reason=reason, targets=len(items))
        return result

    async def _skip(self, result: dict[str, Any], enrollment: dict[str, Any], index: int, due: datetime,
                    reason: str) -> dict[str, Any]:
        await self.store.run(self.store.sop.record_step, enrollment["id"], index, due, "skipped", reason=reason)
        log.info("SOP %s step %d skipped for enrollment %s: %s", result["sequence"], index + 1,
                 enrollment["id"], reason)
        result["reason"] = reason
        return result

    def _items(self, enrollment: dict[str, Any], spec: SopConfig, index: int, src: str, occ: str,
               now: datetime) -> tuple[list[OutboundItem], str, str]:
        """(writer thread) The outbox rows of one step, its text, or why it cannot be sent."""
        store = self.store
        step = spec.steps[index]
        platform, chat_id, member_id = enrollment["platform"], enrollment["chat_id"], enrollment["member_id"]
        chat = store.chats.get_chat(platform, chat_id) or {"name": ""}
        local = now.astimezone(self.tz)
        if member_id and (step.if_tag or step.unless_tag):
            failed = condition_fails(step, self.member_tags(store, platform, member_id))
            if failed:
                return [], "", failed
        # (chat to send to, chat kind, nickname in the text)
        targets: list[tuple[str, str, str]] = []
        name = enrollment["member_name"] or member_id
        if step.target == "group":
            targets = [(chat_id, "group", name)]
        elif step.target == "staff":
            targets = [(s["member_id"], "private", name)
                       for s in sop_members.staff(store, self.settings, platform, chat_id)]
            if not targets:
                return [], "", "本群没有已知的群主/管理员，无法提醒"
        elif member_id:
            targets = [(member_id, "private", name)]
        else:  # group_tagged, private: every member present in the group now
            for m in store.chats.list_members(platform, chat_id):
                if m["is_moderator"] or sop_members.blacklisted(store, platform, m["member_id"]):
                    continue
                if (step.if_tag or step.unless_tag) and condition_fails(
                        step, self.member_tags(store, platform, m["member_id"])):
                    continue
                targets.append((m["member_id"], "private", m["name"] or m["member_id"]))
            if not targets:
                return [], "", "群里没有可私聊的成员"
        caps = self.services.capabilities(platform)
        if caps and "private" not in caps and any(kind == "private" for _, kind, _ in targets):
            return [], "", f"{platform} 平台不支持私聊发送"
        items = []
        text = ""
        for target, kind, nickname in targets:
            text = render_step(spec, step, nickname=nickname, group=chat["name"] or chat_id, local=local,
                               rng=self.services.rng)
            items.append(OutboundItem(
                source=src, occurrence=occ, platform=platform, chat_id=target, chat_kind=kind,
                payload={"text": text, "kind": "text", "bulk": True}, priority=BROADCAST_PRIORITY,
            ))
        return items, text, ""
