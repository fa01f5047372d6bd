"""What domain stages are given: settings, store, clock, randomness and a few bot hooks."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.kernel.clock import Clock

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.store import Store
    from bot.store.outbound import OutboundItem


@dataclass
class Services:
    """Injected dependencies of keywords / intents / moderation / schedules."""

    settings: Settings
    store: Store
    clock: Clock = field(default_factory=Clock)
    rng: random.Random = field(default_factory=random.Random)
    # set by the running bot; None in offline tools such as `qunbot faq eval`
    submit: Callable[[list[OutboundItem]], Awaitable[list[OutboundItem]]] | None = None
    # the same without waiting for the ledger insert (hot path); None offline
    submit_nowait: Callable[[list[OutboundItem]], None] | None = None
    capabilities: Callable[[str], frozenset[str]] = lambda platform: frozenset({"send"})
    # write-behind: queue a store write into the recorder's next batch (None when offline: run it now)
    defer_write: Callable[..., None] | None = None
    # the same for one row of a writer that takes many: `fn(rows)` once per batch
    defer_row: Callable[[Callable[[list[Any]], Any], Any], None] | None = None
    # registry for domain objects that other parts (console views, CLI) need to reach
    registry: dict[str, Any] = field(default_factory=dict)

    def write_later(self, fn: Callable[..., Any], *args: Any) -> None:
        """Hot-path stages use this for writes nobody waits for (logs, counters, flags)."""
        if self.defer_write is None:
            fn(*args)
        else:
            self.defer_write(fn, *args)

    def write_row_later(self, fn: Callable[[list[Any]], Any], row: Any) -> None:
        """One row for `fn(rows)`, which writes a batch's rows in one statement."""
        if self.defer_row is None:
            fn([row])
        else:
            self.defer_row(fn, row)
