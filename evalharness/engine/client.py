"""One pooled async HTTP client per OpenAI-compatible target, with classified retries.

The transport is aiohttp: at concurrency 64 it spends about 1 ms of CPU per request on this 2-core
machine, where httpx spent about 16 ms (its connection pool's bookkeeping grows with the number of
connections); see benchmarks/README.md.

Retry classes (inspect-ai style):
- rate limit: HTTP 429, waits for `Retry-After` when given, else backoff;
- transient: HTTP 5xx, connect/read errors, resets, timeouts, truncated streams;
- fatal: other 4xx, malformed JSON, a response without choices. Recorded at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 120.0


def dumps(obj: Any) -> bytes:
    """JSON bytes: orjson, or the standard library for what orjson refuses (non-string keys, huge ints)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False).encode()


def _loads(raw: bytes | str, what: str) -> Any:
    """orjson (strict UTF-8 and JSON); what it refuses, the standard library gets a second look at
    (invalid UTF-8 replaced, NaN literals, integers beyond 64 bits) before it counts as malformed."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            return json.loads(text)
        except ValueError:
            raise _Fatal(f"malformed JSON in {what}: {text[:120]!r}") from None


# Idle pooled connections are closed after this many seconds (servers commonly allow 5).
KEEPALIVE_S = 4.0


@dataclass(slots=True)
class Completion:
    output: str = ""
    tool_calls: list[dict] | None = None
    finish_reason: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None
    attempts: int = 1
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def cacheable(self) -> dict[str, Any]:
        return {
            "output": self.output, "tool_calls": self.tool_calls, "finish_reason": self.finish_reason,
            "latency_ms": self.latency_ms, "ttft_ms": self.ttft_ms,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "extra": self.extra,
        }


class _Retry(Exception):
    def __init__(self, message: str, wait_s: float | None = None, rate_limited: bool = False):
        super().__init__(message)
        self.wait_s = wait_s
        self.rate_limited = rate_limited


class _Fatal(Exception):
    pass


class Unreachable(ConnectionError):
    """The endpoint could not be reached at all (connection refused, DNS, timeout on connect)."""


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_s(attempt: int, base: float = 0.5) -> float:
    """Full-jitter exponential backoff."""
    return random.uniform(0, min(MAX_BACKOFF_S, base * (2**attempt)))


class ChatClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        stream: bool = False,
        backoff_base_s: float = 0.5,
    ):
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._secret = api_key
        self.max_retries = max_retries
        self.stream = stream
        self.backoff_base_s = backoff_base_s
        # Requests beyond `concurrency` wait here, not in the connection pool (whose wait counts
        # against the timeout).
        self._slots = asyncio.Semaphore(concurrency)
        self._base = base_url.rstrip("/") + "/"
        self._headers = headers
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(10.0, timeout_s))
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        """The pooled session, created inside the running event loop on first use."""
        if self._session is None or self._session.closed:
            # keepalive_timeout below uvicorn's 5 s (llama-cpp-python, vLLM): an idle connection is
            # dropped here before the server closes it, so no request races a closing socket.
            connector = aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency,
                                             ttl_dns_cache=300, keepalive_timeout=KEEPALIVE_S)
            # trust_env=False: never route loopback traffic through a proxy from the environment
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout,
                                                  connector=connector, trust_env=False, auto_decompress=True)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def scrub(self, text: str) -> str:
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "***")
        return text

    async def served_models(self) -> list[str]:
        """Model ids from /models. Raises Unreachable when the endpoint cannot be reached."""
        try:
            async with self._http().get(self._base + "models", timeout=aiohttp.ClientTimeout(total=10.0)) as r:
                if r.status != 200:
                    return []
                data = json.loads(await r.text())
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as e:
            raise Unreachable(f"{type(e).__name__}: {e}") from None
        except (ValueError, aiohttp.ClientError):
            return []
        try:
            return [m.get("id") for m in data.get("data", []) if isinstance(m, dict)]
        except AttributeError:
            return []

    async def complete(self, body: dict[str, Any]) -> Completion:
        t0 = time.perf_counter()
        attempt = 0
        while True:
            try:
                async with self._slots:
                    c = await (self._stream_once(body, t0) if self.stream else self._once(body))
                c.latency_ms = (time.perf_counter() - t0) * 1000
                c.attempts = attempt + 1
                return c
            except _Fatal as e:
                return self._failed(str(e), t0, attempt)
            except _Retry as e:
                err, wait = str(e), e.wait_s
            except asyncio.TimeoutError as e:
                err, wait = f"timeout: {type(e).__name__}", None
            except aiohttp.ClientPayloadError as e:
                err, wait = f"truncated response: {type(e).__name__}: {e}", None
            except aiohttp.ClientError as e:
                err, wait = f"connection error: {type(e).__name__}: {e}", None
            if attempt >= self.max_retries:
                return self._failed(f"{err} (after {attempt + 1} attempts)", t0, attempt)
            attempt += 1
            await asyncio.sleep(min(wait, MAX_RETRY_AFTER_S) if wait is not None else backoff_s(attempt, self.backoff_base_s))

    def _failed(self, message: str, t0: float, attempt: int) -> Completion:
        return Completion(error=self.scrub(message), latency_ms=(time.perf_counter() - t0) * 1000, attempts=attempt + 1)

    def _check_status(self, status: int, headers, text: str) -> None:
        if status == 200:
            return
        snippet = self.scrub(text[:300].strip())
        if status == 429:
            raise _Retry(f"HTTP 429 rate limited: {snippet}", parse_retry_after(headers.get("retry-after")), True)
        if status >= 500 and "validation error" in text[:2000].lower():
            # llama-cpp-python answers a request it cannot validate with 500 + pydantic's message:
            # the same request fails the same way every time, so it is not retried.
            raise _Fatal(f"HTTP {status}: {snippet}")
        if status >= 500 or status == 408:
            raise _Retry(f"HTTP {status}: {snippet}")
        raise _Fatal(f"HTTP {status}: {snippet}")

    async def _once(self, body: dict[str, Any]) -> Completion:
        async with self._http().post(self._base + "chat/completions", data=dumps(body)) as r:
            raw = await r.read()
            if r.status != 200:
                self._check_status(r.status, r.headers, raw.decode("utf-8", "replace"))
        data = _loads(raw, "response")
        if not isinstance(data, dict):
            raise _Fatal("malformed response: not a JSON object")
        choices = data.get("choices")
        if not choices or not isinstance(choices, list):
            raise _Fatal("response has no choices")
        choice = choices[0] or {}
        msg = choice.get("message") or {}
        usage = data.get("usage") or {}
        content = msg.get("content")
        c = Completion(
            output=content if isinstance(content, str) else "",
            tool_calls=msg.get("tool_calls") or None,
            finish_reason=choice.get("finish_reason"),
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
        )
        if choice.get("logprobs"):
            c.extra["logprobs"] = choice["logprobs"]
        return c

    async def _stream_once(self, body: dict[str, Any], t0: float) -> Completion:
        payload = {**body, "stream": True}
        async with self._http().post(self._base + "chat/completions", data=dumps(payload)) as r:
            if r.status != 200:
                text = (await r.read()).decode("utf-8", "replace")
                self._check_status(r.status, r.headers, text)
            parts: list[str] = []
            calls: dict[int, dict] = {}
            c = Completion()
            done = False
            async for raw_line in r.content:
                line = raw_line.decode("utf-8", "replace").rstrip("\r\n")
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                chunk = _loads(data, "stream chunk")
                usage = chunk.get("usage")
                if usage:
                    c.input_tokens = usage.get("prompt_tokens")
                    c.output_tokens = usage.get("completion_tokens")
                for ch in chunk.get("choices") or []:
                    delta = ch.get("delta") or {}
                    text = delta.get("content")
                    if text:
                        if c.ttft_ms is None:
                            c.ttft_ms = (time.perf_counter() - t0) * 1000
                        parts.append(text)
                    for tc in delta.get("tool_calls") or []:
                        slot = calls.setdefault(tc.get("index", len(calls)), {"type": "function", "function": {"name": "", "arguments": ""}})
                        if tc.get("id"):
                            slot["id"] = tc["id"]
                        fn = tc.get("function") or {}
                        slot["function"]["name"] += fn.get("name") or ""
                        slot["function"]["arguments"] += fn.get("arguments") or ""
                    if ch.get("finish_reason"):
                        c.finish_reason = ch["finish_reason"]
            if c.finish_reason is None:
                # Every complete stream ends with a finish_reason; [DONE] alone does not make it whole.
                raise _Retry("truncated stream: ended " + ("at [DONE] " if done else "") + "without a finish_reason")
            c.output = "".join(parts)
            c.tool_calls = [calls[i] for i in sorted(calls)] or None
            return c
