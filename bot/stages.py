"""Built-in pipeline stages that belong to the bot itself: dedupe and record."""

from __future__ import annotations

from collections import OrderedDict

from bot.kernel.events import Decision, Event, EventType, pass_
from bot.kernel.pipeline import Context
from bot.recorder import Recorder


class Deduper:
    """Remembers recent message uids; platforms retry callbacks, so the same id may come 4 times."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def seed(self, uids: list[str]) -> None:
        for uid in reversed(uids):
            self.remember(uid)

    def seen(self, uid: str) -> bool:
        return uid in self._seen

    def remember(self, uid: str) -> None:
        self._seen[uid] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    async def __call__(self, event: Event, ctx: Context) -> Decision:
        if self.seen(event.uid):
            return Decision(
                stage="dedupe", outcome="duplicate", stop=True,
                reason=f"消息 {event.message_id} 已处理过（平台重试或重复推送），本次忽略",
            )
        if not ctx.dry_run:
            self.remember(event.uid)
        return pass_("dedupe")


class RecordStage:
    """Queues the message for the batched writer; truncates oversized text but keeps the message."""

    def __init__(self, recorder: Recorder, max_text_length: int) -> None:
        self.recorder = recorder
        self.max_text_length = max_text_length

    async def __call__(self, event: Event, ctx: Context) -> Decision:
        reason = ""
        if len(event.text) > self.max_text_length:
            original = len(event.text)
            event.text = event.text[: self.max_text_length]
            ctx.truncated = True
            reason = f"文本过长（{original} 字），已截断为 {self.max_text_length} 字"
        if ctx.dry_run:
            return Decision(stage="record", outcome="dry-run", reason="试运行，不记录")
        self.recorder.add_message(event, truncated=ctx.truncated)
        outcome = "recorded" if event.type is EventType.MESSAGE else str(event.type)
        return Decision(stage="record", outcome=outcome, reason=reason)
