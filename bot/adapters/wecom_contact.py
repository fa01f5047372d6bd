"""WeCom customer groups (客户群) through the official 客户联系 API, inside the wecom adapter.

- Sync: every group (groupchat/list, cursor paging) and its members (groupchat/get) into
  `chats` / `members` and the wecom_contact tables; at start, every `sync_every` and on demand.
- change_external_chat callbacks keep it current between syncs (the adapter's callback hands
  them here after answering; the joins themselves reach the pipeline as MEMBER_JOIN events,
  so welcome messages and SOP anchors fire as for any group).
- 企业群发: an outbox row for one owner's groups becomes one add_msg_template task; the
  owner confirms it in their client. Progress is polled (get_groupmsg_task, then
  get_groupmsg_send_result per owner who sent) into each group's status; an owner still
  silent after `remind_after` is reminded once (remind_groupmsg_send).
- Group statistics (groupchat/statistic) per owner and day, and group welcome templates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.adapters.base import Delivery, PermanentSendError
from bot.adapters.config import WecomSettings
from bot.adapters.wecom_contact_api import WecomContactApi
from bot.store.base import parse_iso
from bot.store.wecom_contact import (
    CHAT_ID_LIST_MAX,
    GROUPMSG_TASK,
    OWNER_PREFIX,
    TARGET_NOT_SENT,
    TARGET_SENT,
    TARGET_WAITING,
)

if TYPE_CHECKING:
    from bot.adapters.base import Host
    from bot.adapters.wecom_api import AccessToken
    from bot.kernel.clock import Clock
    from bot.store import Store

log = logging.getLogger("qunbot.adapters")

__all__ = ["GROUPMSG_TASK", "WecomContact"]
# get_groupmsg_send_result status → (group status, reason shown in the console)
SEND_RESULTS = {
    0: (TARGET_WAITING, ""),
    1: (TARGET_SENT, ""),
    2: (TARGET_NOT_SENT, "发送失败：客户不是好友"),
    3: (TARGET_NOT_SENT, "发送失败：该群已达到企业群发的接收上限"),
}
# get_groupmsg_task status of an owner who sent
OWNER_SENT = 2
# a task its owner has not confirmed after this long is no longer asked about
GIVE_UP_AFTER = timedelta(days=7)
CHINA = ZoneInfo("Asia/Shanghai")


class WecomContact:
    """The customer-group side of one WeCom corp; started and stopped with the wecom adapter."""

    def __init__(self, settings: WecomSettings, *, token: AccessToken | None = None,
                 api: WecomContactApi | None = None, store: Store | None = None) -> None:
        self.settings = settings
        secret = settings.contact_secret or settings.secret
        self.api = api or WecomContactApi(settings.api_base, settings.corp_id, secret, settings.agent_id,
                                          token=token if secret == settings.secret else None)
        self.host: Host | None = None
        # the running bot's store (from start()), or one given directly (the CLI, offline)
        self.store = store
        self.clock: Clock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()
        # callbacks are applied one at a time, in the order they arrived (asyncio.Lock is FIFO)
        self._change_lock = asyncio.Lock()
        self.last_sync: dict[str, int] | None = None
        # customer group chat ids seen (sync, callbacks): the app cannot post in them itself
        self.group_ids: set[str] = set()
        self.last_error = ""

    def __repr__(self) -> str:
        return f"WecomContact(corp_id={self.settings.corp_id!r})"

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self.host = host
        self.store = host.store
        self.clock = host.clock
        self._loop = asyncio.create_task(self._run(), name="wecom-contact")

    async def stop(self) -> None:
        for task in [self._loop, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._loop, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._loop = None
        await self.api.close()

    def _now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now(UTC)

    async def _run(self) -> None:
        """Sync now and every sync_every; poll tasks every poll_every; yesterday's statistics daily."""
        next_sync = next_poll = 0.0
        stats_day: date | None = None
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            try:
                if now >= next_sync:
                    next_sync = now + float(self.settings.sync_every)
                    await self.sync()
                if now >= next_poll:
                    next_poll = now + float(self.settings.poll_every)
                    await self.poll()
                yesterday = self._now().astimezone(CHINA).date() - timedelta(days=1)
                if stats_day != yesterday:
                    stats_day = yesterday
                    await self.fetch_stats(yesterday)
                self.last_error = ""
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = str(exc)
                log.warning("企业微信客户群: %s", exc, extra={"adapter": "wecom"})
            await asyncio.sleep(max(0.05, min(next_sync, next_poll) - loop.time()))

    def _store(self) -> Store:
        if self.store is None:
            raise RuntimeError("WecomContact used before start()")
        return self.store

    # -- sync --------------------------------------------------------------------------

    async def sync(self) -> dict[str, int]:
        """Full re-sync: every group and its members; groups WeCom no longer lists are dismissed."""
        async with self._sync_lock:
            store = self._store()
            groups = members = 0
            seen: set[str] = set()
            async for item in self.api.group_ids():
                chat_id = str(item["chat_id"])
                group = await self.api.group(chat_id)
                group["status"] = item.get("status", 0)
                await store.run(store.wecom_contact.save_group, group, profile=store.members.record_profile)
                seen.add(chat_id)
                groups += 1
                members += len(group.get("member_list") or [])
            gone = await store.run(store.wecom_contact.dismiss_missing, seen)
            self.group_ids |= seen
            if self.host is not None:
                self.host.refresh_chats()
            self.last_sync = {"groups": groups, "members": members}
            log.info("企业微信客户群 synced: %d groups, %d members, %d gone", groups, members, len(gone),
                     extra={"adapter": "wecom"})
            return dict(self.last_sync)

    def on_callback(self, msg: dict[str, Any]) -> None:
        """A change_external_chat callback (already answered): apply it in the background."""
        if str(msg.get("Event", "")).lower() != "change_external_chat" or self.host is None:
            return
        task = asyncio.create_task(self._apply_change(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply_change(self, msg: dict[str, Any]) -> None:
        async with self._change_lock:
            await self._apply_change_now(msg)

    async def _apply_change_now(self, msg: dict[str, Any]) -> None:
        store = self._store()
        chat_id = str(msg.get("ChatId") or "")
        change = str(msg.get("ChangeType") or "")
        detail = str(msg.get("UpdateDetail") or "")
        if not chat_id:
            return
        self.group_ids.add(chat_id)
        try:
            if change == "dismiss":
                await store.run(store.wecom_contact.dismiss, chat_id)
            elif detail == "del_member":
                # groupchat/get may still list them for a while (WeCom updates it asynchronously)
                await store.run(store.wecom_contact.members_left, chat_id, _items(msg.get("MemChangeList")))
            else:
                # create, add_member, change_owner / name / notice: the details come from groupchat/get;
                # members it no longer lists are left to the next full sync for the same reason
                group = await self.api.group(chat_id)
                await store.run(store.wecom_contact.save_group, group, full=False,
                                profile=store.members.record_profile)
            if self.host is not None:
                self.host.refresh_chats()
            log.info("企业微信客户群 %s: %s %s applied", chat_id, change, detail, extra={"adapter": "wecom"})
        except Exception as exc:
            # the next full sync repairs it
            log.warning("企业微信客户群 %s change %s/%s not applied: %s", chat_id, change, detail, exc,
                        extra={"adapter": "wecom"})

    async def idle(self) -> None:
        """Wait until the callbacks handed over so far are applied (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- 企业群发 ------------------------------------------------------------------------

    async def submit(self, delivery: Delivery) -> str:
        """One owner's outbox row → one add_msg_template task; returns its msgid. The groups
        then wait for the owner's confirmation (see `poll`)."""
        owner = delivery.chat_id.removeprefix(OWNER_PREFIX).split("#", 1)[0]
        chat_ids = [str(c) for c in delivery.payload.get("chat_id_list") or []]
        if not owner or not chat_ids:
            raise PermanentSendError("企业群发任务缺少群主或客户群列表")
        if len(chat_ids) > CHAT_ID_LIST_MAX:
            raise PermanentSendError(f"一个企业群发任务最多 {CHAT_ID_LIST_MAX} 个客户群")
        text = str(delivery.payload.get("text") or "")
        attachments = await self.api.attachments(list(delivery.payload.get("attachments") or []))
        data = await self.api.add_group_msg(owner, chat_ids, text, attachments)
        msgid = str(data.get("msgid") or "")
        if not msgid:
            raise PermanentSendError("企业微信未返回群发任务 msgid")
        store = self._store()
        await store.run(store.wecom_contact.add_task, msgid, delivery.source, delivery.occurrence, owner, text,
                        chat_ids, [str(c) for c in data.get("fail_list") or []], self._now())
        log.info("企业群发 task %s for %s: %d groups, awaiting the owner", msgid, owner, len(chat_ids),
                 extra={"adapter": "wecom"})
        return msgid

    async def poll(self) -> dict[str, int]:
        """Each open task: which owners sent (get_groupmsg_task), then per group the result
        (get_groupmsg_send_result); an owner silent after remind_after gets one reminder."""
        store = self._store()
        now = self._now()
        counts = {"tasks": 0, "sent": 0, "reminded": 0}
        for task in await store.run(store.wecom_contact.open_tasks):
            counts["tasks"] += 1
            owners = await self.api.task_owners(task["msgid"])
            mine = next((o for o in owners if o.get("userid") == task["owner"]), None)
            if mine is not None and int(mine.get("status") or 0) == OWNER_SENT:
                results = await self.api.send_results(task["msgid"], task["owner"])
                rows = []
                for r in results:
                    if not r.get("chat_id"):
                        continue
                    status, reason = SEND_RESULTS.get(int(r.get("status") or 0), (TARGET_NOT_SENT, "发送失败"))
                    rows.append((str(r["chat_id"]), status, reason, int(r.get("send_time") or 0) or None))
                await store.run(store.wecom_contact.set_targets, task["id"], rows)
                await store.run(store.wecom_contact.finish_task, task["id"], "sent",
                                reason="群主发送时未选择该群")
                counts["sent"] += 1
                continue
            submitted = parse_iso(task["submitted_at"])
            if submitted is not None and now - submitted >= GIVE_UP_AFTER:
                await store.run(store.wecom_contact.finish_task, task["id"], "expired",
                                reason="群主 7 天内未确认，qunbot 不再查询")
                continue
            if task["reminders"] == 0 and submitted is not None and \
                    now - submitted >= timedelta(seconds=float(self.settings.remind_after)):
                await self.api.remind(task["msgid"])
                await store.run(store.wecom_contact.reminded, task["id"], now)
                counts["reminded"] += 1
                log.info("企业群发 task %s: reminded %s", task["msgid"], task["owner"], extra={"adapter": "wecom"})
            else:
                await store.run(store.wecom_contact.checked, task["id"])
        return counts

    # -- statistics and welcome templates ------------------------------------------------

    async def fetch_stats(self, day: date) -> int:
        """groupchat/statistic of `day` (Beijing time; WeCom keeps 180 days, yesterday at the latest)."""
        store = self._store()
        owners = sorted(set((await store.run(store.wecom_contact.owners)).values()) - {""})
        if not owners:
            return 0
        begin = int(datetime(day.year, day.month, day.day, tzinfo=CHINA).timestamp())
        items = await self.api.group_statistic(begin, owners)
        await store.run(store.wecom_contact.save_stats, day.isoformat(), items)
        return len(items)

    async def push_welcome(self, name: str, text: str) -> str:
        """qunbot's welcome text as a WeCom group welcome template (add once, then edit); a bot
        cannot post in customer groups, so owners attach this template to their groups."""
        text = wecom_welcome_text(text)
        store = self._store()
        row = await store.run(store.wecom_contact.welcome_template, name)
        template_id = await self.api.welcome_template(row["template_id"] if row else "", text)
        await store.run(store.wecom_contact.save_welcome_template, name, template_id, text)
        return template_id

    def status(self) -> dict[str, Any]:
        return {"customer_groups_synced": self.last_sync, "customer_groups_error": self.last_error,
                "contact_rate_limit_waits": self.api.waits}


def wecom_welcome_text(text: str) -> str:
    """A qunbot welcome as WeCom's template text: {nickname} becomes %NICKNAME% (WeCom fills in
    the new member's name); the other placeholders cannot be filled by WeCom and are refused."""
    import re

    out = text.replace("{nickname}", "%NICKNAME%")
    other = sorted(set(re.findall(r"(?<!\{)\{(\w+)\}(?!\})", out)))
    if other:
        raise PermanentSendError("企业微信入群欢迎语只支持 {nickname}（由企业微信填入新成员昵称），不支持："
                                 + "、".join("{" + o + "}" for o in other))
    return out.replace("{{", "{").replace("}}", "}")


def _items(value: Any) -> list[str]:
    """<MemChangeList><Item>a</Item><Item>b</Item></MemChangeList> as parsed → ["a", "b"]."""
    items = value.get("Item", []) if isinstance(value, dict) else []
    if isinstance(items, str):
        items = [items]
    return [i for i in items if isinstance(i, str) and i]

