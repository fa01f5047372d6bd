"""The report figures of a period, per local day, per group and per tag, from the store.

Counting rules (documented in docs/reports.md):
- messages: inbound chat messages; joins/leaves: member_join / member_leave events;
- active members: distinct senders of messages (per day, per group, per tag, whole period);
- keyword / FAQ answers, suggestions, unanswered, blocks: from the deciding (last) stage of
  each message's decision trace, so a figure never depends on a domain table being present.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.reports.questions import Cluster, cluster_questions
from bot.store.base import iso

if TYPE_CHECKING:
    from bot.store import Store

__all__ = ["METRICS", "Cluster", "Report", "ReportFilter", "cluster_questions", "compute"]

# (key, zh-CN label) in display order
METRICS: list[tuple[str, str]] = [
    ("messages", "消息数"), ("active", "活跃成员"), ("keyword_answers", "关键词回复"),
    ("faq_answers", "问答回复"), ("suggested", "推荐问题"), ("unanswered", "未回答"),
    ("blocked", "拦截"), ("held", "转人工审核"), ("joins", "新成员"), ("leaves", "退群"),
]
METRIC_LABELS = dict(METRICS)
MAX_DAYS = 366
TOP_N = 20  # rows in each top list
PRIVATE_KEY = ("", "*private*")
PRIVATE_LABEL = "私聊（合计）"

ERR_RANGE = "开始日期不能晚于结束日期"
ERR_TOO_LONG = f"时间范围最多 {MAX_DAYS} 天"
ERR_NO_GROUP = "找不到群聊「{}」"
ERR_NO_TAG = "没有带标签「{}」的群聊"
ERR_BOTH = "群聊和标签只能选一个"


def empty_row() -> dict[str, int]:
    return dict.fromkeys(METRIC_LABELS, 0)


@dataclass
class ReportFilter:
    """A period of local days (inclusive) and an optional group or tag."""

    start: date
    end: date
    group: str | None = None
    tag: str | None = None

    def validate(self) -> None:
        if self.start > self.end:
            raise ValueError(ERR_RANGE)
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise ValueError(ERR_TOO_LONG)
        if self.group and self.tag:
            raise ValueError(ERR_BOTH)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass
class Report:
    """Every figure of one period and scope, ready for the dashboard and the exporters."""

    start: date
    end: date
    timezone: str
    scope: str
    days: list[str]
    by_day: dict[str, dict[str, int]]
    totals: dict[str, int]
    by_chat: list[dict[str, Any]]
    by_day_chat: list[dict[str, Any]]
    by_tag: list[dict[str, Any]]
    categories: list[tuple[str, int]]
    categories_by_day: dict[str, dict[str, int]]
    # group name -> category -> blocked + held messages
    categories_by_chat: dict[str, dict[str, int]]
    top_keywords: list[dict[str, Any]]
    top_faq: list[dict[str, Any]]
    top_unanswered: list[Cluster]
    top_flagged: list[dict[str, Any]]
    # WeCom's own customer-group figures (groupchat/statistic) per day and owner, when synced:
    # shown beside qunbot's recorded figures, labelled as coming from WeCom
    platform_stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"群数据报表 {self.start.isoformat()} 至 {self.end.isoformat()}（{self.scope}）"


def select_chats(chats: list[dict[str, Any]], flt: ReportFilter) -> tuple[list[tuple[str, str]] | None, str]:
    """The (platform, chat_id) list a filter selects (None: all) and its zh-CN label."""
    if flt.group:
        found = [(c["platform"], c["chat_id"]) for c in chats
                 if flt.group in (c["chat_id"], c["name"], f"{c['platform']}:{c['chat_id']}")]
        if not found:
            raise ValueError(ERR_NO_GROUP.format(flt.group))
        return found, f"群聊：{flt.group}"
    if flt.tag:
        found = [(c["platform"], c["chat_id"]) for c in chats if flt.tag in c["tags"]]
        if not found:
            raise ValueError(ERR_NO_TAG.format(flt.tag))
        return found, f"标签：{flt.tag}"
    return None, "全部群聊"


def day_bounds(days: list[date], tz: ZoneInfo) -> list[tuple[str, str, str]]:
    """(day, utc_from, utc_to) for each local day, correct across DST changes."""
    out = []
    for d in days:
        lo = datetime.combine(d, time(0), tzinfo=tz)
        hi = datetime.combine(d + timedelta(days=1), time(0), tzinfo=tz)
        out.append((d.isoformat(), iso(lo), iso(hi)))
    return out


def compute(store: Store, flt: ReportFilter, tz: ZoneInfo) -> Report:
    """Blocking: run on a thread (`asyncio.to_thread`) from the event loop; reads on that
    thread's read-only connection, never holding up the writer."""
    flt.validate()
    with store.reading():
        chat_rows = store.chats.list_chats()
        chats, scope = select_chats(chat_rows, flt)
        bounds = day_bounds(flt.days, tz)
        raw = store.reports.collect(bounds, chats)
        days = [b[0] for b in bounds]
        platform_stats = store.wecom_contact.stats(days[0], days[-1]) if days else []
    report = build(raw, flt, tz, scope, days)
    report.platform_stats = platform_stats
    return report


