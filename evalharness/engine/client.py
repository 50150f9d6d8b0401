"""One pooled async HTTP client per OpenAI-compatible target, with classified retries.

The transport is aiohttp: at concurrency 64 it spends about 1 ms of CPU per request on this 2-core
machine, where httpx spent about 16 ms (its connection pool's bookkeeping grows with the number of
connections); see benchmarks/README.md.

Retry classes (inspect-ai style):
- rate limit: HTTP 429, waits for `Retry-After` when given, else backoff;
- transient: HTTP 5xx, connect/read errors, resets, timeouts, truncated streams;
- fatal: other 4xx, malformed JSON, a response or stream chunk that does not fit the shapes in
  evalharness/engine/response.py, a response without choices, a response over
  `max_response_bytes`. The same server answers the same way again: recorded at once.

Bodies are read incrementally and never beyond `max_response_bytes` (error bodies: their first
ERROR_BODY_BYTES), so a runaway endpoint cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import aiohttp
import orjson

from evalharness.engine.response import (
    CACHED, CHUNK, DEFAULT_MAX_RESPONSE_BYTES, RESPONSE, Malformed, parse_json, too_large, validate,
)
from evalharness.redact import redact, redact_obj, register, register_url

MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 120.0
ERROR_BODY_BYTES = 4096  # of a non-200 body: enough for the message (the first 300 characters are shown)


def dumps(obj: Any) -> bytes:
    """JSON bytes: orjson, or the standard library for what orjson refuses (non-string keys, huge ints)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False).encode()


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

    @classmethod
    def from_cached(cls, row: Any) -> Completion | None:
        """A cache hit, or None when the row does not fit (then it is a miss, and the answer is asked again)."""
        try:
            return cls(**CACHED.validate_python(row), cached=True)
        except ValueError:
            return None


class _Retry(Exception):
    def __init__(self, message: str, wait_s: float | None = None, rate_limited: bool = False):
        super().__init__(message)
        self.wait_s = wait_s
        self.rate_limited = rate_limited


class _Fatal(Exception):
    pass


class Unreachable(ConnectionError):
    """The endpoint could not be reached at all (connection refused, DNS, timeout on connect)."""


def _redacted(c: Completion) -> Completion:
    """An endpoint may echo what it was sent (an Authorization header, a key in an error): nothing it
    returns reaches a result, the cache or a log with a credential in it."""
    c.output = redact(c.output)
    c.finish_reason = redact(c.finish_reason)
    if c.tool_calls:
        c.tool_calls = redact_obj(c.tool_calls)  # ids, names, arguments and any extra key
    if c.extra:
        c.extra = redact_obj(c.extra)  # logprobs: the tokens of the output
    return c


def _completion(data: Any) -> Completion:
    """A Completion from a parsed (not yet validated) chat completion body."""
    resp = validate(RESPONSE, data, "response")
    choices = resp.get("choices")
    if not choices:
        raise _Fatal("response has no choices")
    choice = choices[0]
    msg = choice.get("message") or {}
    c = Completion(output=msg.get("content") or "", tool_calls=msg.get("tool_calls") or None,
                   finish_reason=choice.get("finish_reason"))
    _count(c, resp.get("usage"))
    if choice.get("logprobs"):
        c.extra["logprobs"] = choice["logprobs"]
    return c


