"""OneBot v11 / v12 event payloads translated into `Event`s.

v11 `message` may be a CQ-code string or a segment array; both are handled. The text the
pipeline sees is the text segments only; @mentions go to `Event.mentions` (and `to_me` when
the bot itself is mentioned), cards, images and red packets to `Event.attachments`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.kernel.events import ChatKind, Event, EventType

PLATFORM = "onebot"

_CQ = re.compile(r"\[CQ:([a-zA-Z0-9_.-]+)((?:,[^,\]]*)*)\]")
# segment type -> attachment kind, across v11 (QQ) and v12 (incl. ComWeChat's wx.* extensions)
SEGMENT_ATTACHMENTS = {
    "image": "image", "json": "card", "xml": "card", "share": "link", "redbag": "redpacket",
    "contact": "card", "wx.link": "link", "wx.app": "miniprogram", "wx.emoji": "image",
    "file": "file", "video": "video", "record": "voice", "voice": "voice", "audio": "voice",
}
MINIPROGRAM_HINTS = ("miniapp", "小程序", "com.tencent.miniapp")


def _unescape(text: str, in_param: bool = False) -> str:
    text = text.replace("&#91;", "[").replace("&#93;", "]")
    if in_param:
        text = text.replace("&#44;", ",")
    return text.replace("&amp;", "&")


def parse_cq(message: str) -> list[dict[str, Any]]:
    """A v11 CQ-code string as a segment array: "hi[CQ:at,qq=1]" -> text + at segments."""
    segments: list[dict[str, Any]] = []
    pos = 0
    for m in _CQ.finditer(message):
        if m.start() > pos:
            segments.append({"type": "text", "data": {"text": _unescape(message[pos:m.start()])}})
        data = {}
        for pair in filter(None, m.group(2).split(",")):
            key, _, value = pair.partition("=")
            data[key] = _unescape(value, in_param=True)
        segments.append({"type": m.group(1), "data": data})
        pos = m.end()
    if pos < len(message):
        segments.append({"type": "text", "data": {"text": _unescape(message[pos:])}})
    return segments


def segments_of(message: Any) -> list[dict[str, Any]]:
    if isinstance(message, str):
        return parse_cq(message)
    if isinstance(message, list):
        return [s for s in message if isinstance(s, dict) and isinstance(s.get("data", {}), dict)]
    return []


def read_segments(segments: list[dict[str, Any]]) -> tuple[str, list[str], list[str]]:
    """(plain text, mentioned ids, attachment kinds) of a message."""
    text: list[str] = []
    mentions: list[str] = []
    attachments: list[str] = []
    for seg in segments:
        kind, data = str(seg.get("type", "")), seg.get("data") or {}
        if kind == "text":
            text.append(str(data.get("text", "")))
        elif kind in ("at", "mention"):
            who = str(data.get("qq", data.get("user_id", "")))
            mentions.append("all" if who == "all" else who)
        elif kind == "mention_all":
            mentions.append("all")
        elif kind in SEGMENT_ATTACHMENTS:
            attachment = SEGMENT_ATTACHMENTS[kind]
            if kind == "json" and any(h in str(data.get("data", "")) for h in MINIPROGRAM_HINTS):
                attachment = "miniprogram"
            if attachment not in attachments:
                attachments.append(attachment)
    return "".join(text).strip(), mentions, attachments


class MalformedEvent(ValueError):
    """A payload that claims to be a message or notice but lacks what one needs."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value) == "":
        raise MalformedEvent(f"{key} missing or not an id")
    return str(value)


def _time(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def v11_event(payload: dict[str, Any], self_id: str) -> Event | None:
    post_type = payload.get("post_type")
    self_id = self_id or str(payload.get("self_id", ""))
    if post_type == "message":
        group = payload.get("message_type") == "group"
        sender = _dict(payload.get("sender"))
        user = _id(payload, "user_id")
        chat = _id(payload, "group_id") if group else user
        text, mentions, attachments = read_segments(segments_of(payload.get("message", "")))
        return Event(
            platform=PLATFORM, chat_id=chat,
            chat_kind=ChatKind.GROUP if group else ChatKind.PRIVATE, sender_id=user,
            sender_name=str(sender.get("card") or sender.get("nickname") or user),
            message_id=_id(payload, "message_id"), time=_time(payload.get("time")), text=text,
            mentions=mentions, to_me=not group or (bool(self_id) and self_id in mentions),
            attachments=attachments, raw=payload,
        )
    if post_type == "notice" and payload.get("notice_type") in ("group_increase", "group_decrease"):
        joined = payload["notice_type"] == "group_increase"
        return _member_event(payload, joined, self_id)
    if post_type == "request" and payload.get("request_type") == "group":
        return _join_request(payload)
    return None


def _join_request(payload: dict[str, Any]) -> Event:
    """v11 request/group: sub_type "add" (someone asks to join) or "invite" (the bot is invited);
    the answer goes back with set_group_add_request and this `flag`."""
    group, user, flag = _id(payload, "group_id"), _id(payload, "user_id"), _id(payload, "flag")
    return Event(
        platform=PLATFORM, chat_id=group, chat_kind=ChatKind.GROUP, sender_id=user, sender_name=user,
        message_id=f"request:{flag}", time=_time(payload.get("time")), text=str(payload.get("comment") or ""),
        type=EventType.JOIN_REQUEST, raw=payload,
    )


def v12_event(payload: dict[str, Any], self_id: str) -> Event | None:
    kind, detail = payload.get("type"), payload.get("detail_type")
    self_id = self_id or str(_dict(payload.get("self")).get("user_id", ""))
    if kind == "message" and detail in ("group", "private"):
        group = detail == "group"
        user = _id(payload, "user_id")
        chat = _id(payload, "group_id") if group else user
        text, mentions, attachments = read_segments(segments_of(payload.get("message", [])))
        if not text and not attachments and not mentions:
            text = str(payload.get("alt_message", "")).strip()
        return Event(
            platform=PLATFORM, chat_id=chat,
            chat_kind=ChatKind.GROUP if group else ChatKind.PRIVATE, sender_id=user,
            sender_name=str(payload.get("user_name") or payload.get("nickname") or user),
            message_id=_id(payload, "message_id"), time=_time(payload.get("time")), text=text,
            mentions=mentions, to_me=not group or (bool(self_id) and self_id in mentions),
            attachments=attachments, raw=payload,
        )
    if kind == "notice" and detail in ("group_member_increase", "group_member_decrease"):
        return _member_event(payload, detail == "group_member_increase", self_id)
    return None


def _member_event(payload: dict[str, Any], joined: bool, self_id: str) -> Event:
    group, user = _id(payload, "group_id"), _id(payload, "user_id")
    when = payload.get("time")
    return Event(
        platform=PLATFORM, chat_id=group, chat_kind=ChatKind.GROUP, sender_id=user, sender_name=user,
        message_id=str(payload.get("id") or f"{'join' if joined else 'leave'}:{group}:{user}:{when}"),
        time=_time(when), type=EventType.MEMBER_JOIN if joined else EventType.MEMBER_LEAVE,
        to_me=bool(self_id) and user == self_id, raw=payload,
    )
