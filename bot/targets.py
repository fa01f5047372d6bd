"""Group and tag names a manager typed, checked against the chats the bot knows.

A keyword rule for group "宝妈君" or tag "宝 妈" used to save and then never fire. Every save
(keyword rules, posts, campaigns, broadcasts) asks here first; an unknown name is refused with
the closest existing names, so a typo is caught while the manager is still looking at the form.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def _squeeze(text: str) -> str:
    return "".join(text.split()).lower()


def suggest(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known names closest to `name` (spaces and case ignored), best first."""
    by_key: dict[str, str] = {}
    for k in known:
        by_key.setdefault(_squeeze(k), k)
    key = _squeeze(name)
    if key in by_key:
        return [by_key[key]]
    close = difflib.get_close_matches(key, list(by_key), n=limit, cutoff=0.4)
    # a name that contains the typed text (or the reverse) is a good guess even when short
    contained = [k for k in by_key if key and (key in k or k in key) and k not in close]
    return [by_key[k] for k in [*close, *contained][:limit]]


def group_names(chats: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every way a group may be named in a target: its name, its id, platform:id."""
    names: set[str] = set()
    for c in chats:
        if c.get("kind", "group") == "private":
            continue
        names.update({str(c["chat_id"]), f"{c['platform']}:{c['chat_id']}"})
        if c.get("name"):
            names.add(str(c["name"]))
    return names


def unknown_targets(groups: Iterable[str], tags: Iterable[str],
                    chats: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """{"groups": reason, "tags": reason} for names no known chat has (empty when all are known)."""
    chats = list(chats)
    known_groups = group_names(chats)
    known_tags = {t for c in chats for t in (c.get("tags") or ())}
    shown_groups = {str(c["name"]) for c in chats if c.get("name") and c.get("kind", "group") != "private"}
    problems: dict[str, str] = {}
    bad_groups = [g for g in groups if g not in known_groups]
    if bad_groups:
        problems["groups"] = "；".join(_reason("群", g, suggest(g, shown_groups or known_groups)) for g in bad_groups)
    bad_tags = [t for t in tags if t not in known_tags]
    if bad_tags:
        problems["tags"] = "；".join(_reason("标签", t, suggest(t, known_tags)) for t in bad_tags)
    return problems


def _reason(kind: str, name: str, close: list[str]) -> str:
    hint = f"，您是不是想写：{'、'.join(close)}" if close else "（先在“群组与标签”页添加或打标签）"
    return f"{kind}“{name}”不存在{hint}"
