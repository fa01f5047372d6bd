"""HTTP clients for the WeCom and 公众号 server APIs: one cached access token per app.

The token is fetched on first use, shared by every sender, refreshed `REFRESH_MARGIN`
seconds before it expires and again whenever the platform says it is invalid or expired
(40001 / 40014 / 42001). Errors map onto the outbox's retry policy: busy and frequency
limits are transient (with `retry_after`), everything else is permanent with the platform's
code and message. A send whose request went out and whose answer was lost (timeout,
connection reset, garbled response) raises OutcomeUnknown: the message may have been posted.
URLs carry secrets in their query string, so only paths are logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.adapters.base import OutcomeUnknown, PermanentSendError, TransientSendError
from bot.adapters.http_session import FreshConnections

log = logging.getLogger("qunbot.adapters")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# system busy, API frequency limits, per-member message limits
TRANSIENT_ERRORS = {-1: 5.0, 45009: 60.0, 45011: 60.0, 45033: 60.0, 45035: 60.0}
# WeCom errors whose cause is the corp's set-up, not the request: say what to change where
# (https://developer.work.weixin.qq.com/document/path/90313)
WECOM_SETUP_ERRORS = {
    48002: "接口无权限：请在 管理后台 → 客户联系 → 客户 → API 把本应用加入「可调用接口的应用」"
           "（或填写客户联系 Secret：contact_secret），并确认群主在应用的可见范围内",
    60020: "来源 IP 不在企业可信 IP 中：请在 管理后台 → 应用管理 → 本应用 → 企业可信IP 加入本服务器的出口 IP",
}
REFRESH_MARGIN = 300.0
TEXT_LIMIT = 2048
HTTP_TIMEOUT = 10.0


class AccessToken:
    """One app's access token, fetched lazily and refreshed before expiry; safe under concurrency."""

    def __init__(self, fetch: Callable[[], Any], monotonic: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._monotonic = monotonic
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        return f"AccessToken(valid={self.valid})"

    @property
    def valid(self) -> bool:
        return bool(self._token) and self._monotonic() < self._expires - REFRESH_MARGIN

    async def get(self) -> str:
        if self.valid:
            return self._token
        async with self._lock:
            if not self.valid:
                token, expires_in = await self._fetch()
                self.fetches += 1
                self._token, self._expires = token, self._monotonic() + float(expires_in)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (the platform refused it); a newer token fetched meanwhile is kept."""
        if self._token == token:
            self._token, self._expires = "", 0.0


class WxApi:
    """Base client: `call(path, payload)` with the token in the query string and errcode mapping."""

    product = "微信"

    def __init__(self, api_base: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.api_base = api_base.rstrip("/")
        self.token = AccessToken(self._fetch_token, monotonic)
        self._http = FreshConnections(HTTP_TIMEOUT)

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._http.session

    async def close(self) -> None:
        await self._http.close()

    async def _fetch_token(self) -> tuple[str, float]:
        raise NotImplementedError

    async def _request(self, method: str, path: str, params: dict[str, str], payload: Any = None) -> dict[str, Any]:
        """One API request. A lost answer to a POST (which may have posted a message) is
        OutcomeUnknown; to a GET (token) it is transient, since asking again is harmless."""
        lost = OutcomeUnknown if method == "POST" else TransientSendError
        try:
            async with self.session.request(method, self.api_base + path, params=params, json=payload) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise TransientSendError(f"{self.product}接口 {path} 返回 HTTP {resp.status}")
                if resp.status >= 400:
                    raise PermanentSendError(f"{self.product}接口 {path} 返回 HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # the request never left this machine
            raise TransientSendError(f"{self.product}接口 {path} 无法连接：{type(exc).__name__}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise lost(f"{self.product}接口 {path} 已发出请求但未收到结果：{type(exc).__name__}") from None
        except ValueError:
            raise lost(f"{self.product}接口 {path} 返回的不是 JSON") from None
        if not isinstance(data, dict):
            raise lost(f"{self.product}接口 {path} 返回格式异常")
        return data

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with the current token; on a token error refresh once and retry."""
        for attempt in (1, 2):
            token = await self.token.get()
            data = await self._request("POST", path, {"access_token": token}, payload)
            code = int(data.get("errcode", 0) or 0)
            if code in TOKEN_ERRORS and attempt == 1:
                log.info("%s access token refused (errcode %s), refreshing", self.product, code)
                self.token.invalidate(token)
                continue
            self.raise_for(path, data)
            return data
        raise AssertionError("unreachable")

    def raise_for(self, path: str, data: dict[str, Any]) -> None:
        code = int(data.get("errcode", 0) or 0)
        if code == 0:
            return
        message = f"{self.product}接口 {path} 错误 {code}: {data.get('errmsg', '')}"
        if self.product == "企业微信" and code in WECOM_SETUP_ERRORS:
            message = f"企业微信接口 {path} 错误 {code}，{WECOM_SETUP_ERRORS[code]}"
        if code in TRANSIENT_ERRORS:
            raise TransientSendError(message, retry_after=TRANSIENT_ERRORS[code])
        raise PermanentSendError(message)


class WecomApi(WxApi):
    """企业微信 self-built application: gettoken, message/send, appchat/send."""

    product = "企业微信"

    def __init__(self, api_base: str, corp_id: str, secret: str, agent_id: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(api_base, monotonic)
        self.corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id

    def __repr__(self) -> str:
        return f"WecomApi(corp_id={self.corp_id!r}, agent_id={self.agent_id!r})"

    async def _fetch_token(self) -> tuple[str, float]:
        path = "/cgi-bin/gettoken"
        data = await self._request("GET", path, {"corpid": self.corp_id, "corpsecret": self._secret})
        self.raise_for(path, data)
        log.info("企业微信 access token fetched", extra={"expires_in": data.get("expires_in")})
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    async def send_to_user(self, user_id: str, text: str, card: dict[str, str] | None = None) -> str:
        """Application message to one member (or several joined by "|"); returns the msgid."""
        data = await self.call("/cgi-bin/message/send", {
            "touser": user_id, "agentid": _agent(self.agent_id), "safe": 0, **_body(text, card),
        })
        if data.get("invaliduser") and data["invaliduser"] == user_id:
            raise PermanentSendError(f"企业微信成员 {user_id} 不存在或不在应用可见范围内")
        return str(data.get("msgid", ""))

    async def send_to_appchat(self, chat_id: str, text: str, card: dict[str, str] | None = None) -> str:
        """Message to a group chat the application created (appchat/create)."""
        await self.call("/cgi-bin/appchat/send", {"chatid": chat_id, "safe": 0, **_body(text, card)})
        return ""


def _body(text: str, card: dict[str, str] | None) -> dict[str, Any]:
    """A text message, or a text card (title, description, url) for links."""
    if card:
        return {"msgtype": "textcard", "textcard": {"btntxt": "详情", **card}}
    return {"msgtype": "text", "text": {"content": text}}


class MpApi(WxApi):
    """公众号: token and customer-service messages (replies that come after the 5-second window)."""

    product = "公众号"

    def __init__(self, api_base: str, app_id: str, app_secret: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(api_base, monotonic)
        self.app_id = app_id
        self._secret = app_secret

    def __repr__(self) -> str:
        return f"MpApi(app_id={self.app_id!r})"

    async def _fetch_token(self) -> tuple[str, float]:
        path = "/cgi-bin/token"
        data = await self._request(
            "GET", path, {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret},
        )
        self.raise_for(path, data)
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    async def send_custom(self, open_id: str, text: str) -> str:
        data = await self.call("/cgi-bin/message/custom/send", {
            "touser": open_id, "msgtype": "text", "text": {"content": text},
        })
        return str(data.get("msgid", ""))


def _agent(agent_id: str) -> int | str:
    return int(agent_id) if agent_id.isdigit() else agent_id


# -- text splitting ---------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。！？!?；;\n…]*(?:[。！？!?；;\n…]+[”’\"')）】」』]*|$)")
_CLAUSE = re.compile(r"[^，,、：:\s]*(?:[，,、：:\s]+|$)")


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split into parts of at most `limit` UTF-8 bytes, at sentence ends where possible,
    then at commas, and only as a last resort inside a sentence (never inside a character)."""
    if len(text.encode()) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        if len((current + piece).encode()) <= limit:
            current += piece
        else:
            if current:
                parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return [p.strip("\n") for p in parts if p.strip()]


def _pieces(text: str, limit: int) -> list[str]:
    out: list[str] = []
    for sentence in (m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)):
        if len(sentence.encode()) <= limit:
            out.append(sentence)
            continue
        for clause in (m.group(0) for m in _CLAUSE.finditer(sentence) if m.group(0)):
            if len(clause.encode()) <= limit:
                out.append(clause)
            else:
                out.extend(_hard_split(clause, limit))
    return out


def _hard_split(text: str, limit: int) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode())
        if size + n > limit:
            out.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        out.append("".join(current))
    return out
