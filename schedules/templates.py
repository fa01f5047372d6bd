"""Campaign post templates: `{item}`, `{price}`, `{original_price}`, `{discount}`, `{countdown}`, ..."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.kernel import templates
from bot.kernel.templates import CAMPAIGN_FIELDS, VARIABLES

# the campaign's own variables (bot/kernel/templates.py has the group-level ones too)
PLACEHOLDERS = {k: VARIABLES[k] for k in CAMPAIGN_FIELDS}
CAMPAIGN_CONTEXT = "campaign"
KEYWORD_REPLY_CONTEXT = "campaign_reply"


def check_template(text: str, campaign: Any, context: str = CAMPAIGN_CONTEXT) -> None:
    """Reject unknown placeholders, and ones that need a value the campaign does not have."""
    templates.check(text, context)
    if templates.uses(text, "link") and not campaign.link:
        raise ValueError("模板用到了 {link}，但活动没有设置 link")
    if templates.uses(text, "stock") and campaign.stock is None:
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


def render(text: str, values: dict[str, str], context: str = CAMPAIGN_CONTEXT) -> str:
    return templates.render(text, context, values)
