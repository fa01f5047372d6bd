"""企业微信 group robots (群机器人): send-only targets for announcements.

Each `[[adapters.webhook]]` robot is one target chat of the `webhook` platform, its chat id
being the robot's `name` (the URL holds the robot's key, a secret, and is never shown or
logged). The platform allows 20 messages per minute per robot and drops the rest (errcode
45009), so that limit is declared here and enforced by the outbox.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from bot.adapters.base import (
    Adapter,
    Delivery,
    OutcomeUnknown,
    PermanentSendError,
    RateLimit,
    TransientSendError,
)
from bot.adapters.config import WebhookSettings
from bot.adapters.http_session import FreshConnections
from bot.adapters.wecom_api import HTTP_TIMEOUT, TEXT_LIMIT, TRANSIENT_ERRORS, split_text
from bot.kernel.actions import LINK_CARD, SEND

log = logging.getLogger("qunbot.adapters")

PLATFORM = "webhook"
ROBOT_LIMIT = RateLimit("target", 20, 60.0)


class WebhookAdapter(Adapter):
    """Posts text and link cards to configured group robots."""

    name = PLATFORM
    capabilities = frozenset({SEND, LINK_CARD})
    # WeCom text messages: "最长不超过2048个字节" (app message API and group robot alike)
    max_text_bytes = 2048
    rate_limits = (ROBOT_LIMIT,)

    def __init__(self, robots: list[WebhookSettings]) -> None:
        self.bot = None
        self.robots = {r.name: r for r in robots}
        self._http = FreshConnections(HTTP_TIMEOUT)
        self._parts_sent: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"WebhookAdapter(robots={sorted(self.robots)!r})"

    async def start(self, bot: Any) -> None:
        """Each robot appears as a group of this platform, so managers can tag and target it."""
        self.bot = bot
        rows = [(PLATFORM, name, "group", name) for name in self.robots]
        if rows:
            await bot.store.run(bot.store.chats.ensure_chats, rows)
            await bot.store.run(bot.refresh_chats)

    async def stop(self) -> None:
        await self._http.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._http.session

    async def send(self, delivery: Delivery) -> str | None:
        robot = self.robots.get(delivery.chat_id)
        if robot is None:
            raise PermanentSendError(f"未配置名为 {delivery.chat_id} 的群机器人")
        bodies = self._bodies(delivery.payload)
        for i in range(self._parts_sent.get(delivery.id, 0), len(bodies)):
            await self._post(robot, bodies[i])
            self._parts_sent[delivery.id] = i + 1
        self._parts_sent.pop(delivery.id, None)
        return None

    @staticmethod
    def _bodies(payload: dict[str, Any]) -> list[dict[str, Any]]:
        text = payload.get("text", "")
        if payload.get("kind") == "link" and payload.get("url"):
            article = {"title": (payload.get("title") or text)[:128], "description": text[:512],
                       "url": payload["url"]}
            if payload.get("image"):
                article["picurl"] = payload["image"]
            return [{"msgtype": "news", "news": {"articles": [article]}}]
        if payload.get("kind") == "image" and payload.get("image"):
            text = f"{text}\n{payload['image']}".strip()
        bodies: list[dict[str, Any]] = [
            {"msgtype": "text", "text": {"content": part}} for part in split_text(text, TEXT_LIMIT)
        ]
        if payload.get("mention_all") and bodies:
            bodies[0]["text"]["mentioned_list"] = ["@all"]
        return bodies

    async def _post(self, robot: WebhookSettings, body: dict[str, Any]) -> None:
        where = f"群机器人 {robot.name}"
        try:
            async with self.session.post(robot.url, json=body) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise TransientSendError(f"{where} 返回 HTTP {resp.status}")
                if resp.status >= 400:
                    raise PermanentSendError(f"{where} 返回 HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # the request never left this machine
            raise TransientSendError(f"{where} 无法连接：{type(exc).__name__}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OutcomeUnknown(f"{where} 已发出请求但未收到结果：{type(exc).__name__}") from None
        except ValueError:
            raise OutcomeUnknown(f"{where} 返回的不是 JSON") from None
        code = int(data.get("errcode", 0) or 0) if isinstance(data, dict) else -1
        if code == 0:
            return
        message = f"{where} 错误 {code}: {data.get('errmsg', '') if isinstance(data, dict) else ''}"
        if code in TRANSIENT_ERRORS:
            raise TransientSendError(message, retry_after=TRANSIENT_ERRORS[code])
        raise PermanentSendError(message)

    def status(self) -> dict[str, Any]:
        return {**super().status(), "robots": sorted(self.robots), "limit_per_minute": ROBOT_LIMIT.count}
