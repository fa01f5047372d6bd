"""The bot's own subcommands: run, check-config, try, why, user, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import uuid
from typing import Any

from bot.cli import (
    CliContext,
    add_command,
    common_parent,
    config_error_json,
    print_config_errors,
    set_common_parent,
)
from bot.kernel.events import ChatKind, Event
from bot.settings_loader import ConfigError
from bot.store.accounts import ROLES


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "run", cmd_run, "start the bot: console, simulator and enabled adapters")
    p.add_argument("--host", help="listen address (overrides [console] host)")
    p.add_argument("--port", type=int, help="listen port (overrides [console] port)")

    add_command(sub, "check-config", cmd_check_config, "validate the config file without starting",
                json_flag=True)

    p = add_command(sub, "try", cmd_try, "run one message through the pipeline without sending",
                    json_flag=True)
    p.add_argument("text", help="the message text")
    p.add_argument("--group", help="group name or chat id (default: the first group)")
    p.add_argument("--private", action="store_true", help="as a 1:1 chat with the bot")
    p.add_argument("--as", dest="member", help="member name or id (default: first member of the group)")
    p.add_argument("--platform", default="sim", help="platform of the chat (default sim)")
    p.add_argument("--mention", action="store_true", help="as if the bot was @mentioned")

    p = add_command(sub, "why", cmd_why, "print what each stage decided about a message", json_flag=True)
    p.add_argument("message_id", help="message id (platform id, or platform:id)")

    p = sub.add_parser("user", help="manage console users", parents=[common_parent(sub)])
    usub = p.add_subparsers(dest="user_command", metavar="ACTION")
    usub.required = True
    set_common_parent(usub, common_parent(sub))
    p = add_command(usub, "add", cmd_user_add, "create a console user")
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--password", help="password (default: asked, or random with --random)")
    p.add_argument("--random", action="store_true", help="generate and print a random password")
    p = add_command(usub, "passwd", cmd_user_passwd, "set a user's password")
    p.add_argument("name")
    p.add_argument("--password")
    p.add_argument("--random", action="store_true")
    add_command(usub, "list", cmd_user_list, "list console users", json_flag=True)

    p = sub.add_parser("demo", help="demo data", parents=[common_parent(sub)])
    dsub = p.add_subparsers(dest="demo_command", metavar="ACTION")
    dsub.required = True
    set_common_parent(dsub, common_parent(sub))
    p = add_command(dsub, "reset", cmd_demo_reset, "forget simulated chats and seed the demo again")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


# -- run -------------------------------------------------------------------------------

def cmd_run(ctx: CliContext) -> int:
    from aiohttp import web

    from bot.logs import setup_logging
    from bot.web.app import create_app
    from bot.web.passwords import hash_password, random_password

    settings = ctx.settings
    setup_logging(settings.logging.level, settings.logging.format)
    store = ctx.store()
    host = ctx.args.host or settings.console.host
    port = ctx.args.port if ctx.args.port is not None else settings.console.port
    if store.accounts.count_users() == 0:
        password = random_password()
        store.accounts.add_user("admin", hash_password(password), "admin")
        store.accounts.audit("cli", "users.create", "admin", {"role": "admin", "first_run": True})
        print("=" * 60)
        print("首次启动：已创建管理员账号 / first start: admin account created")
        print("  用户名 user:     admin")
        print(f"  密码 password:   {password}")
        print("  请妥善保存，此密码只显示一次。 / Shown once: keep it safe.")
        print("=" * 60)
    ctx.close()  # the app opens its own store on startup
    ctx._store = None
    app = create_app(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host

    def ready(_message: str) -> None:
        # run_app calls this once the site is listening, after the bot has started
        print(f"控制台 / console: http://{shown}:{port}/   (Ctrl+C 停止 / to stop)", flush=True)

    web.run_app(app, host=host, port=port, print=ready, shutdown_timeout=10, access_log=None)
    return 0


# -- check-config ------------------------------------------------------------------------

def cmd_check_config(ctx: CliContext) -> int:
    try:
        settings = ctx.settings
    except ConfigError as exc:
        # every mistake at once, one per line (stderr), or as JSON on stdout with --json
        if getattr(ctx.args, "json", False):
            print(json.dumps(config_error_json(exc), ensure_ascii=False, indent=2))
        else:
            print_config_errors(exc)
        return 2
    data: dict[str, Any] = {
        "ok": True, "config": settings.source, "database": str(settings.database_path),
        "adapters": settings.adapters.enabled_names(), "timezone": settings.bot.timezone,
        "keywords": len(settings.keywords), "groups": len(settings.groups),
        "campaigns": len(settings.campaigns), "posts": len(settings.posts),
    }
    ctx.emit(data, lambda: (
        f"配置有效 / config OK: {settings.source}\n"
        f"  数据库 database: {settings.database_path}\n"
        f"  适配器 adapters: {', '.join(data['adapters']) or '-'}\n"
        f"  时区 timezone: {settings.bot.timezone}"
    ))
    return 0


# -- try ---------------------------------------------------------------------------------

def cmd_try(ctx: CliContext) -> int:
    from bot.adapters.registry import build_adapters
    from bot.runtime import Bot

    settings = ctx.settings
    store = ctx.store()
    args = ctx.args
    event, error = _try_event(store, args)
    if event is None:
        print(error, file=sys.stderr)
        return 2

    async def go():
        bot = Bot(settings, store, adapters=build_adapters(settings))
        bot.refresh_chats()
        return await bot.try_event(event)

    outcome = asyncio.run(go())
    data = outcome.as_dict()
    data["chat"] = {"id": event.chat_id, "name": event.chat_name, "kind": str(event.chat_kind)}
    data["sender"] = {"id": event.sender_id, "name": event.sender_name}
    data["text"] = event.text
    ctx.emit(data, lambda: _format_trace(data))
    return 0


def _try_event(store, args) -> tuple[Event | None, str]:
    from bot.kernel.clock import Clock

    platform = args.platform
    if args.private:
        member = args.member or "tester"
        return Event(
            platform=platform, chat_id=member, chat_kind=ChatKind.PRIVATE, sender_id=member,
            sender_name=member, message_id="try-" + uuid.uuid4().hex[:8], time=Clock().now(),
            text=args.text, to_me=True,
        ), ""
    if args.group:
        chat = store.chats.find_chat(args.group, platform)
    else:
        chats = store.chats.list_chats(platform, "group")
        chat = chats[0] if chats else None
    if chat is None:
        names = ", ".join(c["name"] or c["chat_id"] for c in store.chats.list_chats(platform, "group"))
        return None, f"找不到群聊 {args.group!r}。可用的群聊 / groups: {names or '（无）'}"
    members = store.chats.list_members(platform, chat["chat_id"])
    member = None
    if args.member:
        member = next((m for m in members if args.member in (m["member_id"], m["name"])), None)
        sender_id, sender_name = (member["member_id"], member["name"]) if member else (args.member, args.member)
    elif members:
        # an ordinary member by default: moderators' messages skip moderation
        first = next((m for m in members if not m["is_moderator"]), members[0])
        sender_id, sender_name = first["member_id"], first["name"]
    else:
        sender_id, sender_name = "tester", "测试成员"
    return Event(
        platform=platform, chat_id=chat["chat_id"], chat_kind=ChatKind.GROUP, sender_id=sender_id,
        sender_name=sender_name, message_id="try-" + uuid.uuid4().hex[:8], time=Clock().now(),
        text=args.text, to_me=args.mention, mentions=["bot"] if args.mention else [],
        chat_name=chat["name"],
    ), ""


def _format_trace(data: dict[str, Any]) -> str:
    lines = [f"消息 message: {data['text']!r}  群 chat: {data['chat']['name'] or data['chat']['id']}"
             f"  成员 member: {data['sender']['name']}"]
    for d in data["decisions"]:
        reason = f" — {d['reason']}" if d["reason"] else ""
        lines.append(f"  [{d['stage']}] {d['outcome']}{reason}  ({d['elapsed_ms']:.2f} ms)")
    if data["replies"]:
        lines.append("回复 reply:")
        lines.extend(f"  {'(私聊) ' if r['private'] else ''}{r['text']}" for r in data["replies"])
    else:
        lines.append("回复 reply: （无 none）")
    if data["actions"]:
        lines.append("动作 actions: " + ", ".join(a.get("action", "?") for a in data["actions"]))
    return "\n".join(lines)


# -- why ---------------------------------------------------------------------------------

def cmd_why(ctx: CliContext) -> int:
    store = ctx.store()
    found = store.messages.find(ctx.args.message_id)
    if not found:
        print(f"没有找到消息 {ctx.args.message_id} / no such message", file=sys.stderr)
        return 1
    results = []
    for message in found:
        decisions = store.messages.decisions(message["uid"])
        results.append({
            "message_id": message["uid"], "chat_id": message["chat_id"], "sender": message["sender_name"],
            "time": message["time"], "text": message["text"], "status": message["status"],
            "decisions": [
                {k: d[k] for k in ("stage", "outcome", "reason", "detail", "elapsed_ms", "time")}
                for d in decisions
            ],
        })

    def text() -> str:
        out = []
        for r in results:
            out.append(f"{r['message_id']}  {r['time']}  {r['chat_id']}  {r['sender']}: {r['text']!r}  [{r['status']}]")
            for d in r["decisions"]:
                reason = f" — {d['reason']}" if d["reason"] else ""
                out.append(f"  [{d['stage']}] {d['outcome']}{reason}")
            if not r["decisions"]:
                out.append("  （尚无决策记录 no decisions recorded yet）")
        return "\n".join(out)

    ctx.emit(results if len(results) > 1 else results[0], text)
    return 0


# -- user --------------------------------------------------------------------------------

def _password(args) -> tuple[str, bool]:
    from bot.web.passwords import random_password

    if args.password:
        return args.password, False
    if args.random or not sys.stdin.isatty():
        return random_password(), True
    first = getpass.getpass("密码 password: ")
    if first != getpass.getpass("再次输入 again: "):
        raise SystemExit("两次输入不一致 / passwords differ")
    return first, False


def cmd_user_add(ctx: CliContext) -> int:
    from bot.web.passwords import hash_password, username_problem

    problem = username_problem(ctx.args.name)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    store = ctx.store()
    password, generated = _password(ctx.args)
    if len(password) < 8:
        print("密码至少 8 位 / password must be at least 8 characters", file=sys.stderr)
        return 2
    if not store.accounts.add_user(ctx.args.name, hash_password(password), ctx.args.role):
        print(f"用户 {ctx.args.name} 已存在 / user exists", file=sys.stderr)
        return 1
    store.accounts.audit("cli", "users.create", ctx.args.name, {"role": ctx.args.role})
    print(f"已创建用户 created {ctx.args.name} ({ctx.args.role})")
    if generated:
        print(f"密码 password: {password}")
    return 0


def cmd_user_passwd(ctx: CliContext) -> int:
    from bot.web.passwords import hash_password

    store = ctx.store()
    password, generated = _password(ctx.args)
    if len(password) < 8:
        print("密码至少 8 位 / password must be at least 8 characters", file=sys.stderr)
        return 2
    if not store.accounts.set_password(ctx.args.name, hash_password(password)):
        print(f"没有用户 {ctx.args.name} / no such user", file=sys.stderr)
        return 1
    store.accounts.audit("cli", "users.password", ctx.args.name)
    print(f"已更新密码 password updated for {ctx.args.name}")
    if generated:
        print(f"密码 password: {password}")
    return 0


def cmd_user_list(ctx: CliContext) -> int:
    users = ctx.store().accounts.list_users()
    ctx.emit(
        users,
        lambda: (
            "\n".join(f"{u['name']}\t{u['role']}\t{'disabled' if u['disabled'] else ''}" for u in users)
            or "（无用户 no users）"
        ),
    )
    return 0


def cmd_demo_reset(ctx: CliContext) -> int:
    from bot.demo import reset_demo

    if not ctx.args.yes and sys.stdin.isatty():
        answer = input("将删除所有模拟群的聊天记录并重建示例数据，继续？[y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 1
    reset_demo(ctx.store())
    print("示例数据已重置 / demo data reset")
    return 0
