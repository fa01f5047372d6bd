"""Posting to WeCom customer groups (客户群): one 企业群发 task per group owner, within the
corp's per-group limit.

A bot cannot post in a customer group itself: WeCom's add_msg_template creates a task the
group's owner confirms with one tap, and each group receives at most as many 企业群发 as the
corp's rule allows (企业微信 → 群发助手 → 设置群发规则; developer.work.weixin.qq.com/document/
path/92135): as many as the month has days (default), 7 a week, or 1 a day, counted in
Beijing time. So the planner
- groups a post's customer-group targets by owner into one outbox row per owner (chat id
  "owner:<userid>", kind "customer_group_task", the groups in `chat_id_list`), which the wecom
  adapter turns into one task, and
- refuses, when the post is planned (in `schedule preview` and when it fires), each group
  that would go beyond the limit, with the reason: never a silent drop.

Used by any sender that targets customer groups (scheduled posts, campaigns, broadcasts):
`CustomerGroupQuota.from_store` then `admit` per planned post, then `owner_items`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot.kernel.priorities import BROADCAST_PRIORITY
from bot.store import Store
from bot.store.outbound import OutboundItem
from bot.store.wecom_contact import CHAT_ID_LIST_MAX, CUSTOMER_GROUP, DISMISSED, GROUPMSG_TASK, OWNER_PREFIX

CHINA = ZoneInfo("Asia/Shanghai")
# shown next to every customer group in previews
OWNER_CONFIRMS = "企业群发：需群主在企业微信中确认后才会发出"
LIMIT_LABELS = {"month": "每月最多当月天数条", "week": "每周最多 7 条", "day": "每天最多 1 条"}


class HasTarget(Protocol):
    """A planned target (schedules.planner.Target, or a broadcast's)."""

    @property
    def platform(self) -> str: ...
    @property
    def chat_id(self) -> str: ...
    @property
    def kind(self) -> str: ...


T = TypeVar("T", bound=HasTarget)


def limit_mode(settings: Any) -> str:
    """[adapters.wecom] group_msg_limit, read without importing the application's config
    (domains may not): "month" when absent."""
    wecom = getattr(getattr(settings, "adapters", None), "wecom", None)
    mode = getattr(wecom, "group_msg_limit", "month")
    return mode if mode in LIMIT_LABELS else "month"


def is_customer_group(target: HasTarget) -> bool:
    return target.platform == "wecom" and target.kind in (CUSTOMER_GROUP, DISMISSED)


def period(mode: str, when: datetime) -> tuple[str, int, datetime]:
    """(key, how many a group may receive in it, its start) of the limit period holding `when`."""
    local = when.astimezone(CHINA)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if mode == "day":
        return day.date().isoformat(), 1, day
    if mode == "week":
        start = day - timedelta(days=day.weekday())
        return f"W{start.date().isoformat()}", 7, start
    start = day.replace(day=1)
    return f"M{start:%Y-%m}", calendar.monthrange(local.year, local.month)[1], start


@dataclass
class CustomerGroupQuota:
    """What each customer group has used of the corp's limit, and who owns it."""

    mode: str = "month"
    owners: dict[str, str] = field(default_factory=dict)
    # (chat_id, period key) → posts counted
    used: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Store, settings: Any, now: datetime) -> CustomerGroupQuota:
        """Blocking (CLI, or inside store.run): owners and this period's submitted tasks."""
        mode = limit_mode(settings)
        key, _, start = period(mode, now)
        usage = store.wecom_contact.usage(start)
        return cls(mode, store.wecom_contact.owners(), {(c, key): n for c, n in usage.items()})

    def admit(self, targets: Iterable[T], when: datetime) -> tuple[list[T], list[tuple[T, str]]]:
        """Split targets into (allowed, [(refused, reason)]); an allowed customer group counts
        against its limit from now on (a later post in the same period sees it)."""
        allowed: list[T] = []
        refused: list[tuple[T, str]] = []
        for t in targets:
            if not is_customer_group(t):
                allowed.append(t)
                continue
            if t.kind == DISMISSED:
                refused.append((t, "该客户群已解散"))
                continue
            if not self.owners.get(t.chat_id):
                refused.append((t, "未找到群主：请先运行 qunbot wecom sync"))
                continue
            key, limit, _ = period(self.mode, when)
            n = self.used.get((t.chat_id, key), 0)
            if n >= limit:
                refused.append((t, f"超过企业群发上限（{LIMIT_LABELS[self.mode]}，本期已安排 {n} 条），不发送"))
                continue
            self.used[(t.chat_id, key)] = n + 1
            allowed.append(t)
        return allowed, refused

    def owner_of(self, chat_id: str) -> str:
        return self.owners.get(chat_id, "")


def owner_items(targets: Iterable[HasTarget], quota: CustomerGroupQuota, *, source: str, occurrence: str,
                text: str, attachments: list[dict[str, Any]] | None = None,
                not_after: datetime | None = None, priority: int = BROADCAST_PRIORITY) -> list[OutboundItem]:
    """The customer groups among `targets` as one outbox row per owner (split past 2,000 groups)."""
    by_owner: dict[str, list[str]] = {}
    for t in targets:
        if is_customer_group(t) and quota.owner_of(t.chat_id):
            by_owner.setdefault(quota.owner_of(t.chat_id), []).append(t.chat_id)
    items = []
    for owner, chats in sorted(by_owner.items()):
        for part, i in enumerate(range(0, len(chats), CHAT_ID_LIST_MAX)):
            payload: dict[str, Any] = {"kind": "groupmsg", "text": text, "chat_id_list": chats[i:i + CHAT_ID_LIST_MAX]}
            if attachments:
                payload["attachments"] = attachments
            items.append(OutboundItem(
                source=source, occurrence=occurrence, platform="wecom",
                chat_id=f"{OWNER_PREFIX}{owner}" + (f"#{part}" if part else ""), chat_kind=GROUPMSG_TASK,
                payload=payload, priority=priority, not_after=not_after,
            ))
    return items


def plan_customer_group_send(store: Store, settings: Any, targets: Iterable[T], when: datetime, *, source: str,
                             occurrence: str, text: str, attachments: list[dict[str, Any]] | None = None,
                             not_after: datetime | None = None) -> tuple[list[OutboundItem], list[tuple[T, str]]]:
    """For a broadcast (or any one-off send) that targets customer groups: the outbox rows (one
    企业群发 task per owner) and the groups refused with their reason. Blocking: call it inside
    `store.run`, or off the event loop. Targets that are not customer groups are ignored here:
    the caller sends those as usual."""
    quota = CustomerGroupQuota.from_store(store, settings, when)
    allowed, refused = quota.admit([t for t in targets if is_customer_group(t)], when)
    return owner_items(allowed, quota, source=source, occurrence=occurrence, text=text,
                       attachments=attachments, not_after=not_after), refused
