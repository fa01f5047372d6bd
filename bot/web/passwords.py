"""Salted, slow password hashes (scrypt) in a self-describing string."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# n=2**14, r=8 costs ~16 MB and ~50 ms: slow for guessing, fine for a login
N, R, P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def random_password(length: int = 16) -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# letters (Chinese included), digits and . _ - @; no spaces or markup: a name shows up in the
# audit log, in links and in other people's pages
_USERNAME = re.compile(r"[\w.@-]{1,32}")


def username_problem(name: str) -> str | None:
    """Why `name` cannot be a console user name (zh-CN), or None when it can."""
    if not name:
        return "请填写用户名"
    if len(name) > 32:
        return "用户名最多 32 个字符"
    if not _USERNAME.fullmatch(name):
        return "用户名只能包含字母、汉字、数字和 . _ - @，不能有空格或其他符号"
    return None
