"""Start-up recovery: messages acknowledged before a crash (SIGKILL, power loss) but never handled.

Their rows are still `received`; each runs the stages after "record" again. Replies keep their
outbox keys (reply:<uid>, occurrence), so one already queued is not sent twice; past
`reply_ttl` a reply is too late and is dropped, while moderation still applies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.kernel.events import Decision, Event
from bot.kernel.pipeline import Context

log = logging.getLogger("qunbot.bot")

# older unhandled messages are history, not worth moderating or answering any more
RECOVERY_WINDOW = timedelta(hours=24)
RECOVERY_LIMIT = 20_000
# ctx.notes key: a recovered message past reply_ttl, whose replies are dropped
LATE = "recovered_late"


def too_late(ctx: Context) -> bool:
    """A recovered message whose replies would come after reply_ttl."""
    return bool(ctx.notes.get(LATE))


async def requeue_unhandled(
    events: list[Event], make_context: Callable[[Event], Context], reply_ttl: float,
    enqueue: Callable[[Event, Context], Awaitable[None]],
) -> None:
    """Hand each unhandled message back to the workers, its trace saying why."""
    late = 0
    for event in events:
        ctx = make_context(event)
        ctx.recovered = True
        reason = "进程重启后补处理：消息已记录但未处理完"
        if reply_ttl and (ctx.now - event.time).total_seconds() > reply_ttl:
            ctx.notes[LATE] = True
            late += 1
            reason += f"；已超过回复时限（{reply_ttl:g} 秒），不再回复，审核照常"
        ctx.decisions.append(Decision(stage="recover", outcome="resumed", reason=reason))
        await enqueue(event, ctx)
    if events:
        log.warning("handling %d messages recorded before a stop but not handled (%d too late to answer)",
                    len(events), late)
