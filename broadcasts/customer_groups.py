"""Broadcasts to WeCom customer groups (客户群): one 企业群发 task per owner, within the corp's
per-group limit, exactly as scheduled posts (schedules/wecom_contact_plan.py).

`admit` runs when the broadcast is previewed or created (groups beyond the limit are shown as
refused with the reason and never sent); `owner_items` runs when the bot hands the broadcast to
the outbox, and applies the limit again: what was used in between (another post, another
broadcast) counts, and a group refused then keeps the reason in its target row.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.store.outbound import OutboundItem
from broadcasts.compose import Composed, ComposeError, is_customer_group
from schedules.planner import Target
from schedules.wecom_contact_plan import CustomerGroupQuota, period, plan_customer_group_send

if TYPE_CHECKING:
    from bot.store import Store

# the ledger occurrence of a broadcast's 企业群发 tasks (one row per owner)
OCCURRENCE = "part1"


def _target(t: dict[str, Any]) -> Target:
    return Target(t["platform"], t["chat_id"], t["chat_kind"], t.get("name") or "")


def admit(store: Store, settings: Any, composed: Composed, when: datetime) -> Composed:
    """Mark the customer groups beyond the corp's limit `refused` (with why). Blocking: inside
    `store.run` or in the CLI. Raises ComposeError when nothing is left to send."""
    groups = [t for t in composed.targets if is_customer_group(t)]
    if not groups:
        return composed
    quota = CustomerGroupQuota.from_store(store, settings, when)
    # broadcasts created (or awaiting approval) but not yet handed to the outbox count too
    key, _, start = period(quota.mode, when)
    for chat_id, n in store.broadcasts.waiting_customer_groups(start).items():
        quota.used[(chat_id, key)] = quota.used.get((chat_id, key), 0) + n
    _, refused = quota.admit([_target(t) for t in groups], when)
    why = {r.chat_id: reason for r, reason in refused}
    for t in groups:
        if t["chat_id"] in why:
            composed.refuse(t, why[t["chat_id"]])
    if not composed.targets:
        raise ComposeError(["没有可发送的目标：" + "；".join(sorted(set(why.values())))])
    return composed


def owner_items(store: Store, settings: Any, broadcast_id: int, source: str, targets: list[dict[str, Any]],
                when: datetime) -> list[OutboundItem]:
    """The broadcast's customer groups as one outbox row per owner; the groups refused now get
    their reason written to their target row (they show as 不发送)."""
    groups = [t for t in targets if is_customer_group(t) and t["parts"]]
    if not groups:
        return []
    part = groups[0]["parts"][0]
    items, refused = plan_customer_group_send(store, settings, [_target(t) for t in groups], when, source=source,
                                              occurrence=OCCURRENCE, text=part["text"],
                                              attachments=part.get("attachments"))
    for t, reason in refused:
        store.broadcasts.refuse(broadcast_id, t.platform, t.chat_id, reason)
    return items
