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
# whole-group mute (全员禁言) on and off
WHOLE_BAN = "whole_ban"
# answer a join request (approve / refuse)
JOIN_ANSWER = "join_answer"

# the outbox payload kind of a platform action (recall, mute, unmute, kick)
ACTION_KIND = "action"
# zh-CN label of each platform action, as shown in the ledger and the console
LABELS = {"recall": "撤回消息", "mute": "禁言", "unmute": "解除禁言", "kick": "移出群聊",
          "whole_ban": "全员禁言", "join_answer": "处理入群申请"}
