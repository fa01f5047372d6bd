"""Platform actions (recall, mute, unmute, kick) as outbox rows.

An action goes out like a message: one ledger row per (source, occurrence, target), e.g.
source `action:<message uid>`, so it is done once, retried with backoff, rate limited and,
when its outcome is unknown, marked `uncertain` instead of repeated. Its final status is
written to the audit log (actor `bot`, action `platform.<kind>`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.kernel.actions import ACTION_KIND, LABELS
from bot.kernel.priorities import ACTION_PRIORITY
from bot.store.base import utcnow
from bot.store.outbound import OutboundItem

if TYPE_CHECKING:
    from bot.recorder import Recorder
    from bot.store import Store



def action_item(
    platform: str, action: dict[str, Any], *, source: str, occurrence: str,
    reply_to: str | None = None, not_after: datetime | None = None,
) -> OutboundItem:
    """The ledger row for one platform action."""
    kind = str(action.get("action", ""))
    who = str(action.get("member_name") or action.get("member_id") or "")
    return OutboundItem(
        source=source, occurrence=occurrence, platform=platform, chat_id=str(action.get("chat_id", "")),
        payload={"kind": ACTION_KIND, "action": action, "text": f"[平台操作] {LABELS.get(kind, kind)} {who}".strip()},
        priority=ACTION_PRIORITY, reply_to=reply_to, not_after=not_after,
    )


def is_action(item: OutboundItem) -> bool:
    return item.payload.get("kind") == ACTION_KIND


def audit_outcomes(store: Store, recorder: Recorder,
                   now: Callable[[], datetime] = utcnow) -> Callable[[OutboundItem, str, str], None]:
    """The outbox's settle hook: each action's final status goes to the audit log, written
    in the recorder's next batch (no transaction of its own on the hot path)."""

    def settled(item: OutboundItem, status: str, error: str) -> None:
        if not is_action(item):
            return
        action = item.payload.get("action", {})
        target = f"{item.platform}:{item.chat_id}:{action.get('member_id', '')}"
        detail = {"status": status, "delivery": item.id, "source": item.source, "occurrence": item.occurrence,
                  "message_uid": action.get("message_uid") or item.reply_to or ""}
        if error:
            detail["error"] = error
        recorder.defer(store.accounts.audit, "bot", f"platform.{action.get('action', '?')}", target, detail)
        if status == "sent" and action.get("action") in ("mute", "unmute"):
            _track_mute(store, recorder, item.platform, action, now())

    return settled


def _track_mute(store: Store, recorder: Recorder, platform: str, action: dict[str, Any], now: datetime) -> None:
    """The muted list (禁言名单) follows what the platform confirmed."""
    chat, member = str(action.get("chat_id", "")), str(action.get("member_id", ""))
    seconds = int(action.get("seconds", 0) or 0)
    if action.get("action") == "mute" and seconds > 0:
        recorder.defer(store.guard.record_mute, platform, chat, member, str(action.get("member_name") or ""), now,
                       now + timedelta(seconds=seconds), str(action.get("reason") or ""))
    else:
        recorder.defer(store.guard.lift_mute, platform, chat, member, now, str(action.get("actor") or "bot"))
