"""[schedule], [[campaigns]] and [[posts]] sections of config.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal

from bot.kernel.durations import Duration

DEFAULT_ANNOUNCE = (
    "【秒杀预告】{item} 将于 {start} 开抢，距开抢还有 {countdown}！"
    "秒杀价 ¥{price}（原价 ¥{original_price}，{discount}），先收藏链接：{link}"
)
DEFAULT_START = (
    "【秒杀开始】{item} 现已开抢！秒杀价 ¥{price}（原价 ¥{original_price}，{discount}），数量有限，抢完即止：{link}"
)
DEFAULT_REMIND = "【秒杀进行中】{item} 秒杀价 ¥{price}，距结束还有 {countdown}，手慢无：{link}"
DEFAULT_LAST_CALL = "【最后召唤】{item} 秒杀还有 {countdown} 就结束了！¥{price} 最后机会：{link}"
DEFAULT_END = "【秒杀结束】{item} 本场秒杀已结束，感谢大家参与，下次活动再见～"
DEFAULT_KEYWORD_REPLY = "{item} 秒杀进行中：¥{price}（{discount}），{end} 结束，抢购链接：{link}"

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> time:
    """"19:00" → time(19, 0); raises ValueError with a readable reason."""
    m = _HHMM.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"时间 {text!r} 格式不对，应写成 HH:MM（如 \"19:30\"）")
    return time(int(m.group(1)), int(m.group(2)))


def parse_window(text: str) -> tuple[time, time]:
    """"19:00-23:00" → (19:00, 23:00); a window may cross midnight ("22:00-02:00")."""
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) != 2:
        raise ValueError(f"时间段 {text!r} 格式不对，应写成 HH:MM-HH:MM（如 \"19:00-23:00\"）")
    try:
        start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    except ValueError:
        raise ValueError(f"时间段 {text!r} 格式不对，应写成 HH:MM-HH:MM（如 \"19:00-23:00\"）") from None
    if start == end:
        raise ValueError(f"时间段 {text!r} 的开始和结束相同")
    return start, end


_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _standard_weekdays(field_text: str) -> str:
    """Crontab weekdays (0 or 7 = Sunday) → APScheduler names (its 3.x numbers start at Monday)."""
    if field_text == "*" or re.search(r"[a-z]", field_text, re.I):
        return field_text
    days: set[int] = set()
    for part in field_text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            lo, hi = 0, 6
        elif "-" in base:
            lo_text, hi_text = base.split("-", 1)
            lo, hi = int(lo_text), int(hi_text)
        else:
            lo = int(base)
            hi = 6 if step_text else lo
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi and step > 0):
            raise ValueError(f"星期 {part!r} 无效（0-7，0 和 7 都是星期日）")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DOW[d] for d in sorted(days))


CRON_FIELDS = (("minute", "分钟", "0–59"), ("hour", "小时", "0–23"), ("day", "日", "1–31"),
               ("month", "月", "1–12"), ("day_of_week", "星期", "0–7（0 和 7 都是星期日）"))


def make_cron(expr: str, tz: object = "UTC"):
    """A CronTrigger from a standard 5-field crontab string (minute hour day month weekday)."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron 表达式 {expr!r} 应有 5 段（分 时 日 月 星期），实际 {len(fields)} 段")
    try:
        fields[4] = _standard_weekdays(fields[4])
        return CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3],
                           day_of_week=fields[4], timezone=tz)
    except (ValueError, TypeError):
        # apscheduler's messages are English ("Error validating expression '25'"): name the field instead
        written = expr.split()
        for i, ((name, label, allowed), value) in enumerate(zip(CRON_FIELDS, fields, strict=True)):
            try:
                CronTrigger(**{name: value}, timezone=tz)
            except (ValueError, TypeError):
                raise ValueError(f"cron 表达式 {expr!r} 第 {i + 1} 段（{label}）{written[i]!r} 无效："
                                 f"取值范围 {allowed}，可用 *、逗号列表、a-b 范围和 */n 间隔") from None
        raise ValueError(f"cron 表达式 {expr!r} 无效（分 时 日 月 星期）") from None


def check_cron(expr: str) -> None:
    make_cron(expr)


