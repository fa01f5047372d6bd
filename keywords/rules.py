"""A keyword rule: its canonical spec (the same field names as `[[keywords]]` in config.toml),
validation with zh-CN messages per field, and the compiled form the matcher uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from regex import Pattern as RegexPattern

from bot.kernel.durations import format_duration, parse_duration
from bot.urls import url_error
from keywords.normalize import normalize as normalize_text
from keywords.regexcheck import compile_pattern, flags_for, runtime_pattern
from keywords.regexshape import required_literals
from keywords.templates import REPLY_FIELDS, check_template
from keywords.windows import format_dates, format_windows, parse_dates, parse_windows

MATCH_MODES = ("exact", "prefix", "contains", "regex", "fuzzy")
# lower is more specific: exact > prefix > contains > regex > fuzzy
SPECIFICITY = {m: i for i, m in enumerate(MATCH_MODES)}
SCOPES = ("all", "group", "private", "mention")
VARIANT_MODES = ("random", "round_robin")
KINDS = ("text", "link", "image")

MATCH_LABELS = {"exact": "完全匹配", "prefix": "开头匹配", "contains": "包含", "regex": "正则", "fuzzy": "模糊"}
SCOPE_LABELS = {"all": "所有会话", "group": "仅群聊", "private": "仅私聊", "mention": "仅@机器人时"}
MODE_LABELS = {"random": "随机", "round_robin": "轮流"}
KIND_LABELS = {"text": "文本", "link": "链接卡片", "image": "图片"}

# export / form order; every key a rule may have
FIELDS = (
    "id", "keyword", "match", "reply", "replies", "groups", "tags", "scope", "priority",
    "cooldown", "member_cooldown", "threshold", "active", "dates", "mode", "kind", "url",
    "title", "image", "private", "normalize", "enabled", "member_tags",
)
LIST_FIELDS = ("replies", "groups", "tags", "member_tags")
DEFAULTS: dict[str, Any] = {
    "id": "", "keyword": "", "match": "contains", "reply": "", "replies": [], "groups": [],
    "tags": [], "scope": "all", "priority": 0, "cooldown": 0.0, "member_cooldown": 0.0,
    "threshold": 80.0, "active": "", "dates": "", "mode": "random", "kind": "text", "url": "",
    "title": "", "image": "", "private": False, "normalize": True, "enabled": True, "member_tags": [],
}
MAX_KEYWORD_LENGTH = 200
MAX_REPLY_LENGTH = 2000
_ID = re.compile(r"^[\w.\-:]{1,64}$")
_TRUE = {"true", "1", "yes", "y", "是", "on", "启用", "开"}
_FALSE = {"false", "0", "no", "n", "否", "off", "停用", "关", ""}


class RuleError(ValueError):
    """A rule that cannot be saved; `errors` maps each field to a zh-CN reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("；".join(f"{k}: {v}" for k, v in errors.items()))


