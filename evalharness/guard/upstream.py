"""The guard's connection to its upstream: aiohttp (the engine's transport), pooled, bounded reads.

Every failure to reach the upstream or to read its answer becomes `UpstreamFailure(status, detail)`:
the server answers the client with a generic OpenAI error and logs the detail (scrubbed).
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import aiohttp
from yarl import URL

UPSTREAM_KEEPALIVE_S = 4.0  # below the upstream's (uvicorn's 5 s), so the guard drops first
ERROR_DETAIL_BYTES = 4096  # of an upstream error body, kept (scrubbed) in the decision log


class UpstreamFailure(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class Upstream:
    def __init__(self, base_url: str, timeout_s: float, max_response_bytes: int):
        self.base = base_url.rstrip("/") + "/"
        self._urls: dict[str, URL] = {}  # path -> parsed URL, built once
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(10.0, timeout_s))
        self.limit = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=256, keepalive_timeout=UPSTREAM_KEEPALIVE_S)
            # trust_env=False: never route the upstream through a proxy from the environment. No cookie jar:
            # a cookie the upstream sets for one client must not go out with another client's request.
            self._session = aiohttp.ClientSession(timeout=self.timeout, connector=connector, trust_env=False,
                                                  cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def open(self, method: str, path: str, headers: dict[str, str], data: bytes | None = None) -> aiohttp.ClientResponse:
        """The response, headers read, body not yet. The caller releases it (`release`)."""
        try:
            url = self._urls.get(path)
            if url is None:
                url = self._urls[path] = URL(self.base + path)
            return await self._http().request(method, url, data=data, headers=headers)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise UpstreamFailure(502, f"unreachable: {type(e).__name__}: {e}") from None

    async def read(self, r: aiohttp.ClientResponse, limit: int | None = None) -> bytes:
        """The body; UpstreamFailure past `limit` (default max_response_bytes) or when it breaks off."""
        limit = self.limit if limit is None else limit
        parts, size = [], 0
        try:
            async for block in r.content.iter_any():
                parts.append(block)
                size += len(block)
                if size > limit:
                    raise UpstreamFailure(502, f"answer larger than {limit} bytes")
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise UpstreamFailure(502, f"broken answer: {type(e).__name__}: {e}") from None
        return b"".join(parts)

    async def error_detail(self, r: aiohttp.ClientResponse) -> UpstreamFailure:
        """A non-200 answer as a failure: its status, and the start of its body for the log."""
        try:
            head = await self.read(r, ERROR_DETAIL_BYTES)
        except UpstreamFailure:
            head = b"(body unreadable or longer than the log keeps)"
        return UpstreamFailure(r.status, f"HTTP {r.status}: {head[:ERROR_DETAIL_BYTES].decode('utf-8', 'replace')}")

    async def lines(self, r: aiohttp.ClientResponse) -> AsyncIterator[list[bytes]]:
        """The lines of an event stream (without their newline), as many as each read brought: the
        caller can answer them with one write. UpstreamFailure past max_response_bytes."""
        pending: list[bytes] = []
        size = 0
        try:
            async for block in r.content.iter_any():
                size += len(block)
                if size > self.limit:
                    raise UpstreamFailure(502, f"stream larger than {self.limit} bytes")
                *complete, rest = block.split(b"\n")
                if complete:
                    complete[0] = b"".join((*pending, complete[0]))
                    pending.clear()
                    yield [line.rstrip(b"\r") for line in complete]
                if rest:
                    pending.append(rest)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise UpstreamFailure(502, f"broken stream: {type(e).__name__}: {e}") from None
        if pending:
            yield [b"".join(pending)]
