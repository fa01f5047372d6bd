"""QQ bot webhook payloads (op 0 Dispatch) translated into `Event`s.

Ids are openids: `group_openid` for the chat, `member_openid` for a sender in a group (one
person has a different member_openid in each group: member ids are scoped to their group,
`MEMBER_IDS_PER_GROUP`), `user_openid` for a 1:1 chat. The platform gives no names, so
the openid is also the display name until a manager names the member.
Docs: https://bot.q.qq.com/wiki/develop/api-v2/server-inter/message/send-receive/event.html
and https://bot.q.qq.com/wiki/develop/api-v2/server-inter/group/manage/event.html
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.kernel.events import ChatKind, Event, EventType

PLATFORM = "qq"
# a member's openid differs from group to group: never merge members across groups by id
MEMBER_IDS_PER_GROUP = True
# the id the bot itself has in join/leave events (the platform gives the bot no openid)
BOT_MEMBER = "bot"

GROUP_AT = "GROUP_AT_MESSAGE_CREATE"
GROUP_ALL = "GROUP_MESSAGE_CREATE"
C2C = "C2C_MESSAGE_CREATE"
BOT_ADDED = "GROUP_ADD_ROBOT"
BOT_REMOVED = "GROUP_DEL_ROBOT"
MESSAGE_EVENTS = frozenset({GROUP_AT, GROUP_ALL, C2C})

# attachment content types -> Event.attachments kinds
_ATTACHMENT_KINDS = {"image": "image", "video": "video", "voice": "voice", "file": "file"}


class MalformedEvent(ValueError):
    """A dispatch that claims to be a message or group event but lacks what one needs."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{key} missing or not a string")
    return value


def _time(value: Any) -> datetime:
    """RFC 3339 ("2023-11-06T13:37:18+08:00") for messages, Unix seconds for group events."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str) and value:
            if value.isdigit():
                return datetime.fromtimestamp(int(value), UTC)
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return datetime.now(UTC)


def _attachments(items: Any) -> list[str]:
    kinds: list[str] = []
    for item in items if isinstance(items, list) else ():
        content_type = str(_dict(item).get("content_type", ""))
        kind = _ATTACHMENT_KINDS.get(content_type.split("/")[0], "file")
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def to_event(payload: dict[str, Any]) -> Event | None:
    """One dispatch as an Event; None for event types qunbot does not use."""
    kind = payload.get("t")
    data = _dict(payload.get("d"))
    raw = {"t": kind, "id": payload.get("id"), "d": data, "member_scope": "group"}
    if kind in MESSAGE_EVENTS:
        author = _dict(data.get("author"))
        group = kind != C2C
        sender = _id(author, "member_openid" if group else "user_openid")
        return Event(
            platform=PLATFORM, chat_id=_id(data, "group_openid") if group else sender,
            chat_kind=ChatKind.GROUP if group else ChatKind.PRIVATE, sender_id=sender, sender_name=sender,
            message_id=_id(data, "id"), time=_time(data.get("timestamp")),
            # the platform strips the @bot from the content and leaves its space behind
            text=str(data.get("content", "")).strip(),
            mentions=[BOT_MEMBER] if kind == GROUP_AT else [],
            to_me=kind != GROUP_ALL, attachments=_attachments(data.get("attachments")), raw=raw,
        )
    if kind in (BOT_ADDED, BOT_REMOVED):
        group = _id(data, "group_openid")
        when = data.get("timestamp")
        added = kind == BOT_ADDED
        event_id = payload.get("id")
        return Event(
            platform=PLATFORM, chat_id=group, chat_kind=ChatKind.GROUP, sender_id=BOT_MEMBER, sender_name=BOT_MEMBER,
            message_id=str(event_id) if isinstance(event_id, str) and event_id
            else f"{'add' if added else 'del'}:{group}:{when}",
            time=_time(when), type=EventType.MEMBER_JOIN if added else EventType.MEMBER_LEAVE, to_me=True,
            raw=raw,
        )
    return None
