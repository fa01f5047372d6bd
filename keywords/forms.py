"""Console form fields ⇄ rule specs (the console's spelling of the same fields)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.kernel.durations import format_duration

VARIANT_SEPARATOR = "---"
TEXT_FIELDS = (
    "id", "keyword", "match", "scope", "priority", "cooldown", "member_cooldown", "threshold",
    "active", "dates", "mode", "kind", "url", "title", "image",
)
BOOL_FIELDS = ("private", "normalize", "enabled")


def split_names(text: str) -> list[str]:
    return [p for p in re.split(r"[,，|、\s]+", text) if p]


def split_variants(text: str) -> list[str]:
    """Replies separated by a line holding only `---`; each reply may span several lines."""
    parts = re.split(r"(?m)^\s*---\s*$", text.replace("\r\n", "\n"))
    return [p.strip("\n").strip() for p in parts if p.strip()]


def form_to_rule(form: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in TEXT_FIELDS}
    data["replies"] = split_variants(str(form.get("replies", "")))
    data["groups"] = split_names(str(form.get("groups", "")))
    data["tags"] = split_names(str(form.get("tags", "")))
    data["member_tags"] = split_names(str(form.get("member_tags", "")))
    for key in BOOL_FIELDS:
        data[key] = key in form
    return data


def rule_to_form(spec: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: spec.get(k, "") for k in TEXT_FIELDS}
    for key in ("cooldown", "member_cooldown"):
        values[key] = format_duration(spec[key]) if spec.get(key) else ""
    values["threshold"] = f"{spec.get('threshold', 80):g}"
    values["replies"] = f"\n{VARIANT_SEPARATOR}\n".join(
        spec.get("replies") or ([spec["reply"]] if spec.get("reply") else [])
    )
    values["groups"] = ", ".join(spec.get("groups", []))
    values["tags"] = ", ".join(spec.get("tags", []))
    values["member_tags"] = ", ".join(spec.get("member_tags", []))
    for key in BOOL_FIELDS:
        values[key] = bool(spec.get(key))
    return values


def form_to_welcome(form: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(form.get("id", "")).strip(), "text": str(form.get("text", "")).strip(),
        "groups": split_names(str(form.get("groups", ""))), "tags": split_names(str(form.get("tags", ""))),
        "member_tags": split_names(str(form.get("member_tags", ""))),
        "window": str(form.get("window", "")).strip() or "10s", "enabled": "enabled" in form,
    }