def split_list(value: Any) -> list[str]:
    """A list field from TOML/JSON (list) or CSV/form text ("a|b", `\\|` for a literal bar)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value)
    parts = re.split(r"(?<!\\)\|", text)
    return [p.replace("\\|", "|").strip() for p in parts if p.strip()]


def join_list(values: list[str]) -> str:
    return "|".join(v.replace("|", "\\|") for v in values)


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"应为 true 或 false，不是 {value!r}")


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"应为数字，不是 {value!r}")
    if isinstance(value, int | float):
        return kind(value)
    text = str(value).strip()
    if text == "":
        raise ValueError("不能为空")
    try:
        return kind(float(text)) if kind is float else int(text)
    except ValueError:
        raise ValueError(f"应为{'整数' if kind is int else '数字'}，不是 {value!r}") from None


def to_seconds(value: Any) -> float:
    if value in (None, ""):
        return 0.0
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"时长 {value!r} 格式不对，可写 30、30s、5m、1h") from None


def _choice(value: Any, choices: tuple[str, ...], labels: dict[str, str]) -> str:
    text = str(value).strip()
    by_label = {v: k for k, v in labels.items()}
    text = by_label.get(text, text)
    if text not in choices:
        shown = "、".join(f"{c}（{labels[c]}）" for c in choices)
        raise ValueError(f"应为 {shown} 之一，不是 {value!r}")
    return text


def clean_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check every field and return the canonical spec; raises RuleError naming each bad field.

    Accepts typed values (TOML, JSON) and text (CSV cells, form fields) alike. Runs the quick
    part of the regex check; the measurement runs for a batch in `regexcheck.check_patterns`
    (config load, `manage.validate_rules`).
    """
    errors: dict[str, str] = {}
    for key in data:
        if key not in DEFAULTS:
            errors[key] = f"未知字段（可用字段：{'、'.join(FIELDS)}）"
    spec = dict(DEFAULTS)

    def field_(name: str, convert) -> None:
        if name not in data or data[name] is None:
            return
        try:
            spec[name] = convert(data[name])
        except ValueError as exc:
            errors[name] = str(exc)

    field_("id", lambda v: str(v).strip())
    field_("keyword", lambda v: str(v).strip())
    field_("match", lambda v: _choice(v or "contains", MATCH_MODES, MATCH_LABELS))
    field_("reply", lambda v: str(v).strip())
    for name in LIST_FIELDS:
        field_(name, split_list)
    field_("scope", lambda v: _choice(v or "all", SCOPES, SCOPE_LABELS))
    field_("priority", lambda v: _number(v, int) if str(v).strip() else 0)
    field_("cooldown", to_seconds)
    field_("member_cooldown", to_seconds)
    field_("threshold", lambda v: _number(v, float) if str(v).strip() else DEFAULTS["threshold"])
    field_("active", lambda v: format_windows(parse_windows(str(v))))
    field_("dates", lambda v: format_dates(*parse_dates(str(v))))
    field_("mode", lambda v: _choice(v or "random", VARIANT_MODES, MODE_LABELS))
    field_("kind", lambda v: _choice(v or "text", KINDS, KIND_LABELS))
    for name in ("url", "title", "image"):
        field_(name, lambda v: str(v).strip())
    for name in ("private", "normalize", "enabled"):
        field_(name, to_bool)

    _check_semantics(spec, errors)
    if errors:
        raise RuleError(errors)
    # one list of variants; `reply` is kept only as the single-variant spelling
    variants = ([spec["reply"]] if spec["reply"] else []) + spec["replies"]
    spec["reply"], spec["replies"] = "", variants
    return spec


def _check_semantics(spec: dict[str, Any], errors: dict[str, str]) -> None:
    if spec["id"] and not _ID.match(spec["id"]) and "id" not in errors:
        errors["id"] = "编号只能包含字母、数字、下划线、点、横线和冒号，最长 64 个字符"
    kw = spec["keyword"]
    if "keyword" not in errors:
        if not kw:
            errors["keyword"] = "关键词不能为空"
        elif len(kw) > MAX_KEYWORD_LENGTH:
            errors["keyword"] = f"关键词太长（最多 {MAX_KEYWORD_LENGTH} 个字符）"
        elif spec["match"] == "regex":
            try:
                compile_pattern(kw, spec["normalize"])
            except ValueError as exc:
                errors["keyword"] = str(exc)
        elif spec["normalize"] and not normalize_text(kw):
            errors["keyword"] = "关键词去掉首尾空格和标点后为空"
        elif spec["match"] == "fuzzy" and len(normalize_text(kw) if spec["normalize"] else kw) < 2:
            errors["keyword"] = "模糊匹配的关键词至少要 2 个字"
    if "threshold" not in errors and not 1 <= spec["threshold"] <= 100:
        errors["threshold"] = "相似度阈值应在 1 到 100 之间"
    if "priority" not in errors and not -1000 <= spec["priority"] <= 1000:
        errors["priority"] = "优先级应在 -1000 到 1000 之间"
    variants = ([spec["reply"]] if spec["reply"] else []) + spec["replies"]
    if "reply" not in errors and "replies" not in errors:
        if not variants and spec["kind"] != "image":
            errors["reply"] = "至少要有一条回复内容"
        for text in variants:
            if len(text) > MAX_REPLY_LENGTH:
                errors["replies" if spec["replies"] else "reply"] = f"回复太长（最多 {MAX_REPLY_LENGTH} 个字符）"
            try:
                check_template(text, REPLY_FIELDS)
            except ValueError as exc:
                errors["replies" if text in spec["replies"] else "reply"] = str(exc)
    if "title" not in errors:
        try:
            check_template(spec["title"], REPLY_FIELDS)
        except ValueError as exc:
            errors["title"] = str(exc)
    if spec["kind"] == "link" and not spec["url"]:
        errors.setdefault("url", "链接卡片需要以 http:// 或 https:// 开头的链接")
    if spec["kind"] == "image" and not spec["image"]:
        errors.setdefault("image", "图片回复需要填写图片地址")
    # the one link check of bot/urls.py: config, console, import and CLI all come through here
    for name in ("url", "image"):
        problem = url_error(spec[name]) if spec[name] else None
        if problem:
            errors.setdefault(name, problem if name == "url" else problem.replace("链接", "图片地址", 1))