@dataclass(frozen=True)
class ScheduleSettings:
    """The scheduler that posts campaigns and recurring posts (docs/schedules.md)."""

    # false: no campaign or recurring post is sent (preview still works)
    enabled: bool = True
    # campaigns: a message missed while the bot was down is posted late within this grace, else skipped
    misfire_grace: Duration = Duration(300)
    # the same for recurring posts; a job's own misfire_grace overrides both
    post_misfire_grace: Duration = Duration(600)
    # how often every job is re-checked besides its own timer (pauses, edits, campaign ends)
    tick: Duration = Duration(30)
    # how many days ahead `qunbot schedule preview` and the console's preview look by default
    preview_days: int = 7
    # 群SOP: a step missed while the bot was down is sent late within this grace, else skipped and
    # counted; a sequence's own misfire_grace overrides it
    sop_misfire_grace: Duration = Duration(6 * 3600)

    def validate(self) -> None:
        if self.tick < 1:
            raise ValueError("tick: 至少 1 秒")
        if self.preview_days < 1:
            raise ValueError("preview_days: 至少 1 天")


def _check_targets(groups: list[str], tags: list[str]) -> None:
    if not groups and not tags:
        raise ValueError("groups: 请指定目标群（groups）或标签（tags），至少一项")


@dataclass(frozen=True)
class PostConfig:
    """A recurring post: text or rotating texts, one of every / cron / at, optional window."""

    # the post's name; unique; config jobs are matched by name at every start: renaming makes a new one
    name: str
    # the message (plain text); give either text or texts
    text: str = ""
    # several messages, used in turn, one per occurrence
    texts: list[str] = field(default_factory=list)
    # post at this interval (at least 1m); with window: from its opening time each day, else
    # continuously from midnight of start. Give exactly one of every, cron, at
    every: Duration | None = None
    # standard five-field crontab, e.g. "0 9 * * 1-5" (weekday 0 and 7 = Sunday), in [bot] timezone
    cron: str = ""
    # daily times "HH:MM", e.g. ["09:00", "20:00"]
    at: list[str] = field(default_factory=list)
    # only post within "HH:MM-HH:MM" each day, both ends included; may cross midnight
    window: str = ""
    # first day with posts (a TOML date such as 2026-11-01), inclusive; unset: no first day
    start: date | None = None
    # last day with posts, inclusive; unset: no end
    end: date | None = None
    # days without posts (a window crossing midnight belongs to the day it opens)
    skip: list[date] = field(default_factory=list)
    # chat ids, names or "platform:chat_id" to post to; with tags, both add up (at least one of the two)
    groups: list[str] = field(default_factory=list)
    # every chat carrying one of these tags is a target
    tags: list[str] = field(default_factory=list)
    # false = paused; a pause set in the console is kept until this value changes
    enabled: bool = True
    # overrides [schedule] post_misfire_grace for this post
    misfire_grace: Duration | None = None

    def validate(self) -> None:
        if not self.name.strip():
            raise ValueError("name: 名称不能为空")
        if bool(self.text) == bool(self.texts):
            raise ValueError("text: 请填写 text（一条内容）或 texts（多条轮换），二选一")
        for i, t in enumerate(self.texts):
            if not t.strip():
                raise ValueError(f"texts: 第 {i + 1} 条内容为空")
        from bot.kernel.templates import validate

        # posts go to groups: the group-level variables only ("group" context); nothing is ever
        # sent as a literal {name}
        for key, text in [("text", self.text)] + [("texts", t) for t in self.texts]:
            errors = validate(text, "group")
            if errors:
                raise ValueError(f"{key}: {errors[0]}")
        given = [k for k, v in (("every", self.every is not None), ("cron", self.cron), ("at", self.at)) if v]
        if len(given) != 1:
            raise ValueError(
                'every: 请在 every（间隔，如 "30m"）、cron（如 "0 9 * * *"）、'
                'at（每日时间，如 ["09:00"]）中选且只选一种'
                + (f"（当前填写了 {', '.join(given)}）" if given else "")
            )
        if self.every is not None and self.every < 60:
            raise ValueError("every: 间隔至少 1 分钟")
        if self.cron:
            try:
                check_cron(self.cron)
            except ValueError as exc:
                raise ValueError(f"cron: {exc}") from None
        for t in self.at:
            try:
                parse_hhmm(t)
            except ValueError as exc:
                raise ValueError(f"at: {exc}") from None
        if self.window:
            try:
                parse_window(self.window)
            except ValueError as exc:
                raise ValueError(f"window: {exc}") from None
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end: 结束日期 {self.end} 早于开始日期 {self.start}")
        _check_targets(self.groups, self.tags)


CAMPAIGN_TEMPLATES = ("announce_text", "start_text", "remind_text", "last_call_text", "end_text", "keyword_reply")


