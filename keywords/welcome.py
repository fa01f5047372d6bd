"""Welcome messages: per group or tag (and member tag), templated, and merged when several members join at once.

The first join in a chat opens a window (default 10 s); later joins in the same chat within the
window are added to it. When the window closes one message naming everyone goes to the outbox,
keyed (source "welcome:<chat>", occurrence = window start) so it is delivered exactly once.
A welcome with member tags (e.g. VIP) only greets joining members who carry one of them; it has
its own window (occurrence "<start>#<welcome id>"), so VIPs and others joining together each get theirs.
Windows are closed by a small timer task that reads the injected clock (tests call `flush_due`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.kernel.events import Decision, Event, pass_
from bot.kernel.pipeline import Context
from bot.kernel.priorities import REPLY_PRIORITY
from bot.services import Services
from bot.store.outbound import OutboundItem
from keywords.rules import RuleError, split_list, to_bool, to_seconds
from keywords.templates import WELCOME_CONTEXT, check_template, clean_value, render, time_values

log = logging.getLogger("qunbot.keywords.welcome")

WELCOME_DEFAULTS: dict[str, Any] = {"id": "", "text": "", "groups": [], "tags": [], "window": 10.0, "enabled": True,
                                   "member_tags": []}
MAX_WINDOW = 600.0
MAX_NAMES = 30


def clean_welcome(data: dict[str, Any]) -> dict[str, Any]:
    """Check a welcome spec; raises RuleError naming each bad field (zh-CN)."""
    errors: dict[str, str] = {}
    spec = dict(WELCOME_DEFAULTS)
    for key, value in data.items():
        if key not in WELCOME_DEFAULTS:
            errors[key] = "未知字段（可用字段：id、text、groups、tags、member_tags、window、enabled）"
            continue
        if value is None:
            continue
        try:
            if key in ("groups", "tags", "member_tags"):
                spec[key] = split_list(value)
            elif key == "window":
                spec[key] = to_seconds(value)
            elif key == "enabled":
                spec[key] = to_bool(value)
            else:
                spec[key] = str(value).strip()
        except ValueError as exc:
            errors[key] = str(exc)
    if "text" not in errors:
        if not spec["text"]:
            errors["text"] = "欢迎语不能为空"
        else:
            try:
                check_template(spec["text"], WELCOME_CONTEXT)
            except ValueError as exc:
                errors["text"] = str(exc)
    if "window" not in errors and spec["window"] > MAX_WINDOW:
        errors["window"] = f"合并窗口最长 {int(MAX_WINDOW)} 秒"
    if errors:
        raise RuleError(errors)
    return spec


def welcome_config_id(spec: dict[str, Any]) -> str:
    basis = "\x1f".join([*sorted(spec["groups"]), "#", *sorted(spec["tags"])])
    if spec.get("member_tags"):  # appended only when set: ids of existing welcomes stay the same
        basis += "\x1f@\x1f" + "\x1f".join(sorted(spec["member_tags"]))
    return "welcome-cfg-" + hashlib.sha1(basis.encode()).hexdigest()[:8]


@dataclass
class _Pending:
    platform: str
    chat_id: str
    chat_name: str
    welcome_rowid: int
    text: str
    start: datetime
    end: datetime
    # set for member-tag welcomes: keeps their outbox key apart from the chat's general welcome
    tag_key: str = ""
    names: dict[str, str] = field(default_factory=dict)


class WelcomeBatcher:
    """Collects joins per chat and sends one merged welcome per window."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.welcomes: list[dict[str, Any]] = []
        self.pending: dict[tuple[str, str, int | None], _Pending] = {}
        self._timer: asyncio.Task | None = None

    def reload(self, rows: list[dict[str, Any]]) -> None:
        self.welcomes = [r for r in rows if r["enabled"]]

    def select(self, chat_id: str, chat_name: str, tags: list[str],
               member_tags: frozenset[str] | set[str] = frozenset()) -> dict[str, Any] | None:
        """The welcome a member with these tags joining this chat gets (None: no welcome)."""
        return self.choose(chat_id, chat_name, tags, member_tags)[0]

    def choose(self, chat_id: str, chat_name: str, tags: list[str],
               member_tags: frozenset[str] | set[str] = frozenset()) -> tuple[dict[str, Any] | None, list[str]]:
        """The most specific welcome: listed group, then tagged group, then one for all groups; on each
        level one for the member's tags before one for everybody. Also why more specific ones were skipped."""
        best: tuple[int, dict[str, Any]] | None = None
        skipped: list[tuple[int, str]] = []
        for row in self.welcomes:
            spec = row["spec"]
            if spec["groups"]:
                if not (chat_id in spec["groups"] or (chat_name and chat_name in spec["groups"])):
                    continue
                level = 0
            elif spec["tags"]:
                if not set(spec["tags"]) & set(tags):
                    continue
                level = 2
            else:
                level = 4
            wanted = spec.get("member_tags") or []
            rank = level if wanted else level + 1
            if wanted and not set(wanted) & set(member_tags):
                skipped.append((rank, f"欢迎语「{row['name']}」仅对带成员标签 {'、'.join(wanted)} 的成员发送"))
                continue
            if best is None or rank < best[0]:
                best = (rank, row)
        limit = best[0] if best else 99
        return (best[1] if best else None), [why for rank, why in skipped if rank < limit]

    async def on_join(self, event: Event, ctx: Context) -> Decision:
        if event.to_me:
            # the bot itself was added to the group (QQ's GROUP_ADD_ROBOT): nobody to welcome
            return pass_("keywords", "机器人自己入群，不发欢迎语")
        row, skipped = self.choose(event.chat_id, ctx.chat_name or event.chat_name, ctx.chat_tags, ctx.member_tags)
        if row is None:
            if skipped:
                return pass_("keywords", f"{'；'.join(skipped)}，该成员没有这些标签，本群也没有其他欢迎语")
            return pass_("keywords", "本群未设置欢迎语")
        # a member-tag welcome collects its own joins; the others share one window per chat
        key = (event.platform, event.chat_id, row["id"] if row["spec"].get("member_tags") else None)
        now = ctx.now
        pending = self.pending.get(key)
        if pending is not None and now >= pending.end:
            if not ctx.dry_run:
                await self._send(self.pending.pop(key))
            pending = None
        name = event.sender_name or event.sender_id
        detail: dict[str, Any] = {"welcome": row["name"], "member": event.sender_id}
        note = ""
        if skipped:
            detail["skipped"] = skipped
            note = f"（已跳过：{'；'.join(skipped)}，该成员没有这些标签）"
        if ctx.dry_run:
            joined = [*(pending.names.values() if pending else []), name]
            text = self._render(row["spec"]["text"], joined, ctx.chat_name or event.chat_name, now)
            return Decision(
                stage="keywords", outcome="welcome", reason=f"将发送欢迎语「{row['name']}」（试运行）{note}",
                detail={**detail, "text": text}, stop=True,
            )
        if pending is None:
            window = timedelta(seconds=row["spec"]["window"])
            pending = _Pending(
                event.platform, event.chat_id, ctx.chat_name or event.chat_name, row["id"],
                row["spec"]["text"], now, now + window, tag_key=row["name"] if key[2] is not None else "",
            )
            self.pending[key] = pending
        pending.names.setdefault(event.sender_id, name)
        self._ensure_timer()
        if pending.end <= now:
            await self._send(self.pending.pop(key))
        names = len(pending.names)
        return Decision(
            stage="keywords",
            outcome="welcome-queued",
            stop=True,
            reason=f"欢迎语「{row['name']}」已排队，"
            f"{pending.end.astimezone(self.services.settings.tz):%H:%M:%S} 合并发送（当前 {names} 人）{note}",
            detail={**detail, "window_start": pending.start.isoformat(), "members": names},
        )

    def _render(self, text: str, names: list[str], group: str, now: datetime) -> str:
        shown = [clean_value(n) for n in names[:MAX_NAMES]]
        nickname = "、".join(shown) + (f" 等 {len(names)} 位新朋友" if len(names) > MAX_NAMES else "")
        local = now.astimezone(self.services.settings.tz)
        values = {"nickname": nickname, "group": clean_value(group), "count": str(len(names)), **time_values(local)}
        return render(text, values, WELCOME_CONTEXT)

    async def flush_due(self) -> int:
        """Send every welcome whose window has closed (by the injected clock); returns how many."""
        now = self.services.clock.now()
        due = [k for k, p in self.pending.items() if p.end <= now]
        for key in due:
            await self._send(self.pending.pop(key))
        return len(due)

    async def _send(self, pending: _Pending) -> None:
        text = self._render(pending.text, list(pending.names.values()), pending.chat_name, pending.start)
        item = OutboundItem(
            source=f"welcome:{pending.chat_id}", platform=pending.platform,
            occurrence=pending.start.isoformat() + (f"#{pending.tag_key}" if pending.tag_key else ""),
            chat_id=pending.chat_id, chat_kind="group", payload={"text": text, "kind": "text"},
            priority=REPLY_PRIORITY, not_before=pending.end,
        )
        submit = self.services.submit
        if submit is None:
            log.warning("welcome for %s not sent: no outbox in this process", pending.chat_id)
            return
        await submit([item])
        store = self.services.store
        await store.run(store.keywords.count_welcome_sent, pending.welcome_rowid, pending.end.isoformat())

    def _ensure_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            return
        try:
            self._timer = asyncio.get_running_loop().create_task(self._tick(), name="keywords-welcome")
        except RuntimeError:
            self._timer = None

    async def _tick(self) -> None:
        while self.pending:
            now = self.services.clock.now()
            wait = min((p.end - now).total_seconds() for p in self.pending.values())
            await asyncio.sleep(min(1.0, max(0.05, wait)))
            try:
                await self.flush_due()
            except Exception:
                log.exception("sending welcome messages failed")

    async def aclose(self) -> None:
        """Send what is pending now (shutdown) and stop the timer."""
        for key in list(self.pending):
            await self._send(self.pending.pop(key))
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