def build(raw: dict[str, Any], flt: ReportFilter, tz: ZoneInfo, scope: str, days: list[str]) -> Report:
    info = {(c["platform"], c["chat_id"]): c for c in raw["chats"]}
    for c in info.values():
        if isinstance(c["tags"], str):
            c["tags"] = json.loads(c["tags"] or "[]")

    def chat_key(platform: str, chat_id: str) -> tuple[str, str]:
        c = info.get((platform, chat_id))
        return PRIVATE_KEY if c is not None and c["kind"] == "private" else (platform, chat_id)

    by_day = {d: empty_row() for d in days}
    by_chat: dict[tuple[str, str], dict[str, int]] = defaultdict(empty_row)
    by_day_chat: dict[tuple[str, tuple[str, str]], dict[str, int]] = defaultdict(empty_row)
    totals = empty_row()
    keywords: Counter[str] = Counter()
    keyword_labels: dict[str, str] = {}
    faq: Counter[str] = Counter()

    def add(day: str, key: tuple[str, str], metric: str, n: int) -> None:
        for row in (by_day[day], by_chat[key], by_day_chat[(day, key)], totals):
            row[metric] += n

    for r in raw["counts"]:
        key, n = chat_key(r["platform"], r["chat_id"]), r["n"]
        for metric in _metrics_of(r):
            add(r["day"], key, metric, n)
        if r["type"] != "message":
            continue
        if r["stage"] == "keywords" and r["outcome"] == "answered" and r["key"]:
            keywords[str(r["key"])] += n
            keyword_labels[str(r["key"])] = r["label"] or ""
        elif r["stage"] == "intents" and r["outcome"] == "answered" and r["key"]:
            faq[str(r["key"])] += n

    categories: Counter[str] = Counter()
    categories_by_day: dict[str, Counter[str]] = {d: Counter() for d in days}
    categories_by_chat: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    flagged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in raw["moderation"]:
        add(r["day"], chat_key(r["platform"], r["chat_id"]), r["outcome"], 1)
        category = block_category(r["hits"], r["requested"])
        categories[category] += 1
        categories_by_day[r["day"]][category] += 1
        categories_by_chat[chat_key(r["platform"], r["chat_id"])][category] += 1
        member = flagged.setdefault((r["platform"], r["chat_id"], r["sender_id"]), {
            "platform": r["platform"], "chat_id": r["chat_id"], "member_id": r["sender_id"],
            "member_name": r["sender_name"], "count": 0, "categories": Counter()})
        member["count"] += 1
        member["categories"][category] += 1
        member["member_name"] = r["sender_name"] or member["member_name"]

    # distinct counts cannot be summed: count distinct senders per day, group, tag and period
    tags_of = {k: c["tags"] for k, c in info.items()}
    day_senders: dict[str, set] = defaultdict(set)
    chat_senders: dict[tuple[str, str], set] = defaultdict(set)
    day_chat_senders: dict[tuple[str, tuple[str, str]], set] = defaultdict(set)
    tag_senders: dict[str, set] = defaultdict(set)
    all_senders: set[tuple[str, str]] = set()
    for r in raw["senders"]:
        platform, chat_id, sender = r["platform"], r["chat_id"], r["sender_id"]
        who = (platform, sender)
        key = chat_key(platform, chat_id)
        # members of private chats are counted per chat, then summed into one row
        counted_as = (chat_id, sender) if key == PRIVATE_KEY else sender
        day_senders[r["day"]].add(who)
        chat_senders[key].add(counted_as)
        day_chat_senders[(r["day"], key)].add(counted_as)
        all_senders.add(who)
        for tag in tags_of.get((platform, chat_id), ()):
            tag_senders[tag].add(who)
    for day, senders in day_senders.items():
        by_day[day]["active"] = len(senders)
    for key, senders in chat_senders.items():
        by_chat[key]["active"] = len(senders)
    for day_chat, senders in day_chat_senders.items():
        by_day_chat[day_chat]["active"] = len(senders)
    totals["active"] = len(all_senders)

    def label(key: tuple[str, str]) -> str:
        if key == PRIVATE_KEY:
            return PRIVATE_LABEL
        c = info.get(key)
        return (c["name"] if c and c["name"] else key[1])

    chat_list = [
        {"platform": k[0], "chat_id": "" if k == PRIVATE_KEY else k[1], "name": label(k),
         "tags": info[k]["tags"] if k in info else [], **row}
        for k, row in sorted(by_chat.items(), key=lambda kv: (-kv[1]["messages"], label(kv[0])))
    ]
    tag_rows: dict[str, dict[str, int]] = defaultdict(empty_row)
    for c in chat_list:
        for tag in c["tags"]:
            for metric in METRIC_LABELS:
                if metric != "active":
                    tag_rows[tag][metric] += c[metric]
    for tag, senders in tag_senders.items():
        if tag in tag_rows:
            tag_rows[tag]["active"] = len(senders)

    titles = raw.get("faq_titles", {})
    flagged_list = sorted(flagged.values(), key=lambda m: (-m["count"], m["member_name"]))[:TOP_N]
    for m in flagged_list:
        m["chat_name"] = label((m["platform"], m["chat_id"]))
        m["categories"] = "、".join(f"{c}×{n}" for c, n in m["categories"].most_common())
    return Report(
        start=flt.start, end=flt.end, timezone=str(tz.key), scope=scope, days=days, by_day=by_day,
        totals=totals, by_chat=chat_list,
        by_day_chat=[{"day": d, "name": label(k), **row} for (d, k), row in
                     sorted(by_day_chat.items(), key=lambda kv: (kv[0][0], label(kv[0][1])))],
        by_tag=[{"tag": t, **row} for t, row in sorted(tag_rows.items(), key=lambda kv: -kv[1]["messages"])],
        categories=categories.most_common(),
        categories_by_day={d: dict(c) for d, c in categories_by_day.items()},
        categories_by_chat={label(k): dict(c) for k, c in
                            sorted(categories_by_chat.items(), key=lambda kv: -sum(kv[1].values()))},
        top_keywords=[{"id": k, "keyword": keyword_labels.get(k, ""), "count": n}
                      for k, n in keywords.most_common(TOP_N)],
        top_faq=[{"id": k, "question": titles.get(k, ""), "count": n} for k, n in faq.most_common(TOP_N)],
        top_unanswered=cluster_questions([(r["text"], r["n"]) for r in raw["unanswered"]]),
        top_flagged=flagged_list,
    )


