"""The running bot's pacing of bulk sends: the Pacer, its state across restarts, breaker alerts.

Today's bulk sends per account are counted again from the ledger at start (the budget holds across
restarts); an open breaker is kept in the kv table until an admin resumes it from the console.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.kernel.clock import Clock
from bot.kernel.pacing import Pacer, SendingSettings
from bot.kernel.priorities import ACTION_PRIORITY
from bot.store.outbound import OutboundItem
from broadcasts.compose import PlatformInfo

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.adapters.base import Adapter
    from bot.outbox import Outbox
    from bot.store import Store

log = logging.getLogger("qunbot.sending")
BREAKER_KEY = "sending.breaker."


class SendingGuard:
    """Owns the Pacer of the outbox; trips persist and alert, resumes clear."""

    def __init__(self, settings: SendingSettings, tz: ZoneInfo, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.tz = tz
        self.pacer = Pacer(settings, tz, clock, on_trip=self._tripped)
        self.outbox: Outbox | None = None
        self._tasks: set[asyncio.Task] = set()

    def restore(self, platforms: list[str]) -> None:
        """Blocking (start-up, on the writer thread): today's bulk count and open breakers."""
        local = self.clock.now().astimezone(self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        used = self.store.outbound.bulk_sent_since(midnight)
        for platform in sorted(set(platforms) | set(used)):
            raw = self.store.accounts.get_value(BREAKER_KEY + platform)
            state = json.loads(raw) if raw else {}
            self.pacer.restore(platform, used.get(platform, 0), state.get("reason", ""), state.get("at", ""))

    def _tripped(self, platform: str, reason: str) -> None:
        log.warning("bulk sends of %s paused by the circuit breaker: %s", platform, reason)
        state = json.dumps({"reason": reason, "at": self.clock.now().isoformat()}, ensure_ascii=False)

        def persist() -> None:
            self.store.accounts.set_value(BREAKER_KEY + platform, state)
            self.store.accounts.audit("system", "sending.breaker_open", platform, {"reason": reason})

        if self.outbox is None:
            return
        outbox = self.outbox
        alerts = [a for t in self.settings.alert_to if (a := self._alert(t, platform, reason)) is not None]
        # from inside the outbox's send task: hand the writes and alerts over without waiting
        async def later() -> None:
            try:
                await self.store.run(persist)
                if alerts:
                    await outbox.submit(alerts)
            except Exception:
                log.exception("could not record or announce the breaker of %s", platform)

        self._tasks.add(task := asyncio.get_running_loop().create_task(later()))
        task.add_done_callback(self._tasks.discard)

    def _alert(self, target: str, platform: str, reason: str) -> OutboundItem | None:
        where, _, user = target.partition(":")
        if not user:
            return None
        text = (f"【群发已暂停】{platform} 账号的群发因{reason}已自动暂停；回复、关键词不受影响。"
                "请检查账号状态后，在控制台「群发」页面恢复。")
        return OutboundItem(
            source="sending:breaker", occurrence=f"{platform}:{self.clock.now().isoformat()}", platform=where,
            chat_id=user, chat_kind="private", payload={"text": text, "kind": "text"}, priority=ACTION_PRIORITY,
        )

    async def resume(self, platform: str, actor: str) -> bool:
        was = self.pacer.resume(platform)

        def clear() -> None:
            self.store.accounts.set_value(BREAKER_KEY + platform, "")
            self.store.accounts.audit(actor, "sending.resume", platform, {})

        await self.store.run(clear)
        if self.outbox is not None:
            self.outbox.wake()
        return was

    def banner(self) -> list[dict[str, Any]]:
        """The open breakers, for the console's banner."""
        return [{"platform": p, **v} for p, v in sorted(self.pacer.paused().items())]

    def estimate(self, platform: str, count: int, start: datetime) -> datetime:
        return self.pacer.estimate_finish(platform, count, start)


def platform_info(adapters: dict[str, Adapter]) -> dict[str, PlatformInfo]:
    """Each adapter's capabilities and text size limit, as broadcasts compose with them."""
    return {name: PlatformInfo(name, frozenset(a.capabilities), a.max_text_bytes, a.split_long_text)
            for name, a in adapters.items()}
