"""Background tasks: stopping one the same way everywhere."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Cancel a background loop and wait until it has finished (its `finally` blocks ran).

    The task's cancellation is swallowed; the caller's own cancellation is not (a stop that is
    itself cancelled still propagates)."""
    if task is None or task.done():
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: a loop that crashed was logged where it crashed
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
