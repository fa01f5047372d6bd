"""Moderators' chat commands in groups: /mute @某人 1d, /unmute, /warn, /kick.

Only members registered as moderators of that group (config `[[groups]] moderators` or the
console/CLI) may use them; anyone else gets a polite refusal and nothing happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.kernel.actions import KICK, MUTE
from bot.kernel.durations import parse_duration
from bot.kernel.events import Decision, Event, Reply
from bot.kernel.pipeline import Context
from moderation.actions import human_duration

if TYPE_CHECKING:
    from bot.kernel.commands import CommandStage
    from moderation.stage import ModerationStage

ERR_NOT_GROUP = "该命令只能在群聊中使用"
ERR_NOT_MODERATOR = "只有本群管理员可以使用 /{name}"
ERR_NO_TARGET = "请 @ 要处理的成员，例如：/{name} @某人{example}"
ERR_UNSUPPORTED = "当前平台不支持{what}，请在客户端手动操作"


def register_commands(commands: CommandStage, stage: ModerationStage) -> None:
    """Add the moderator commands to the bot's CommandStage."""
    mc = ModeratorCommands(stage)
    commands.register("mute", mc.mute, "禁言成员：/mute @某人 1d（仅群管理员）")
    commands.register("unmute", mc.unmute, "解除禁言：/unmute @某人（仅群管理员）")
    commands.register("warn", mc.warn, "警告成员并记一次违规：/warn @某人（仅群管理员）")
    commands.register("kick", mc.kick, "移出群聊：/kick @某人（仅群管理员）")


def _reply(outcome: str, text: str, reason: str, **kw) -> Decision:
    return Decision(stage="commands", outcome=outcome, stop=True, reason=reason, replies=[Reply(text=text)], **kw)


class ModeratorCommands:
    def __init__(self, stage: ModerationStage) -> None:
        self.stage = stage

    async def _check(self, event: Event, name: str, args: list[str], example: str = "") -> Decision | tuple[str, str]:
        if not event.is_group:
            return _reply("denied", ERR_NOT_GROUP, f"/{name}：非群聊")
        if not self.stage.is_moderator(event.platform, event.chat_id, event.sender_id):
            return _reply("denied", ERR_NOT_MODERATOR.format(name=name),
                          f"/{name}：{event.sender_name or event.sender_id} 不是本群管理员，已拒绝")
        target = await self._target(event, args)
        if target is None:
            return _reply("answered", ERR_NO_TARGET.format(name=name, example=example), f"/{name}：未指定成员")
        return target

    async def _target(self, event: Event, args: list[str]) -> tuple[str, str] | None:
        store = self.stage.services.store
        members = await store.run(store.chats.list_members, event.platform, event.chat_id)
        names = {m["member_id"]: m["name"] for m in members}
        if event.mentions:
            member = event.mentions[0]
            return member, names.get(member, member)
        for arg in args:
            if arg.startswith(("@", "＠")) and len(arg) > 1:
                wanted = arg[1:]
                for m in members:
                    if wanted in (m["name"], m["member_id"]):
                        return m["member_id"], m["name"] or m["member_id"]
        return None

    def _can(self, event: Event, capability: str) -> bool:
        return capability in self.stage.services.capabilities(event.platform)

    def _strike(self, event: Event, ctx: Context, member: str, step: str, reason: str) -> None:
        if not ctx.dry_run:
            self.stage.strikes.record(event.platform, event.chat_id, member, step, reason,
                                      source="command", actor=event.sender_id)

    async def mute(self, event: Event, ctx: Context, args: list[str]) -> Decision:
        checked = await self._check(event, "mute", args, " 1d")
        if isinstance(checked, Decision):
            return checked
        member, name = checked
        seconds = float(self.stage.settings.mute_duration)
        for arg in args:
            if not arg.startswith(("@", "＠")):
                try:
                    seconds = parse_duration(arg)
                except ValueError:
                    return _reply("answered", f"无法识别时长“{arg}”，例如 30m、2h、1d", "/mute：时长无效")
        if not self._can(event, MUTE):
            return _reply("answered", ERR_UNSUPPORTED.format(what="禁言"), "/mute：平台不支持禁言")
        reason = f"管理员 {event.sender_name or event.sender_id} 禁言 {name} {human_duration(seconds)}"
        await self.stage.services.store.run(self._strike, event, ctx, member, f"mute:{int(seconds)}s", reason)
        return _reply("answered", f"已禁言 {name} {human_duration(seconds)}", reason, actions=[
            {"action": "mute", "chat_id": event.chat_id, "member_id": member, "seconds": int(seconds),
             "member_name": name}])

    async def unmute(self, event: Event, ctx: Context, args: list[str]) -> Decision:
        checked = await self._check(event, "unmute", args)
        if isinstance(checked, Decision):
            return checked
        member, name = checked
        if not self._can(event, MUTE):
            return _reply("answered", ERR_UNSUPPORTED.format(what="解除禁言"), "/unmute：平台不支持禁言")
        reason = f"管理员 {event.sender_name or event.sender_id} 解除 {name} 的禁言"
        return _reply("answered", f"已解除 {name} 的禁言", reason, actions=[
            {"action": "unmute", "chat_id": event.chat_id, "member_id": member, "member_name": name}])

    async def warn(self, event: Event, ctx: Context, args: list[str]) -> Decision:
        checked = await self._check(event, "warn", args)
        if isinstance(checked, Decision):
            return checked
        member, name = checked
        reason = f"管理员 {event.sender_name or event.sender_id} 警告 {name}"
        await self.stage.services.store.run(self._strike, event, ctx, member, "warn", reason)
        return _reply("answered", f"@{name} 请遵守群规，这是一次警告。", reason)

    async def kick(self, event: Event, ctx: Context, args: list[str]) -> Decision:
        checked = await self._check(event, "kick", args)
        if isinstance(checked, Decision):
            return checked
        member, name = checked
        if not self._can(event, KICK):
            return _reply("answered", ERR_UNSUPPORTED.format(what="移出成员"), "/kick：平台不支持移出")
        reason = f"管理员 {event.sender_name or event.sender_id} 将 {name} 移出群聊"
        await self.stage.services.store.run(self._strike, event, ctx, member, "kick", reason)
        return _reply("answered", f"已将 {name} 移出群聊", reason, actions=[
            {"action": "kick", "chat_id": event.chat_id, "member_id": member, "member_name": name}])
