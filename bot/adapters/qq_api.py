"""HTTP client for the QQ bot OpenAPI: app access token, group / 1:1 messages, recall.

The token comes from `getAppAccessToken` (appId + clientSecret), is shared by every sender and
refreshed `REFRESH_MARGIN` seconds before it expires, and again once when the API answers 401.
Errors map onto the outbox's retry policy: 429, 5xx and the codes the docs say to retry once
are transient; a send whose request went out and whose answer was lost is OutcomeUnknown;
everything else is permanent, with a zh-CN reason for the codes a manager can act on.
Docs: https://bot.q.qq.com/wiki/develop/api-v2/dev-prepare/interface-framework/api-use.html,
…/server-inter/message/send-receive/send.html, …/send-receive/reset.html,
…/dev-prepare/error-trace/openapi.html
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.adapters.base import OutcomeUnknown, PermanentSendError, TransientSendError
from bot.adapters.http_session import FreshConnections
from bot.adapters.wecom_api import AccessToken

log = logging.getLogger("qunbot.adapters")

# the docs advise at least 5 s for send calls, or a sent message may look failed
HTTP_TIMEOUT = 10.0
# "system error, usually fine after one retry" (token / privilege / admin checks)
RETRY_ONCE = frozenset({11242, 11252, 11263, 11281})
# 22009 msg limit exceed; 20028 rate limit
RATE_LIMITED = frozenset({22009, 20028})
# what a manager reads when the platform refuses for a reason they can fix
REASONS = {
    11282: "机器人不是该群管理员，不能撤回成员消息（请群主把机器人设为管理员）",
    11253: "机器人没有调用该接口的权限，需在 QQ 开放平台申请",
    11254: "该接口已被平台封禁",
    11265: "机器人已被封禁",
    304003: "消息中的链接未在 QQ 开放平台（开发设置 → 消息URL配置）报备",
    304026: "被动回复的原消息 ID 无效",
    304027: "被动回复已超出平台时限（群聊 5 分钟、单聊 60 分钟）",
    22009: "消息发送超频",
}


class QqApi:
    """One bot's OpenAPI client; `call()` adds `Authorization: QQBot <token>`."""

    def __init__(self, api_base: str, token_url: str, app_id: str, app_secret: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.api_base = api_base.rstrip("/")
        self.token_url = token_url
        self.app_id = app_id
        self._secret = app_secret
        self.token = AccessToken(self._fetch_token, monotonic)
        self._http = FreshConnections(HTTP_TIMEOUT)

    def __repr__(self) -> str:
        return f"QqApi(app_id={self.app_id!r}, api_base={self.api_base!r})"

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._http.session

    async def close(self) -> None:
        await self._http.close()

    async def _fetch_token(self) -> tuple[str, float]:
        status, data = await self._request("POST", self.token_url, {"appId": self.app_id,
                                                                     "clientSecret": self._secret},
                                           lost=TransientSendError)
        token = data.get("access_token")
        if status >= 400 or not isinstance(token, str) or not token:
            code = data.get("code", status)
            raise PermanentSendError(f"QQ 机器人获取 access_token 失败（{code}）：请检查 app_id 与 app_secret")
        try:
            expires_in = float(data.get("expires_in", 7200))  # the platform sends it as a string
        except (TypeError, ValueError):
            expires_in = 7200.0
        log.info("QQ bot access token fetched", extra={"expires_in": expires_in})
        return token, expires_in

    async def _request(self, method: str, url: str, payload: Any = None, token: str = "",
                       lost: type[Exception] = OutcomeUnknown) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body or {}). Connection refused: transient (nothing sent); an
        answer lost after the request went out: `lost` (OutcomeUnknown for sends)."""
        headers = {"Authorization": f"QQBot {token}"} if token else {}
        try:
            async with self.session.request(method, url, json=payload, headers=headers) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise TransientSendError(f"QQ 接口无法连接：{type(exc).__name__}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise lost(f"QQ 接口已发出请求但未收到结果：{type(exc).__name__}") from None
        if not text.strip():
            return status, {}
        try:
            data = json.loads(text)
        except ValueError:
            if status >= 500:
                return status, {}
            raise lost(f"QQ 接口返回的不是 JSON（HTTP {status}）") from None
        return status, data if isinstance(data, dict) else {}

    async def call(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        """One OpenAPI call with the current token; a 401 refreshes the token once."""
        for attempt in (1, 2):
            token = await self.token.get()
            status, data = await self._request(method, self.api_base + path, payload, token)
            if status == 401 and attempt == 1:
                log.info("QQ bot access token refused, refreshing")
                self.token.invalidate(token)
                continue
            raise_for(path, status, data)
            return data
        raise AssertionError("unreachable")

    async def send(self, group: bool, target: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v2/groups/{group_openid}/messages or /v2/users/{openid}/messages."""
        return await self.call("POST", f"{_base(group, target)}/messages", body)

    async def recall(self, group: bool, target: str, message_id: str) -> None:
        """DELETE /v2/groups/{group_openid}/messages/{message_id} (or the 1:1 one)."""
        await self.call("DELETE", f"{_base(group, target)}/messages/{quote(message_id, safe='')}")


def _base(group: bool, target: str) -> str:
    return f"/v2/{'groups' if group else 'users'}/{quote(target, safe='')}"


def raise_for(path: str, status: int, data: dict[str, Any]) -> None:
    """Map an answer onto the outbox's errors; returns for 2xx without an error code."""
    code = _int(data.get("code", data.get("err_code", 0)))
    if status < 300 and not code:
        return
    reason = REASONS.get(code) or str(data.get("message") or "")
    message = f"QQ 接口 {path} 错误 {code or status}：{reason}"
    if status == 429 or code in RATE_LIMITED:
        raise TransientSendError(message, retry_after=60.0)
    if status >= 500 or code in RETRY_ONCE:
        raise TransientSendError(message, retry_after=5.0)
    raise PermanentSendError(message)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
