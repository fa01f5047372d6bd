"""What SOP sequences ask about a member: their tags, whether they are blacklisted, who the staff are.

One small function each, so the member directory (member tags) and the guard (blacklist) plug
in here and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.services import DomainSettings
    from bot.store import Store


def member_tags(store: Store, platform: str, member_id: str) -> set[str]:
    """The member's tags in the member directory (manual, imported and rule-given alike)."""
    return {row["tag"] for row in store.members.tags_of(platform, member_id)}


def blacklisted(store: Store, platform: str, member_id: str) -> bool:
    """Is the member on the blacklist ("platform:id" or the bare id)?"""
    return store.sop.blacklisted(platform, member_id)


def staff(store: Store, settings: DomainSettings, platform: str, chat_id: str) -> list[dict[str, Any]]:
    """The group's owner and managers: moderators known in the member list and in config."""
    ids: dict[str, str] = {}
    for m in store.chats.list_members(platform, chat_id):
        if m["is_moderator"]:
            ids[m["member_id"]] = m["name"] or m["member_id"]
    for group in settings.groups:
        if group.platform == platform and group.id == chat_id:
            for member_id in group.moderators:
                ids.setdefault(member_id, member_id)
    return [{"member_id": k, "name": v} for k, v in sorted(ids.items())]
