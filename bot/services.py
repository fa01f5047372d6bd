"""What domain stages are given: settings, store, clock, randomness and a few bot hooks."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.clock import Clock

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
    capabilities: Callable[[str], frozenset[str]] = lambda platform: frozenset({"send"})
    # registry for domain objects that other parts (console views, CLI) need to reach
    registry: dict[str, Any] = field(default_factory=dict)