@dataclass(frozen=True)
class CampaignConfig:
    """A flash sale (秒杀): item, prices, times, targets and its sequence of posts."""

    # the campaign's name ({name}); unique; config jobs are matched by name at every start: renaming makes a new one
    name: str
    # the product's name ({item})
    item: str
    # the sale price in yuan ({price})
    price: float
    # the usual price in yuan ({original_price}); {discount} ("3.8折") is worked out from both
    original_price: float
    # when the sale starts: a TOML date-time such as 2026-11-11T10:00:00; without an offset: [bot] timezone
    start: datetime
    # when the sale ends and the end notice is posted; after start (both with a UTC offset, or neither)
    end: datetime
    # optional quantity for {stock}; unset: a template using {stock} is an error
    stock: int | None = None
    # the sale's http:// or https:// address for {link}; empty: a template using {link} is an error
    link: str = ""
    # chat ids, names or "platform:chat_id" to post to; with tags, both add up (at least one of the two)
    groups: list[str] = field(default_factory=list)
    # every chat carrying one of these tags is a target
    tags: list[str] = field(default_factory=list)
    # announcements before start, one per entry (how long before it), e.g. ["1d", "1h"]; [] = none
    announce: list[Duration] = field(default_factory=lambda: [Duration(3600), Duration(300)])
    # post remind_text at this interval after the start until the last call (at least 1m); unset: none
    remind: Duration | None = None
    # post last_call_text this long before end; "0": no last call
    last_call: Duration | None = Duration(600)
    # posted at each announce time. Templates may use {item}, {price}, {original_price}, {discount},
    # {countdown}, {link}, {stock}, {start}, {end}, {name} (docs/schedules.md); "" turns that post off
    announce_text: str = DEFAULT_ANNOUNCE
    # posted at start; "" = none
    start_text: str = DEFAULT_START
    # posted every `remind` during the sale; "" = none
    remind_text: str = DEFAULT_REMIND
    # posted `last_call` before end; "" = none
    last_call_text: str = DEFAULT_LAST_CALL
    # the end notice, posted at end; "" = none
    end_text: str = DEFAULT_END
    # members asking these words during the sale get `keyword_reply` (through the keyword engine)
    keywords: list[str] = field(default_factory=lambda: ["秒杀", "链接"])
    # the answer to `keywords`; rendered when saved, so {countdown} is refused (use {end})
    keyword_reply: str = DEFAULT_KEYWORD_REPLY
    # draft and paused post nothing, cancelled stops for good; a status set in the console is
    # kept until this value changes
    status: Literal["draft", "active", "paused", "cancelled"] = "active"
    # overrides [schedule] misfire_grace for this campaign
    misfire_grace: Duration | None = None

    def validate(self) -> None:
        from bot.urls import url_error
        from schedules.templates import CAMPAIGN_CONTEXT, KEYWORD_REPLY_CONTEXT, check_template

        if not self.name.strip():
            raise ValueError("name: 名称不能为空")
        if not self.item.strip():
            raise ValueError("item: 商品名不能为空")
        if self.price < 0 or self.original_price < 0:
            raise ValueError("price: 价格不能为负数")
        if self.original_price and self.price > self.original_price:
            raise ValueError(f"price: 秒杀价 ¥{self.price:g} 高于原价 ¥{self.original_price:g}，请检查两个价格")
        if self.stock is not None and self.stock < 0:
            raise ValueError("stock: 库存不能为负数")
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("end: 开始和结束时间要么都带时区偏移，要么都不带")
        if self.end <= self.start:
            raise ValueError(f"end: 结束时间 {self.end} 必须晚于开始时间 {self.start}")
        if self.remind is not None and self.remind < 60:
            raise ValueError("remind: 提醒间隔至少 1 分钟")
        for i, a in enumerate(self.announce):
            if a <= 0:
                raise ValueError(f"announce: 第 {i + 1} 个预告提前量必须大于 0（如 \"1h\"）")
        if self.link:
            # the one link check (bot/urls.py): config.toml, the console form and the CLI
            problem = url_error(self.link)
            if problem:
                raise ValueError(f"link: {problem}")
        _check_targets(self.groups, self.tags)
        if "{countdown}" in self.keyword_reply:
            raise ValueError("keyword_reply: 关键词回复不支持 {countdown}（不会实时更新），请用 {end} 表示结束时间")
        for key in CAMPAIGN_TEMPLATES:
            try:
                check_template(getattr(self, key), self,
                               KEYWORD_REPLY_CONTEXT if key == "keyword_reply" else CAMPAIGN_CONTEXT)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        for i, word in enumerate(self.keywords):
            if not word.strip():
                raise ValueError(f"keywords: 第 {i + 1} 个关键词为空")
