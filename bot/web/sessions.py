"""Signed session cookies: who is logged in, until when, their CSRF token, and the session id
whose row in the database (accounts.console_sessions) must still exist for the cookie to work."""

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
    # server-side handle: logout and password changes delete its row
    sid: str = ""

    def to_dict(self) -> dict:
        return {"u": self.user, "e": self.expires, "c": self.csrf, "s": self.sid}


def new_session(user: str, now: float, lifetime_s: float) -> Session:
    return Session(user=user, expires=now + lifetime_s, csrf=secrets.token_urlsafe(24),
                   sid=secrets.token_urlsafe(32))


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
        session = Session(user=str(data["u"]), expires=float(data["e"]), csrf=str(data["c"]), sid=str(data["s"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires < now or not session.sid:
        return None
    return session
