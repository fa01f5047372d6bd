"""The optional daily summary: today's figures posted to a managers' chat through the outbox.

The delivery ledger key is (source "report:daily", occurrence = local date, target), so the
summary is sent once per day even when the bot restarts after the configured time. A day
whose summary was never handed over (the bot was down that evening) is posted the next
day, marked 补发, if anything was said that day.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.kernel.priorities import BROADCAST_PRIORITY
from bot.kernel.tasks import cancel_and_wait
from bot.reports.figures import Report, ReportFilter, compute
from bot.store.outbound import OutboundItem

if TYPE_CHECKING:
    from bot.runtime import Bot

log = logging.getLogger("qunbot.reports")
SOURCE = "report:daily"
CHECK_SECONDS = 30.0


def summary_text(report: Report, *, late: bool = False) -> str:
    """The zh-CN message managers read in their chat."""
    t = report.totals
    lines = [
        f"【每日群数据{'·补发' if late else ''}】{report.start.isoformat()}（{report.scope}）",
        f"消息 {t['messages']} 条，活跃成员 {t['active']} 人",
        f"自动回复：关键词 {t['keyword_answers']} 次，问答 {t['faq_answers']} 次，推荐问题 {t['suggested']} 次",
        f"未回答 {t['unanswered']} 条",
    ]
    blocks = f"拦截 {t['blocked']} 条，转人工审核 {t['held']} 条"
    if report.categories:
        blocks += "（" + "、".join(f"{c} {n}" for c, n in report.categories[:5]) + "）"
    lines.append(blocks)
    lines.append(f"新成员 {t['joins']} 人，退群 {t['leaves']} 人")
    if report.top_unanswered:
        top = "；".join(f"{c.text[:20]}（{c.count} 次）" for c in report.top_unanswered[:3])
        lines.append(f"未回答最多：{top}")
    return "\n".join(lines)


class DailySummary:
    """Checks the injected clock every 30 s; after the configured local time, posts today's summary."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.settings = bot.settings.reports
        hh, _, mm = self.settings.daily_summary_time.partition(":")
        self.at = (int(hh), int(mm))
        self.sent_on: date | None = None
        self._caught_up_on: date | None = None
        self._warned_on: date | None = None
        self._task: asyncio.Task | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.daily_summary_chat)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="daily-summary")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("daily summary failed; will retry")
            await asyncio.sleep(CHECK_SECONDS)

    async def tick(self) -> bool:
        """Post today's summary if it is due and not yet handed to the outbox; True when posted."""
        if not self.enabled:
            return False
        tz = self.bot.settings.tz
        local: datetime = self.bot.clock.now().astimezone(tz)
        today = local.date()
        if self._caught_up_on != today and await self._post_missed(today - timedelta(days=1)) is not None:
            self._caught_up_on = today
        if self.sent_on == today or (local.hour, local.minute) < self.at:
            return False
        created = await self._post(today)
        if created is None:
            return False
        self.sent_on = today
        return created

    async def _post_missed(self, day: date) -> bool | None:
        """Yesterday's summary if it was never handed over and there was anything to say;
        None while the chat is not found (tried again on the next tick)."""
        store = self.bot.store
        if await store.run(store.outbound.exists, SOURCE, day.isoformat()):
            return False
        return await self._post(day, late=True)

    async def _post(self, day: date, *, late: bool = False) -> bool | None:
        """Hand `day`'s summary to the outbox; True if new, None when the chat is unknown."""
        store = self.bot.store
        target = await store.run(_find_chat, store, self.settings.daily_summary_chat)
        if target is None:
            # the chat may appear later today (first message, config reload): retry, warn once
            today = self.bot.clock.now().astimezone(self.bot.settings.tz).date()
            if self._warned_on != today:
                log.warning("daily summary: chat %r not found", self.settings.daily_summary_chat)
                self._warned_on = today
            return None
        report = await asyncio.to_thread(compute, store, ReportFilter(day, day), self.bot.settings.tz)
        if late and not report.totals["messages"]:
            return False  # a quiet day (or a new install) is not worth a late message
        item = OutboundItem(
            source=SOURCE, occurrence=day.isoformat(), platform=target["platform"],
            chat_id=target["chat_id"], chat_kind=target["kind"],
            payload={"text": summary_text(report, late=late), "kind": "text"}, priority=BROADCAST_PRIORITY,
        )
        return bool(await self.bot.outbox.submit([item]))


def _find_chat(store, spec: str):
    platform, sep, chat_id = spec.partition(":")
    if sep:
        found = store.chats.find_chat(chat_id, platform)
        if found:
            return found
    return store.chats.find_chat(spec)
