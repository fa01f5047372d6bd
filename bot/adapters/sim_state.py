"""What the simulated platform lets each member do: removed and muted members cannot post.

A real group enforces this itself; the simulator derives it from the platform notices the
sim adapter records (kick / mute / unmute), so it survives restarts without a table of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.store.base import parse_iso

REMOVED = "已被移出群"
LEFT = "已退出群聊"


def zh_duration(seconds: float) -> str:
    """Days, hours and minutes in words: "1 天 2 小时 5 分钟"; under a minute is "不到 1 分钟"."""
    minutes = int(seconds // 60)
    if minutes <= 0:
        return "不到 1 分钟"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "天"), (hours, "小时"), (mins, "分钟")) if n]
    return " ".join(parts)


def member_states(
    members: list[dict[str, Any]], notices: list[dict[str, Any]], now: datetime, tz: tzinfo,
) -> list[dict[str, Any]]:
    """Each member (present or gone) with whether they may post and, if not, why in zh-CN."""
    kicked: set[str] = set()
    muted: dict[str, datetime] = {}
    for n in notices:  # oldest first: the latest notice about a member wins
        action = (n.get("raw") or {}).get("action") or {}
        member_id, kind = str(action.get("member_id", "")), action.get("action")
        at = parse_iso(n["time"])
        if not member_id or at is None:
            continue
        if kind == "kick":
            kicked.add(member_id)
        elif kind == "mute":
            muted[member_id] = at + timedelta(seconds=float(action.get("seconds", 0) or 0))
        elif kind == "unmute":
            muted.pop(member_id, None)
    out = []
    for m in members:
        mid = m["member_id"]
        state: dict[str, Any] = {
            "id": mid, "name": m["name"] or mid, "moderator": bool(m["is_moderator"]),
            "can_post": True, "reason": "", "muted_until": None,
        }
        if m["left_at"]:
            state.update(can_post=False, reason=REMOVED if mid in kicked else LEFT,
                         state="removed" if mid in kicked else "left")
        elif mid in muted and muted[mid] > now:
            until = muted[mid]
            local = until.astimezone(tz)
            state.update(
                can_post=False, state="muted", muted_until=until.isoformat(),
                reason=f"已被禁言，还剩 {zh_duration((until - now).total_seconds())}"
                       f"（至 {local.month}月{local.day}日 {local:%H:%M}）",
            )
        else:
            state["state"] = "ok"
        out.append(state)
    return out
