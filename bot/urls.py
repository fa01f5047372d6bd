"""The one check for every link qunbot stores (campaign links, keyword link cards and images):
an absolute http:// or https:// address, so a stored `javascript:` or `data:` link can never
run in the console or a member's chat client."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
SCHEMES = ("http", "https")


def url_error(value: str) -> str | None:
    """Why `value` is not a link qunbot may store (zh-CN, for managers), or None when it is.
    The empty string is for the caller to allow or refuse."""
    if not isinstance(value, str):
        return "链接必须是文字"
    if len(value) > MAX_URL_LENGTH:
        return f"链接太长（最多 {MAX_URL_LENGTH} 个字符）"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "链接中不能有空格、换行或控制字符"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"链接 {value[:80]!r} 格式不对"
    if parts.scheme.lower() not in SCHEMES:
        return "链接只能以 http:// 或 https:// 开头"
    if not parts.hostname:
        return "链接缺少域名（如 https://example.com/…）"
    return None


def check_url(value: str) -> str:
    """`value` stripped, or ValueError with the zh-CN reason."""
    value = value.strip() if isinstance(value, str) else value
    error = url_error(value)
    if error:
        raise ValueError(error)
    return value


def is_safe_url(value: object) -> bool:
    """For templates: render a stored value as a link only when it passes the check (rows
    saved before the check existed may still hold anything)."""
    return isinstance(value, str) and bool(value) and url_error(value) is None
