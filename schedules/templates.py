"""Campaign post templates: `{item}`, `{price}`, `{original_price}`, `{discount}`, `{countdown}`, ..."""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PLACEHOLDERS = {
    "item": "商品名",
    "price": "秒杀价",
    "original_price": "原价",
    "discount": "折扣（如“3.9折”）",
    "countdown": "倒计时（预告：距开始；活动中：距结束）",
    "link": "活动链接（http:// 或 https://）",
    "stock": "库存",
    "start": "开始时间（如“11月25日 10:00”）",
    "end": "结束时间",
    "name": "活动名称",
}


def template_fields(text: str) -> list[str]:
    """Names used in a template; raises ValueError for broken braces."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"模板格式错误：{exc}（花括号请写成 {{{{ 和 }}}}）") from None
    names = []
    for _literal, name, spec, conv in parsed:
        if name is None:
            continue
        if not name or spec or conv:
            raise ValueError(f"模板占位符 {{{name}}} 无效，请只写 {{item}} 这样的名称")
        names.append(name)
    return names


def check_template(text: str, campaign: Any) -> None:
    """Reject unknown placeholders, and ones that need a value the campaign does not have."""
    for name in template_fields(text):
        if name not in PLACEHOLDERS:
            known = "、".join(f"{{{k}}}" for k in PLACEHOLDERS)
            raise ValueError(f"未知占位符 {{{name}}}，可用：{known}")
        if name == "link" and not campaign.link:
            raise ValueError("模板用到了 {link}，但活动没有设置 link")
        if name == "stock" and campaign.stock is None:
            raise ValueError("模板用到了 {stock}，但活动没有设置 stock")


def format_price(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def format_discount(price: float, original: float) -> str:
    """9.9 of 25.9 → "3.8折"; no original price or no saving → ""."""
    if original <= 0 or price >= original:
        return ""
    tenths = price / original * 10
    return f"{format_price(round(tenths, 1))}折"


def format_countdown(delta: timedelta) -> str:
    """timedelta → "1天2小时" / "1小时5分钟" / "5分钟"; rounds to whole minutes."""
    minutes = max(0, round(delta.total_seconds() / 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days}天")
    if hours:
        parts.append(f"{hours}小时")
    if mins and not days:
        parts.append(f"{mins}分钟")
    return "".join(parts) or "不到1分钟"


def format_local(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def campaign_values(campaign: Any, at: datetime, kind: str, tz: ZoneInfo, start: datetime,
                    end: datetime) -> dict[str, str]:
    """Placeholder values of one campaign post scheduled at `at`."""
    if kind == "announce":
        countdown = format_countdown(start - at)
    elif kind == "end":
        countdown = ""
    else:
        countdown = format_countdown(end - at)
    return {
        "item": campaign.item,
        "price": format_price(campaign.price),
        "original_price": format_price(campaign.original_price),
        "discount": format_discount(campaign.price, campaign.original_price),
        "countdown": countdown,
        "link": campaign.link,
        "stock": "" if campaign.stock is None else str(campaign.stock),
        "start": format_local(start, tz),
        "end": format_local(end, tz),
        "name": campaign.name,
    }


def render(text: str, values: dict[str, str]) -> str:
    return text.format_map(values)