def config_id(spec: Mapping[str, Any]) -> str:
    """Stable id of a config.toml rule without `id`: survives edits to its replies."""
    import hashlib

    basis = "\x1f".join(
        [spec["keyword"], spec["match"], spec["scope"], *sorted(spec["groups"]), "#", *sorted(spec["tags"])]
    )
    return "cfg-" + hashlib.sha1(basis.encode()).hexdigest()[:8]


def export_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec as written in files: `reply` for one variant, `replies` for several; durations as text."""
    out = {k: spec.get(k, DEFAULTS[k]) for k in FIELDS}
    variants = list(spec.get("replies") or [])
    if len(variants) == 1:
        out["reply"], out["replies"] = variants[0], []
    for key in ("cooldown", "member_cooldown"):
        out[key] = format_duration(out[key]) if out[key] else "0"
    return out


@dataclass(slots=True, eq=False)
class Rule:
    """A compiled rule, ready for the matcher and the stage."""

    rowid: int
    id: str
    source: str
    spec: dict[str, Any]
    keyword: str  # as matched: normalised unless the rule opts out
    match: str
    priority: int
    specificity: int
    # the `regex` engine: matched with a timeout (see matcher.py)
    regex: RegexPattern[str] | None = None
    literals: tuple[str, ...] = ()
    windows: tuple[tuple[int, int], ...] = ()
    start: date | None = None
    end: date | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)
    # only senders with one of these member tags (members/); empty = anyone
    member_tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def normalize(self) -> bool:
        return self.spec["normalize"]

    def sort_key(self, score: float = 100.0) -> tuple:
        return (-self.priority, self.specificity, -len(self.keyword), -score, self.rowid)


def compile_rule(rowid: int, rule_id: str, source: str, spec: dict[str, Any]) -> Rule:
    """Build the matcher's view of a cleaned spec (no validation here)."""
    kw = spec["keyword"]
    match = spec["match"]
    norm = spec["normalize"]
    regex = None
    literals: list[str] = []
    if match == "regex":
        regex = runtime_pattern(kw, norm)
        literals = required_literals(kw, flags_for(norm))
        keyword = kw
    else:
        keyword = normalize_text(kw) if norm else kw
    start, end = parse_dates(spec["dates"])
    return Rule(
        rowid=rowid, id=rule_id, source=source, spec=spec, keyword=keyword, match=match,
        priority=spec["priority"], specificity=SPECIFICITY[match], regex=regex, literals=tuple(literals),
        windows=parse_windows(spec["active"]), start=start, end=end,
        groups=frozenset(spec["groups"]), tags=frozenset(spec["tags"]),
        member_tags=frozenset(spec.get("member_tags", ())),
    )
