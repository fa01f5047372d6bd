"""The keyword engine: compiled rules, scope/time/cooldown checks, replies, hit counters.

The bot's `keyword_stage.engine` is the one engine of a bot; console views and the CLI call
`reload()` / `areload()` after changing rules so the next message sees the change.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from bot.kernel.events import Decision, Event, Reply, pass_
from bot.kernel.pipeline import Context
from bot.services import Services
from keywords.cooldown import Cooldowns
from keywords.matcher import Match, Matcher
from keywords.rules import MATCH_LABELS, Rule, compile_rule
from keywords.templates import clean_value, render, time_values
from keywords.welcome import WelcomeBatcher
from keywords.windows import in_dates, in_windows

log = logging.getLogger("qunbot.keywords")

# how often (clock seconds, checked on messages) counted hits are written and the store is asked
# whether another process (CLI import, a second console) changed the rules
MAINTENANCE_SECONDS = 2.0
MAX_TRACE = 10


class KeywordEngine:
    """Matches messages against the enabled rules and builds the reply of the winning one."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store
        self.tz = services.settings.tz
        self.matcher = Matcher([])
        self.cooldowns = Cooldowns(services.clock)
        self.welcome = WelcomeBatcher(services)
        self._round_robin: dict[tuple[int, str], int] = {}
        self._hits: dict[int, tuple[int, str]] = {}
        self._next_maintenance = services.clock.monotonic() + MAINTENANCE_SECONDS
        self._maintaining: asyncio.Task | None = None
        # the store's keyword_state version the loaded rules correspond to
        self.version = -1
        # regex runs that hit the per-match time budget (/metrics), and the rules already logged
        self.regex_timeouts = 0
        self._timeouts_logged: set[tuple[str, str]] = set()

    # -- loading ----------------------------------------------------------------------------

    def build(self, rule_rows: list[dict[str, Any]], welcome_rows: list[dict[str, Any]], version: int = -1) -> None:
        rules: list[Rule] = []
        for row in rule_rows:
            if not row["enabled"]:
                continue
            try:
                rules.append(compile_rule(row["id"], row["name"], row["source"], row["spec"]))
            except Exception:  # a stored rule that no longer compiles must not stop the bot
                log.exception("keyword rule %s cannot be compiled; skipped", row["name"])
        self.matcher = Matcher(rules, on_timeout=self._regex_timed_out)
        self.welcome.reload(welcome_rows)
        self.version = version

    def _load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        repo = self.store.keywords
        version = repo.version()
        return repo.list_rules(enabled_only=True), repo.list_welcome(enabled_only=True), version

    def reload(self) -> int:
        """Re-read rules and welcomes from the store (blocking); returns the number of enabled rules."""
        self.build(*self._load())
        return len(self.matcher.rules)

    async def areload(self) -> int:
        """Re-read rules on the store thread, rebuild the indexes here; the next message sees them."""
        self.build(*await self.store.run(self._load))
        return len(self.matcher.rules)

    def _regex_timed_out(self, rule: Rule) -> None:
        """A regex ran out of its time budget on a message: it did not match; count, log once per rule."""
        self.regex_timeouts += 1
        key = (rule.id, rule.spec["keyword"])
        if key not in self._timeouts_logged:
            self._timeouts_logged.add(key)
            log.warning("keyword rule %s: regex %r ran out of its time budget on a message and was "
                        "treated as not matching (logged once per rule)", rule.id, rule.spec["keyword"])

    # -- deciding ---------------------------------------------------------------------------

    def match(self, text: str) -> list[Match]:
        return self.matcher.match(text)

    def decide(self, event: Event, ctx: Context) -> Decision:
        """Pick the rule that answers `event`, or pass; in dry-run nothing is consumed or counted."""
        self._maybe_maintain()
        if not event.text.strip():
            return pass_("keywords")
        matches = self.matcher.match(event.text)
        if not matches:
            return pass_("keywords")
        local = ctx.now.astimezone(self.tz)
        eligible: list[Match] = []
        excluded: list[dict[str, Any]] = []
        for m in matches:
            why = self._excluded(m.rule, event, ctx, local)
            if why:
                excluded.append({**_brief(m), "why": why})
            else:
                eligible.append(m)
        if not eligible:
            return Decision(
                stage="keywords",
                outcome="pass",
                reason=f"匹配到 {len(matches)} 条规则，但都不适用："
                + "；".join(f"{e['id']} {e['why']}" for e in excluded[:3]),
                detail={"excluded": excluded[:MAX_TRACE]},
            )
        eligible.sort(key=lambda m: m.rule.sort_key(m.score))
        win, others = eligible[0], eligible[1:]
        rule = win.rule
        detail: dict[str, Any] = {
            **_brief(win), "rule_id": rule.id, "matched": win.matched,
            "others": [_brief(m) for m in others[:MAX_TRACE]], "excluded": excluded[:MAX_TRACE],
        }
        what = f"规则 {rule.id}「{rule.spec['keyword']}」（{MATCH_LABELS[rule.match]}"
        what += f"，相似度 {win.score:g}）" if rule.match == "fuzzy" else "）"
        if others:
            what += f"，另有 {len(others)} 条规则也匹配（按优先级、精确度、关键词长度取胜）"
        chat_key = (rule.rowid, event.session_key)
        member_key = (rule.rowid, event.session_key, event.sender_id)
        left = self.cooldowns.remaining(chat_key)
        member_left = self.cooldowns.remaining(member_key)
        if left or member_left:
            whose = f"在本会话冷却中（还剩 {left:.0f} 秒）" if left else f"对该成员冷却中（还剩 {member_left:.0f} 秒）"
            return Decision(
                stage="keywords", outcome="cooldown", stop=True,
                reason=f"{what}命中，但{whose}，本次不回复", detail={**detail, "cooldown_left": max(left, member_left)},
            )
        reply = self._reply(rule, event, ctx, local)
        if not ctx.dry_run:
            self.cooldowns.start(chat_key, rule.spec["cooldown"])
            self.cooldowns.start(member_key, rule.spec["member_cooldown"])
            self._count_hit(rule, ctx.now)
        return Decision(
            stage="keywords", outcome="answered", stop=True, reason=f"{what}命中",
            detail=detail, replies=[reply],
        )

    def _excluded(self, rule: Rule, event: Event, ctx: Context, local: datetime) -> str:
        scope = rule.spec["scope"]
        if scope == "group" and not event.is_group:
            return "仅在群聊生效"
        if scope == "private" and event.is_group:
            return "仅在私聊生效"
        if scope == "mention" and event.is_group and not event.to_me:
            return "仅在@机器人时生效"
        if rule.groups or rule.tags:
            name = ctx.chat_name or event.chat_name
            in_group = event.chat_id in rule.groups or (name and name in rule.groups)
            if not in_group and not (rule.tags and rule.tags.intersection(ctx.chat_tags)):
                return "不在适用的群或标签内"
        if rule.member_tags and not rule.member_tags.intersection(ctx.member_tags):
            return f"仅对带成员标签 {'、'.join(sorted(rule.member_tags))} 的成员生效"
        if not in_dates(rule.start, rule.end, local):
            return f"不在生效日期内（{rule.spec['dates']}）"
        if not in_windows(rule.windows, local):
            return f"不在生效时间段内（{rule.spec['active']}）"
        return ""

    def _reply(self, rule: Rule, event: Event, ctx: Context, local: datetime) -> Reply:
        spec = rule.spec
        variants = spec["replies"] or [""]
        if len(variants) == 1:
            text = variants[0]
        elif spec["mode"] == "round_robin":
            key = (rule.rowid, event.session_key)
            index = self._round_robin.get(key, 0)
            if not ctx.dry_run:
                self._round_robin[key] = index + 1
            text = variants[index % len(variants)]
        else:
            text = self.services.rng.choice(variants)
        values: dict[str, str] = {}

        def fill(template: str) -> str:
            if "{" not in template and "}" not in template:
                return template  # most replies are plain text: no dates to format
            if not values:
                values.update(
                    nickname=clean_value(event.sender_name or event.sender_id),
                    group=clean_value(ctx.chat_name or event.chat_name),
                    **time_values(local),
                )
            return render(template, values)

        text = fill(text)
        private = spec["private"] and event.is_group
        if spec["kind"] == "link":
            title = fill(spec["title"]) or text.split("\n", 1)[0][:40] or spec["url"]
            fallback = "\n".join(x for x in (text or title, spec["url"]) if x)
            return Reply(text=fallback, kind="link", url=spec["url"], title=title, private=private)
        if spec["kind"] == "image":
            return Reply(text=text or f"[图片] {spec['image']}", kind="image", image=spec["image"], private=private)
        return Reply(text=text, private=private)

    # -- hit counters -------------------------------------------------------------------------

    def _count_hit(self, rule: Rule, now: datetime) -> None:
        n, _ = self._hits.get(rule.rowid, (0, ""))
        self._hits[rule.rowid] = (n + 1, now.isoformat())

    def _maybe_maintain(self) -> None:
        now = self.services.clock.monotonic()
        if now < self._next_maintenance:
            return
        self._next_maintenance = now + MAINTENANCE_SECONDS
        if self._maintaining is not None and not self._maintaining.done():
            return
        try:
            self._maintaining = asyncio.get_running_loop().create_task(self.maintain())
        except RuntimeError:
            pass

    async def maintain(self) -> None:
        """Write counted hits; reload when the rules changed in the store since they were loaded."""
        try:
            await self.aflush_hits()
            if await self.store.run(self.store.keywords.version) != self.version:
                await self.areload()
        except Exception:
            log.exception("keyword engine maintenance failed")

    def _take_hits(self) -> dict[int, tuple[int, str]]:
        hits, self._hits = self._hits, {}
        return hits

    def flush_hits(self) -> None:
        """Write counted hits now (blocking)."""
        hits = self._take_hits()
        if hits:
            self.store.keywords.add_hits(hits)

    async def aflush_hits(self) -> None:
        hits = self._take_hits()
        if hits:
            await self.store.run(self.store.keywords.add_hits, hits)


def _brief(m: Match) -> dict[str, Any]:
    rule = m.rule
    out = {"id": rule.id, "keyword": rule.spec["keyword"], "match": rule.match, "priority": rule.priority}
    if rule.match == "fuzzy":
        out["score"] = m.score
    return out
