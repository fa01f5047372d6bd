"""What domain stages are given: settings, store, clock, randomness and a few bot hooks.

The port between the application and the domains: the runtime fills it in, domains read it.
It names the settings domains read as a Protocol (`DomainSettings`, which `bot.config.Settings`
satisfies), so no domain depends on config assembly, which imports every domain.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from bot.kernel.clock import Clock

if TYPE_CHECKING:
    from bot.store import Store
    from bot.store.outbound import OutboundItem
    from intents.config import FaqSettings
    from keywords.config import KeywordRuleConfig, WelcomeConfig
    from moderation.config import ModerationSettings
    from schedules.config import CampaignConfig, PostConfig, ScheduleSettings


class GroupSettings(Protocol):
    """A chat declared in config (bot.config.GroupConfig)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def moderators(self) -> list[str]: ...


class AdapterNotes(Protocol):
    """The adapters' settings as domains see them (bot.adapters.config.AdaptersSettings)."""

    def send_notes(self) -> dict[str, str]:
        """Per platform, what a preview of a post must say about sending there (zh-CN)."""
        ...


class DomainSettings(Protocol):
    """The sections of the settings that domains read (bot.config.Settings has them all)."""

    @property
    def source(self) -> str: ...
    @property
    def tz(self) -> ZoneInfo: ...
    @property
    def groups(self) -> Sequence[GroupSettings]: ...
    @property
    def keywords(self) -> Sequence[KeywordRuleConfig]: ...
    @property
    def welcome(self) -> Sequence[WelcomeConfig]: ...
    @property
    def faq(self) -> FaqSettings: ...
    @property
    def moderation(self) -> ModerationSettings: ...
    @property
    def schedule(self) -> ScheduleSettings: ...
    @property
    def campaigns(self) -> Sequence[CampaignConfig]: ...
    @property
    def posts(self) -> Sequence[PostConfig]: ...
    @property
    def adapters(self) -> AdapterNotes: ...


@dataclass
class Services:
    """Injected dependencies of keywords / intents / moderation / schedules."""

    settings: DomainSettings
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
