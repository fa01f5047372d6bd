"""What every adapter provides: routes, send, platform actions, declared capabilities; and
the narrow port an adapter is given instead of the runtime (`Host`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.kernel.actions import SEND

if TYPE_CHECKING:
    from aiohttp import web

    from bot.kernel.clock import Clock
    from bot.kernel.events import Event
    from bot.store import Store


log = logging.getLogger("qunbot.adapters")


class RecordingUnavailable(RuntimeError):
    """The database did not commit an accepted message in time (disk full, locked)."""


class Host(Protocol):
    """What an adapter may ask of the running bot (bot.runtime.Bot provides it): submit the
    events it receives, the clock, the store, and writes in the recorder's next batch.
    Connections are reported the other way, through `Adapter.connection_changed`."""

    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def bot_name(self) -> str:
        """The bot's display name (the sender of its messages)."""
        ...

    async def submit(self, event: Event) -> str:
        """Accept an event; returns once it is durably recorded ("accepted") or known
        ("duplicate"); RecordingUnavailable when the database cannot take it in time."""
        ...

    def refresh_chats(self) -> None:
        """Re-read the chats' names and tags after an adapter added chats."""
        ...

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a store write in the recorder's next batch."""
        ...

    def defer_row(self, fn: Callable[[list[Any]], Any], row: Any) -> None:
        """One row for `fn(rows)`, written with the recorder's next batch."""
        ...


class SendError(Exception):
    """A delivery failed. Adapters raise one of the subclasses below, which tell the outbox
    whether the platform may have acted: only then is a retry dangerous."""


class TransientSendError(SendError):
    """Not done, worth retrying later: the request never reached the platform (connection
    refused, not written) or the platform refused it for now (5xx, busy, rate limited);
    `retry_after` in seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Retrying will not help (unknown chat, forbidden, invalid payload)."""


class OutcomeUnknown(SendError):
    """The request was sent and then the answer was lost (socket closed, timeout, connection
    reset mid-response): the platform may have acted. Never retried unless the adapter's send
    is idempotent; the delivery is marked `uncertain`."""


class NotConnected(SendError):
    """The adapter has no connection to its platform right now; nothing was sent. The outbox
    waits for the adapter to report it is connected again, without using up an attempt."""


class ActionNotSupported(Exception):
    """The adapter cannot perform this platform action."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `count` messages per `period` seconds, per adapter or per target chat."""

    scope: str  # "adapter" | "target"
    count: int
    period: float


@dataclass(slots=True)
class Delivery:
    """One outbox row handed to an adapter."""

    id: int
    platform: str
    chat_id: str
    chat_kind: str
    payload: dict[str, Any]
    source: str = ""
    occurrence: str = ""
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.payload.get("text", "")


class Adapter:
    """Base class: subclasses set `name`, capabilities and limits, and override what they do."""

    name: str = ""
    capabilities: frozenset[str] = frozenset({SEND})
    # True when re-sending the same delivery id cannot post twice (used after a crash mid-send)
    idempotent_send: bool = False
    # True when a member's id is only meaningful inside one chat (QQ bot: a member_openid per
    # group): a member directory must never merge members of different chats by id
    member_ids_per_chat: bool = False
    rate_limits: tuple[RateLimit, ...] = ()
    # set by start(); None (or not set) before it
    bot: Host | None

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    # -- connection state: the one thing the outbox asks of an adapter besides send --------

    @property
    def connected(self) -> bool:
        """Can a send reach the platform now? Adapters without a standing connection (HTTP
        APIs) are always "connected"; socket-based ones say whether a socket is up."""
        return True

    def on_connection(self, listener: Callable[[str, bool], None]) -> None:
        """Call `listener(adapter name, connected)` whenever the connection comes or goes."""
        self.__dict__.setdefault("_connection_listeners", []).append(listener)

    def connection_changed(self) -> None:
        """Adapters call this when a connection came up or went down."""
        up = self.connected
        for listener in self.__dict__.get("_connection_listeners", ()):
            try:
                listener(self.name, up)
            except Exception:
                log.exception("connection listener failed for adapter %s", self.name)

    async def start(self, bot: Host) -> None:
        self.bot = bot

    async def stop(self) -> None:
        return None

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    async def send(self, delivery: Delivery) -> str | None:
        """Deliver; return the platform's message id when it gives one."""
        raise PermanentSendError(f"adapter {self.name!r} cannot send")

    async def perform(self, action: dict[str, Any]) -> None:
        """Do a platform action: {"action": "recall"|"mute"|"kick", "chat_id", "member_id", ...}."""
        raise ActionNotSupported(action.get("action", "?"))

    def status(self) -> dict[str, Any]:
        """Shown on /healthz and in the console."""
        return {"name": self.name, "capabilities": sorted(self.capabilities)}