def _count(c: Completion, usage: dict | None) -> None:
    """Token counts from a validated `usage`; a count it leaves out keeps what an earlier stream chunk said."""
    if usage:
        if usage.get("prompt_tokens") is not None:
            c.input_tokens = usage["prompt_tokens"]
        if usage.get("completion_tokens") is not None:
            c.output_tokens = usage["completion_tokens"]


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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ):
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # The key and the URL's userinfo are credentials: whatever comes back is redacted of them.
        register(api_key)
        register_url(base_url)
        self.max_retries = max_retries
        self.stream = stream
        self.backoff_base_s = backoff_base_s
        self.max_response_bytes = max_response_bytes
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

    @staticmethod
    def scrub(text: str) -> str:
        """`text` without any credential the process knows or an echoed header holds (evalharness/redact.py)."""
        return redact(text)

    async def served_models(self) -> list[str]:
        """Model ids from /models. Raises Unreachable when the endpoint cannot be reached."""
        try:
            async with self._http().get(self._base + "models", timeout=aiohttp.ClientTimeout(total=10.0)) as r:
                if r.status != 200:
                    return []
                raw = await _read_upto(r.content, self.max_response_bytes)
            data = parse_json(raw, "model list")
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as e:
            raise Unreachable(f"{type(e).__name__}: {e}") from None
        except (ValueError, aiohttp.ClientError):  # Malformed is a ValueError; a listing is optional
            return []
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list):
            return []
        return [m["id"] for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def complete(self, body: dict[str, Any]) -> Completion:
        t0 = time.perf_counter()
        attempt = 0
        while True:
            try:
                async with self._slots:
                    c = await (self._stream_once(body, t0) if self.stream else self._once(body))
                c.latency_ms = (time.perf_counter() - t0) * 1000
                c.attempts = attempt + 1
                return _redacted(c)
            except (_Fatal, Malformed) as e:
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

    async def _raise_for_status(self, r: aiohttp.ClientResponse) -> None:
        if r.status != 200:
            head = await _read_upto(r.content, ERROR_BODY_BYTES)
            self._check_status(r.status, r.headers, head[:ERROR_BODY_BYTES].decode("utf-8", "replace"))

    async def _read_body(self, r: aiohttp.ClientResponse) -> bytes:
        raw = await _read_upto(r.content, self.max_response_bytes)
        if len(raw) > self.max_response_bytes:
            raise _Fatal(too_large(self.max_response_bytes))
        return raw

    async def _once(self, body: dict[str, Any]) -> Completion:
        async with self._http().post(self._base + "chat/completions", data=dumps(body)) as r:
            await self._raise_for_status(r)
            raw = await self._read_body(r)
        return _completion(parse_json(raw, "response"))

    async def _stream_once(self, body: dict[str, Any], t0: float) -> Completion:
        payload = {**body, "stream": True}
        async with self._http().post(self._base + "chat/completions", data=dumps(payload)) as r:
            await self._raise_for_status(r)
            if r.content_type == "application/json":  # a server that ignores `stream` answers in one piece
                return _completion(parse_json(await self._read_body(r), "response"))
            async with contextlib.aclosing(_lines(r.content, self.max_response_bytes)) as lines:
                return await _read_stream(lines, t0)


async def _read_upto(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body when it is at most `limit` bytes; otherwise only somewhat more than `limit`
    (reading stops there, and the connection is dropped rather than drained)."""
    parts: list[bytes] = []
    size = 0
    async for block in content.iter_any():
        parts.append(block)
        size += len(block)
        if size > limit:
            break
    return b"".join(parts)


async def _lines(content: aiohttp.StreamReader, limit: int) -> AsyncIterator[bytes]:
    """The body's lines without their `\\n`, failing once more than `limit` bytes came. Split here
    rather than by aiohttp's readline, whose own line limit (128 KiB) is not the response cap."""
    pending: list[bytes] = []  # the pieces of a line that spans blocks (joined once: no quadratic copying)
    size = 0
    async for block in content.iter_any():
        size += len(block)
        if size > limit:
            raise _Fatal(too_large(limit))
        *complete, rest = block.split(b"\n")
        if complete:
            complete[0] = b"".join((*pending, complete[0]))
            pending.clear()
            for line in complete:
                yield line
        if rest:
            pending.append(rest)
    if pending:
        yield b"".join(pending)


async def _read_stream(lines: AsyncIterator[bytes], t0: float) -> Completion:
    stream = _Stream(t0)
    done = False
    async for line in lines:
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            done = True
            break
        stream.add(data)
    return stream.completion(done)


class _Stream:
    """A streamed answer put together chunk by chunk; every chunk is validated (a bad one is fatal)."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.c = Completion()
        self.parts: list[str] = []
        self.calls: dict[int, dict] = {}
        self.chunks = 0
        self.choices = 0

    def add(self, data: bytes) -> None:
        self.chunks += 1
        what = f"stream chunk {self.chunks}"
        chunk = validate(CHUNK, parse_json(data, what), what)
        _count(self.c, chunk.get("usage"))
        for ch in chunk.get("choices") or ():
            self.choices += 1
            if ch.get("delta"):
                self._add_delta(ch["delta"])
            if ch.get("finish_reason"):
                self.c.finish_reason = ch["finish_reason"]

    def _add_delta(self, delta: dict) -> None:
        text = delta.get("content")
        if text:
            if self.c.ttft_ms is None:
                self.c.ttft_ms = (time.perf_counter() - self.t0) * 1000
            self.parts.append(text)
        for tc in delta.get("tool_calls") or ():
            index = tc.get("index")
            slot = self.calls.setdefault(len(self.calls) if index is None else index,
                                         {"type": "function", "function": {"name": "", "arguments": ""}})
            if tc.get("id"):
                slot["id"] = tc["id"]
            fn = tc.get("function") or {}
            slot["function"]["name"] += fn.get("name") or ""
            slot["function"]["arguments"] += fn.get("arguments") or ""

    def completion(self, done: bool) -> Completion:
        c = self.c
        if c.finish_reason is None:
            if done and self.chunks and not self.choices:
                # A whole stream that never carried a choice: the server answered, with nothing.
                raise _Fatal("response has no choices")
            # Every complete stream ends with a finish_reason; [DONE] alone does not make it whole.
            raise _Retry("truncated stream: ended " + ("at [DONE] " if done else "") + "without a finish_reason")
        c.output = "".join(self.parts)
        c.tool_calls = [self.calls[i] for i in sorted(self.calls)] or None
        return c