def _metrics_of(r: dict[str, Any]) -> list[str]:
    """Which additive figures one (type, stage, outcome, key) row counts towards."""
    if r["type"] == "member_join":
        return ["joins"]
    if r["type"] == "member_leave":
        return ["leaves"]
    if r["type"] != "message":
        return []
    out = ["messages"]
    stage, outcome = r["stage"], r["outcome"]
    if stage == "keywords" and outcome == "answered":
        out.append("keyword_answers")
    elif stage == "intents" and outcome == "answered":
        out.append("faq_answers")
    elif stage == "intents" and outcome == "suggested":
        out.append("suggested")
    elif stage == "intents" and r["key"] == "unanswered":
        out.append("unanswered")
    # blocked / held are counted from the moderation rows, which also carry the category
    return out


def block_category(hits_json: str | None, requested: str | None) -> str:
    """The category of the hit that decided the action (highest severity among those asking it)."""
    try:
        hits = json.loads(hits_json) if hits_json else []
    except ValueError:
        hits = []
    hits = [h for h in hits if isinstance(h, dict)]
    if not hits:
        return "其他"
    deciding = [h for h in hits if h.get("action") == requested] or hits
    top = max(deciding, key=lambda h: h.get("severity") or 0)
    return str(top.get("category") or top.get("rule") or "其他")
