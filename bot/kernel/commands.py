"""Chat commands ("/help", moderators' "/mute @某人 1d" …): a registry that stages consult."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.kernel.events import Decision, Event, EventType, Reply, pass_
from bot.kernel.pipeline import Context

CommandHandler = Callable[[Event, Context, list[str]], Awaitable[Decision]]


class CommandStage:
    """Dispatches messages starting with "/" to registered handlers; other text passes."""

    def __init__(self, bot_name: str = "") -> None:
        self.bot_name = bot_name
        self.handlers: dict[str, tuple[CommandHandler, str]] = {}
        self.register("help", self._help, "显示可用命令")

    def register(self, name: str, handler: CommandHandler, summary: str) -> None:
        self.handlers[name] = (handler, summary)

    async def __call__(self, event: Event, ctx: Context) -> Decision:
        if event.type is not EventType.MESSAGE:
            return pass_("commands")
        text = event.text.strip()
        if not text.startswith(("/", "／")):
            return pass_("commands")
        name, *args = text[1:].split()
        entry = self.handlers.get(name.lower()) if name else None
        if entry is None:
            return pass_("commands", f"未知命令 /{name}")
        decision = await entry[0](event, ctx, args)
        decision.stage = "commands"
        return decision

    async def _help(self, event: Event, ctx: Context, args: list[str]) -> Decision:
        lines = [f"/{n} — {summary}" for n, (_, summary) in sorted(self.handlers.items())]
        return Decision(
            stage="commands", outcome="answered", stop=True, reason="/help",
            replies=[Reply(text="可用命令：\n" + "\n".join(lines))],
        )
