"""The vocabulary of platform actions and adapter capabilities, shared by moderation (which
degrades an action an adapter cannot perform), commands, the outbox and the adapters."""

from __future__ import annotations

# Capability names an adapter declares; moderation degrades actions it cannot perform.
SEND = "send"
RECALL = "recall"
MUTE = "mute"
KICK = "kick"
PRIVATE = "private"
LINK_CARD = "link"
IMAGE = "image"

# the outbox payload kind of a platform action (recall, mute, unmute, kick)
ACTION_KIND = "action"
# zh-CN label of each platform action, as shown in the ledger and the console
LABELS = {"recall": "撤回消息", "mute": "禁言", "unmute": "解除禁言", "kick": "移出群聊"}
