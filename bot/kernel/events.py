"""The platform-neutral message model: what every adapter produces and every stage reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ChatKind(enum.StrEnum):
    GROUP = "group"
    PRIVATE = "private"


class EventType(enum.StrEnum):
    MESSAGE = "message"
    MEMBER_JOIN = "member_join"
    MEMBER_LEAVE = "member_leave"
    # someone asks to join a group (OneBot v11 request/group); raw holds the platform's flag
    JOIN_REQUEST = "join_request"


@dataclass(slots=True)
class Event:
    """One inbound happening on a chat platform, already translated by its adapter."""

    platform: str
    chat_id: str
    chat_kind: ChatKind
    sender_id: str
    sender_name: str
    message_id: str
    time: datetime
    text: str = ""
    mentions: list[str] = field(default_factory=list)
    to_me: bool = False
    type: EventType = EventType.MESSAGE
    # attachments an adapter can report: "image", "qrcode", "miniprogram", "card", "redpacket", "link"
    attachments: list[str] = field(default_factory=list)
    chat_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        return self.chat_kind is ChatKind.GROUP

    @property
    def session_key(self) -> str:
        """Identifies the conversation, independent of the sender."""
        return f"{self.platform}:{self.chat_id}"

    @property
    def uid(self) -> str:
        """Globally unique message id: platform message ids are only unique per platform."""
        return f"{self.platform}:{self.message_id}"


@dataclass(slots=True)
class Reply:
    """Something the bot wants to say, before the outbox decides when and how."""

    text: str
    # "text" | "link" | "image"; adapters that cannot render link/image send `text` instead
    kind: str = "text"
    url: str | None = None
    title: str | None = None
    image: str | None = None
    # reply privately to the sender instead of in the group
    private: bool = False
    mention_sender: bool = False


@dataclass(slots=True)
class Decision:
    """What one stage decided about one message, and why. Stored for `qunbot why`."""

    stage: str
    outcome: str
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    # a stopping decision ends the pipeline (duplicate, blocked, answered)
    stop: bool = False
    replies: list[Reply] = field(default_factory=list)
    # platform actions requested by the stage, e.g. {"action": "recall"} for moderation
    actions: list[dict[str, Any]] = field(default_factory=list)
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "stop": self.stop,
            "replies": [r.text for r in self.replies],
            "actions": self.actions,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def pass_(stage: str, reason: str = "") -> Decision:
    """A stage that looked and had nothing to do."""
    return Decision(stage=stage, outcome="pass", reason=reason)
