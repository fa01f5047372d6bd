"""The one pipeline: every inbound Event flows through the same stages, in order.

A stage is a plain async callable `(event, ctx) -> Decision`. A decision with `stop=True`
ends the run (duplicate, blocked, answered). Built-in and later stages register the same way.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.kernel.events import Decision, Event, Reply

Stage = Callable[[Event, "Context"], Awaitable[Decision]]


@dataclass(slots=True)
class Context:
    """What a stage may know besides the event: chat tags, time, earlier decisions."""

    now: datetime
    chat_tags: list[str] = field(default_factory=list)
    chat_name: str = ""
    # the sender's member tags (members/): keyword rules and FAQ entries may target them
    member_tags: frozenset[str] = frozenset()
    # True for `qunbot try` and the console's "try a message": decide, change nothing
    dry_run: bool = False
    decisions: list[Decision] = field(default_factory=list)
    truncated: bool = False
    # stage-to-stage notes, e.g. moderation's normalised text for later stages
    notes: dict[str, Any] = field(default_factory=dict)
    # set when a stage stopped the run, so a later `run(start=…)` does nothing
    stopped: bool = False
    # handled at start-up after a crash cut its handling short: judged on its own, as the
    # in-memory windows it arrived in (flooding, message rate) were lost with the process
    recovered: bool = False


@dataclass(slots=True)
class Outcome:
    """The result of one event's run: every decision, and what to send and do."""

    event: Event
    decisions: list[Decision]
    replies: list[Reply]
    actions: list[dict[str, Any]]
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.event.uid,
            "status": self.status,
            "replies": [
                {"text": r.text, "kind": r.kind, "private": r.private, "url": r.url}
                for r in self.replies
            ],
            "actions": self.actions,
            "decisions": [d.as_dict() for d in self.decisions],
        }


class Pipeline:
    """Runs stages in registration order and collects their decisions."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, Stage]] = []

    def register(self, name: str, stage: Stage) -> None:
        self.stages.append((name, stage))

    def replace(self, name: str, stage: Stage) -> None:
        for i, (existing, _) in enumerate(self.stages):
            if existing == name:
                self.stages[i] = (name, stage)
                return
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.stages]

    async def run(self, event: Event, ctx: Context, *, start: int = 0, end: int | None = None) -> Outcome:
        """Run stages[start:end], continuing the decisions already in ctx (intake, then the rest)."""
        status = "passed"
        for name, stage in ([] if ctx.stopped else self.stages[start:end]):
            started = time.perf_counter()
            decision = await stage(event, ctx)
            decision.elapsed_ms = (time.perf_counter() - started) * 1000
            if not decision.stage:
                decision.stage = name
            ctx.decisions.append(decision)
            if decision.stop:
                status = decision.outcome
                ctx.stopped = True
                break
        if ctx.stopped and status == "passed":
            status = ctx.decisions[-1].outcome
        replies = [r for d in ctx.decisions for r in d.replies]
        actions = [a for d in ctx.decisions for a in d.actions]
        return Outcome(event=event, decisions=ctx.decisions, replies=replies, actions=actions, status=status)
