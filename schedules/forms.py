"""Console forms ⇄ post/campaign tables: the console saves through the same validator as config.toml."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.kernel.durations import Duration, format_duration, parse_duration
from bot.settings_loader import ConfigError
from schedules.config import CampaignConfig, PostConfig

CAMPAIGN_LABELS = {
    "name": "活动名称", "item": "商品", "price": "秒杀价", "original_price": "原价", "stock": "库存",
    "link": "链接", "start": "开始时间", "end": "结束时间", "groups": "目标群", "tags": "目标标签",
    "announce": "预告提前量", "remind": "活动中提醒间隔", "last_call": "最后召唤提前量",
    "announce_text": "预告文案", "start_text": "开抢文案", "remind_text": "提醒文案",
    "last_call_text": "最后召唤文案", "end_text": "结束文案", "keywords": "触发关键词",
    "keyword_reply": "关键词回复", "misfire_grace": "补发宽限",
}
POST_LABELS = {
    "name": "名称", "text": "内容", "texts": "内容", "every": "间隔", "cron": "cron 表达式", "at": "每日时间",
    "window": "时间段", "start": "开始日期", "end": "结束日期", "skip": "跳过日期", "groups": "目标群",
    "tags": "目标标签", "misfire_grace": "补发宽限",
}
CAMPAIGN_TEXT_FIELDS = ("announce_text", "start_text", "remind_text", "last_call_text", "end_text", "keyword_reply")


class FormError(ValueError):
    """A field the manager must fix: its name and a zh-CN message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def split_list(value: str) -> list[str]:
    return [p.strip() for p in str(value or "").replace("，", ",").replace("、", ",").split(",") if p.strip()]


def _number(form: Mapping[str, Any], key: str, label: str, kind: type = float) -> Any:
    text = str(form.get(key, "")).strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise FormError(key, f"{label}必须是{'整数' if kind is int else '数字'}") from None


def _duration(form: Mapping[str, Any], key: str, label: str) -> str | None:
    text = str(form.get(key, "")).strip()
    if not text:
        return None
    try:
        parse_duration(text)
    except ValueError:
        raise FormError(key, f"{label}格式不对，应写成 30m、1h、1d 这样的时长") from None
    return text


def campaign_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": str(form.get("name", "")).strip(), "item": str(form.get("item", "")).strip(),
        "link": str(form.get("link", "")).strip(),
        "start": str(form.get("start", "")).strip(), "end": str(form.get("end", "")).strip(),
        "groups": split_list(form.get("groups", "")), "tags": split_list(form.get("tags", "")),
        "keywords": split_list(form.get("keywords", "")),
    }
    for key in ("price", "original_price"):
        value = _number(form, key, CAMPAIGN_LABELS[key])
        if value is None:
            raise FormError(key, f"请填写{CAMPAIGN_LABELS[key]}")
        raw[key] = value
    stock = _number(form, "stock", "库存", int)
    if stock is not None:
        raw["stock"] = stock
    for key in ("start", "end"):
        if not raw[key]:
            raise FormError(key, f"请填写{CAMPAIGN_LABELS[key]}")
    announce = split_list(form.get("announce", ""))
    for a in announce:
        try:
            parse_duration(a)
        except ValueError:
            raise FormError("announce", f"预告提前量 {a!r} 格式不对，应写成 1d, 1h, 5m 这样的时长") from None
    raw["announce"] = announce
    raw["remind"] = _duration(form, "remind", "提醒间隔")
    raw["last_call"] = _duration(form, "last_call", "最后召唤提前量") or "0"
    grace = _duration(form, "misfire_grace", "补发宽限")
    if grace:
        raw["misfire_grace"] = grace
    for key in CAMPAIGN_TEXT_FIELDS:
        raw[key] = str(form.get(key, "")).replace("\r\n", "\n").strip()
    return {k: v for k, v in raw.items() if v is not None}


def post_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    lines = [t.strip() for t in str(form.get("texts", "")).replace("\r\n", "\n").split("\n---\n") if t.strip()]
    raw: dict[str, Any] = {
        "name": str(form.get("name", "")).strip(),
        "groups": split_list(form.get("groups", "")), "tags": split_list(form.get("tags", "")),
        "skip": split_list(form.get("skip", "")),
    }
    if len(lines) == 1:
        raw["text"] = lines[0]
    elif lines:
        raw["texts"] = lines
    else:
        raise FormError("texts", "请填写内容")
    mode = str(form.get("mode", "every"))
    value = str(form.get(mode, "")).strip() if mode in ("every", "cron", "at") else ""
    if not value:
        raise FormError(mode if mode in ("every", "cron", "at") else "mode", "请填写发送时间规则")
    if mode == "every":
        raw["every"] = _duration(form, "every", "间隔")
    elif mode == "cron":
        raw["cron"] = value
    else:
        raw["at"] = split_list(value)
    for key in ("window", "start", "end"):
        text = str(form.get(key, "")).strip()
        if text:
            raw[key] = text
    grace = _duration(form, "misfire_grace", "补发宽限")
    if grace:
        raw["misfire_grace"] = grace
    return raw


def config_error_field(exc: ConfigError) -> str:
    """`posts[0].window` / `window` → "window"."""
    return exc.key.rsplit(".", 1)[-1].split("[", 1)[0] if exc.key else ""


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Duration):
        return format_duration(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def form_values(spec: PostConfig | CampaignConfig | None, kind: str) -> dict[str, str]:
    """What the edit form shows for a stored spec (or the defaults of a new one)."""
    if spec is None:
        if kind == "campaign":
            spec = CampaignConfig(name="", item="", price=0, original_price=0, start=datetime(2000, 1, 1),
                                  end=datetime(2000, 1, 2))
            values = {k: _fmt(getattr(spec, k)) for k in CAMPAIGN_LABELS}
            values.update(name="", item="", price="", original_price="", start="", end="", remind="30m")
            return values
        return {"mode": "every", "every": "30m"}
    if isinstance(spec, CampaignConfig):
        return {k: _fmt(getattr(spec, k)) for k in CAMPAIGN_LABELS}
    values = {k: _fmt(getattr(spec, k)) for k in POST_LABELS if k not in ("text", "texts", "at")}
    values["texts"] = spec.text or "\n---\n".join(spec.texts)
    values["at"] = ", ".join(spec.at)
    values["mode"] = "cron" if spec.cron else "at" if spec.at else "every"
    return values
