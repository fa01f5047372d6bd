"""What the WeCom and 公众号 adapters share: one callback path and an API client."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from bot.adapters.base import Adapter


class WechatCallbackAdapter(Adapter):
    """GET on the path verifies the URL, POST delivers messages; `api` is closed on stop."""

    settings: Any
    api: Any

    def _now(self) -> float:
        bot = getattr(self, "bot", None)
        return bot.clock.now().timestamp() if bot else time.time()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get(self.settings.path, self.verify_url), web.post(self.settings.path, self.callback)]

    async def stop(self) -> None:
        await self.api.close()

    async def verify_url(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def callback(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError
