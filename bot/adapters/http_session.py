"""The HTTP client session the platform APIs send through."""

from __future__ import annotations

import aiohttp


class FreshConnections:
    """An aiohttp session that opens a new connection for every request.

    A refused connect then surely means "not sent", while a stale pooled connection could fail
    mid-request and make a send look uncertain (the outbox treats those two very differently).
    The session is (re)created on first use, so it belongs to the running event loop."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), connector=aiohttp.TCPConnector(force_close=True),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
