"""WeChat-family XML messages (WeCom app callback, 公众号) translated into `Event`s.

Both platforms send the same flat fields (ToUserName, FromUserName, CreateTime, MsgType,
Content, MsgId …). A message's id is the platform's MsgId, so the platform's retries dedupe
in the pipeline; events carry no MsgId and are keyed by FromUserName + CreateTime (+ event).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bot.kernel.events import ChatKind, Event, EventType

log = logging.getLogger("qunbot.adapters")

# what each non-text message kind contributes to Event.attachments
ATTACHMENTS = {"image": "image", "link": "link", "miniprogrampage": "miniprogram", "file": "file"}
PLACEHOLDERS = {"voice": "[语音]", "video": "[视频]", "shortvideo": "[视频]", "location": "[位置]", "file": "[文件]"}


def _text(msg: dict[str, Any], key: str) -> str:
    value = msg.get(key, "")
    return value if isinstance(value, str) else ""


def _time(msg: dict[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(int(_text(msg, "CreateTime")), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def event_key(msg: dict[str, Any]) -> str:
    """The dedupe id of a message: MsgId, or FromUserName + CreateTime for events."""
    if _text(msg, "MsgId"):
        return _text(msg, "MsgId")
    return f"ev:{_text(msg, 'FromUserName')}:{_text(msg, 'CreateTime')}"


def to_events(platform: str, msg: dict[str, Any]) -> list[Event]:
    """Translate one decrypted callback; empty when there is nothing for the pipeline."""
    kind = _text(msg, "MsgType").lower()
    user = _text(msg, "FromUserName")
    base: dict[str, Any] = dict(
        platform=platform, chat_id=user, chat_kind=ChatKind.PRIVATE, sender_id=user, sender_name=user,
        message_id=event_key(msg), time=_time(msg), to_me=True, raw=msg,
    )
    if kind == "text":
        return [Event(**base, text=_text(msg, "Content"))]
    if kind == "link":
        text = " ".join(t for t in (_text(msg, "Title"), _text(msg, "Url")) if t)
        return [Event(**base, text=text, attachments=["link"])]
    if kind in ATTACHMENTS or kind in PLACEHOLDERS:
        text = _text(msg, "Recognition") or PLACEHOLDERS.get(kind, "")
        return [Event(**base, text=text, attachments=[ATTACHMENTS[kind]] if kind in ATTACHMENTS else [])]
    if kind == "event":
        return _event(base, msg)
    log.info("%s: message type %r ignored", platform, kind)
    return []


def _event(base: dict[str, Any], msg: dict[str, Any]) -> list[Event]:
    name = _text(msg, "Event").lower()
    if name == "subscribe":
        return [Event(**base, type=EventType.MEMBER_JOIN)]
    if name == "unsubscribe":
        return [Event(**base, type=EventType.MEMBER_LEAVE)]
    if name == "change_external_chat":
        return _external_chat(base, msg)
    # enter_agent (the member opened the app), menu clicks, location reports: nothing to answer
    log.debug("%s: event %r acknowledged, not processed", base["platform"], name)
    return []


def _external_chat(base: dict[str, Any], msg: dict[str, Any]) -> list[Event]:
    """客户群变更: members who joined or left become MEMBER_JOIN / MEMBER_LEAVE of that group."""
    detail = _text(msg, "UpdateDetail")
    kinds = {"add_member": EventType.MEMBER_JOIN, "del_member": EventType.MEMBER_LEAVE}
    if _text(msg, "ChangeType") != "update" or detail not in kinds:
        return []
    members = msg.get("MemChangeList", {})
    items = members.get("Item", []) if isinstance(members, dict) else []
    if isinstance(items, str):
        items = [items]
    chat_id = _text(msg, "ChatId")
    out = []
    for member in items:
        if not isinstance(member, str) or not member:
            continue
        out.append(Event(**{
            **base, "chat_id": chat_id, "chat_kind": ChatKind.GROUP, "sender_id": member,
            "sender_name": member, "to_me": False, "type": kinds[detail],
            "message_id": f"{chat_id}:{_text(msg, 'CreateTime')}:{detail}:{member}",
        }))
    if not out:
        log.info("%s: change_external_chat without member list ignored", base["platform"])
    return out
