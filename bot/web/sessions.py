"""Signed session cookies: who is logged in, until when, and their CSRF token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "qunbot_session"


@dataclass(slots=True)
class Session:
    user: str
    expires: float
    csrf: str

    def to_dict(self) -> dict:
        return {"u": self.user, "e": self.expires, "c": self.csrf}


def new_session(user: str, now: float, lifetime_s: float) -> Session:
    return Session(user=user, expires=now + lifetime_s, csrf=secrets.token_urlsafe(24))


def sign(session: Session, key: bytes) -> str:
    body = base64.urlsafe_b64encode(json.dumps(session.to_dict(), separators=(",", ":")).encode()).decode()
    mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unsign(value: str, key: bytes, now: float) -> Session | None:
    """The session in a cookie, or None when forged, malformed or expired."""
    body, _, mac = value.rpartition(".")
    if not body or not hmac.compare_digest(mac, hmac.new(key, body.encode(), hashlib.sha256).hexdigest()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
        session = Session(user=str(data["u"]), expires=float(data["e"]), csrf=str(data["c"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires < now:
        return None
    return session
