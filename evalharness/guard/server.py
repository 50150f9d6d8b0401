"""`evalharness guard`: an OpenAI-compatible proxy that runs input and output rails around an upstream.

- POST /v1/chat/completions: size limit (enforced while the body is read, chunked bodies included),
  bearer auth, request validation (400), input rails over every text the model sees (slots.py), the
  upstream call, output rails over every text it returns. A blocked request gets an OpenAI-shaped
  answer with `finish_reason: content_filter` and a `guardrail` field naming the rail, never a 500.
- Streaming: text is held back and released only when no rail could still match it (stream.py).
- Upstream errors reach the client as `{"error": {"message": "upstream error", "type": "upstream_error",
  "code": <status>}}`; the details go to the decision log, scrubbed of credentials.
- GET /v1/models: the upstream's list.
- Every request ends with one decision row (log.py): time, request id, a hash of the request, stage,
  rail, action, outcome, and the prompt only with `log_prompts: true`.

The HTTP server is aiohttp's (its C parser; the guard already uses aiohttp for the upstream), one
event loop per process. The hot path parses the request once (orjson), checks the parsed document,
and forwards its re-serialisation, never the raw bytes: the upstream must see exactly what was
checked (a body with duplicate keys would otherwise read differently to the upstream). Answers are
likewise parsed once, checked, and re-serialised. `--workers N` runs N such processes on one port
(SO_REUSEPORT; workers.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from evalharness import redact as secrets
from evalharness.guard.checks import Block, Rails
from evalharness.guard.log import LOG_SCHEMA, DecisionLog  # noqa: F401 - re-exported
from evalharness.guard.policy import LoadedPolicy, Rail
from evalharness.guard.slots import validate_request, validate_response
from evalharness.guard.stream import Cut, StreamGuard
from evalharness.guard.upstream import ERROR_DETAIL_BYTES, Upstream, UpstreamFailure

SERVER_KEEPALIVE_S = 65  # idle downstream connections: longer than clients keep theirs (httpx 5 s, aiohttp 15 s)
SHUTDOWN_S = 10  # SIGTERM: how long in-flight requests may take to finish
LOG_KEY = web.AppKey("log", DecisionLog)
_JSON = "application/json"
_SSE = "text/event-stream"


class _Ids:
    """Request ids: a random per-process prefix and a counter (32 hex digits, like uuid4().hex), unique
    across workers and restarts without a urandom call per request."""

    def __init__(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.n = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.n):016x}"


def _json(obj: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type=_JSON, headers=headers)


def _error(status: int, message: str, kind: str, headers: dict | None = None) -> web.Response:
    return _json({"error": {"message": message, "type": kind, "code": status}}, status, headers)


def _blocked_completion(rid: str, model: str, message: str, block: Block) -> dict:
    return {
        "id": f"guard-{rid[-12:]}", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "content_filter"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "guardrail": {"rail": block.rail, "stage": block.stage, "action": "block", "detail": block.detail[:200]},
    }


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


_DONE = b"data: [DONE]\n\n"


def _sse_error(status: int) -> bytes:
    return _sse({"error": {"message": "upstream error", "type": "upstream_error", "code": status}})


async def _read_limited(content, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes (the rest is never read)."""
    first = await content.readany()
    if content.at_eof():  # the usual case: the whole body came in one read, no copy
        return first if len(first) <= limit else None
    buf = bytearray(first)
    while len(buf) <= limit:
        piece = await content.readany()
        if not piece:
            return bytes(buf)
        buf += piece
    return None


def create_app(upstream: str, loaded: LoadedPolicy, log_tag: str = "") -> web.Application:
    policy = loaded.policy
    rails = Rails(loaded)
    log = DecisionLog(Path(policy.log_dir), tag=log_tag)
    ids = _Ids()
    token = os.environ.get(policy.auth_token_env) if policy.auth_token_env else None
    if policy.auth_token_env and not token:
        raise RuntimeError(f"auth_token_env {policy.auth_token_env} is not set")
    upstream_key = os.environ.get(policy.upstream_api_key_env) if policy.upstream_api_key_env else None
    secrets.register(upstream_key)  # never in a log row, whatever the upstream echoes
    secrets.register(token)
    secrets.register_url(upstream)
    up = Upstream(upstream, policy.timeout_s, policy.max_response_bytes)
    for rail in (*loaded.input_rails, *loaded.output_rails):  # load models (the classifier) now, not on a request
        rail.trips("warm-up")
    expected_auth = f"Bearer {token}" if token is not None else None
    fixed_headers = {"Content-Type": _JSON}
    if upstream_key:
        fixed_headers["Authorization"] = f"Bearer {upstream_key}"
    too_large = f"request larger than {policy.max_request_bytes} bytes"

    def upstream_headers(request: web.Request) -> dict[str, str]:
        if policy.forward_client_key and (client_auth := request.headers.get("Authorization")):
            return {"Content-Type": _JSON, "Authorization": client_auth}
        return fixed_headers

    def authorized(request: web.Request) -> bool:
        if expected_auth is None:
            return True
        given = request.headers.get("Authorization")  # compared in constant time
        return given is not None and hmac.compare_digest(given.encode(), expected_auth.encode())

    def failure_response(e: UpstreamFailure, retry_after: str | None = None) -> web.Response:
        headers = {"Retry-After": retry_after} if retry_after else None
        return _error(e.status, "upstream error", "upstream_error", headers)

    async def models(request: web.Request) -> web.Response:
        if not authorized(request):
            return _error(401, "missing or wrong bearer token", "authentication_error")
        try:
            r = await up.open("GET", "models", upstream_headers(request))
            try:
                if r.status != 200:
                    failure = await up.error_detail(r)
                    log.add(ids.next(), None, "upstream", None, None, "upstream_status", f"GET models {failure.detail}")
                    return failure_response(failure)
                raw = await up.read(r)
            finally:
                r.release()
        except UpstreamFailure:
            return _error(502, "upstream unavailable", "upstream_error")
        return web.Response(body=raw, status=200, content_type=_JSON)

    async def not_found(request: web.Request) -> web.Response:
        return _error(404, f"no route {request.method} {request.path}", "invalid_request_error")

    async def chat(request: web.Request) -> web.StreamResponse:
        rid = ids.next()
        ctx: list[Any] = [None, None]  # the request's hash, the prompt as logged

        def record(stage: str, rail: str | None, action: str | None, outcome: str, detail: str | None = None,
                   final: bool = False) -> None:
            log.add(rid, ctx[0], stage, rail, action, outcome, detail,
                    ctx[1] if final or outcome in ("block", "allow") else None)

        try:
            return await handle(request, rid, record, ctx)
        except Exception as e:  # noqa: BLE001 - a bug: a 500 in OpenAI shape and a log row, never a traceback
            record("request", None, None, "internal_error", f"{type(e).__name__}: {e}")
            return _error(500, "internal guard error", "server_error")

    async def handle(request: web.Request, rid: str, record, ctx: list) -> web.StreamResponse:
        declared = request.content_length
        if declared is not None and declared > policy.max_request_bytes:
            record("request", None, None, "too_large", f"content-length {declared}")
            return _error(413, too_large, "invalid_request_error")
        if not authorized(request):
            record("request", None, None, "unauthorized")
            return _error(401, "missing or wrong bearer token", "authentication_error")
        raw = await _read_limited(request.content, policy.max_request_bytes)
        if raw is None:
            record("request", None, None, "too_large", f"body over {policy.max_request_bytes} bytes")
            return _error(413, too_large, "invalid_request_error")
        ctx[0] = hashlib.sha256(raw).hexdigest()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body, problem = None, "the body is not JSON"
        else:
            problem = validate_request(body)
        if problem is not None:
            record("request", None, None, "bad_request", problem)
            return _error(400, problem, "invalid_request_error")
        model = body.get("model") or ""
        stream = bool(body.get("stream"))
        ctx[1] = rails.logged_prompt(body)
        block, must_refuse = rails.check_input(body, record)
        if block is not None:
            doc = _blocked_completion(rid, model, policy.block_message, block)
            return await _stream_blocked(request, doc) if stream else _json(doc)
        try:
            r = await up.open("POST", "chat/completions", upstream_headers(request), orjson.dumps(body))
        except UpstreamFailure as e:
            record("upstream", None, None, "upstream_error", e.detail, final=True)
            return _error(502, "upstream unavailable", "upstream_error")
        if r.status != 200:
            failure = await up.error_detail(r)
            r.release()
            record("upstream", None, None, "upstream_status", failure.detail, final=True)
            return failure_response(failure, r.headers.get("Retry-After"))
        if stream and r.content_type == _SSE:
            began: list[bool] = []
            return await _send_stream(request, r, events(r, must_refuse, record, began), record, began)
        try:
            doc = orjson.loads(await up.read(r))
            problem = validate_response(doc)
        except UpstreamFailure as e:
            problem = e.detail
        except orjson.JSONDecodeError:
            problem = "not JSON"
        finally:
            r.release()
        if problem is not None:
            record("upstream", None, None, "upstream_error", f"malformed response: {problem}", final=True)
            return _error(502, "upstream returned a malformed response", "upstream_error")
        block = rails.check_output(doc, must_refuse, record)
        if block is not None:
            out = _blocked_completion(rid, model, policy.block_message, block)
            return await _stream_blocked(request, out) if stream else _json(out)
        record("request", None, None, "allow")
        return await _stream_doc(request, doc) if stream else _json(doc)

    async def _send_all(request: web.Request, pieces: list[bytes]) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": _SSE, "Cache-Control": "no-cache"})
        await resp.prepare(request)
        try:
            await resp.write(b"".join(pieces))
            await resp.write_eof()
        except ConnectionError:
            pass  # the client left; the decision was logged already
        return resp

    async def _stream_blocked(request: web.Request, doc: dict) -> web.StreamResponse:
        chunk = {"id": doc["id"], "object": "chat.completion.chunk", "model": doc["model"],
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": doc["choices"][0]["message"]["content"]},
                              "finish_reason": "content_filter"}], "guardrail": doc["guardrail"]}
        return await _send_all(request, [_sse(chunk), _DONE])

    async def _stream_doc(request: web.Request, doc: dict) -> web.StreamResponse:
        """A whole (checked) answer to a stream request, as one chunk (an upstream that ignored `stream`)."""
        chunk = {k: v for k, v in doc.items() if k not in ("choices", "object")}
        chunk["object"] = "chat.completion.chunk"
        chunk["choices"] = [{"index": c.get("index", i), "delta": c["message"], "finish_reason": c.get("finish_reason")}
                            for i, c in enumerate(doc["choices"])]
        return await _send_all(request, [_sse(chunk), _DONE])

    async def _send_stream(request: web.Request, r, gen, record, began: list) -> web.StreamResponse:
        """Writes what `gen` yields; a client that leaves closes the generator (which logs `client_closed`
        and releases the upstream answer), also when it leaves before the generator began."""
        resp = web.StreamResponse(status=200, headers={"Content-Type": _SSE, "Cache-Control": "no-cache"})
        try:
            await resp.prepare(request)
            async for piece in gen:
                await resp.write(piece)
            await resp.write_eof()
        except ConnectionError:
            pass
        finally:
            await gen.aclose()  # runs the generator's own clean-up (log row, release) when it began
            if not began:
                record("request", None, None, "client_closed", "the client left before the stream began", final=True)
                r.release()
        return resp

    async def events(r, must_refuse: Rail | None, record, began: list):
        began.append(True)  # from here on the `finally` below logs and releases
        meta: dict[str, Any] = {}
        ended = False

        def log_events() -> None:
            for rail, outcome, why in sg.events.values():
                record("output", rail.name, rail.action, outcome, why)

        try:
            try:
                sg = StreamGuard(loaded.output_rails, policy, must_refuse)
                done = False
                async for lines in up.lines(r):
                    ready: list[bytes] = []  # what one read brought is answered with one write
                    stop: Exception | None = None
                    for line in lines:
                        if not line.startswith(b"data:"):
                            continue
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            done = True
                            break
                        try:
                            chunk = orjson.loads(data)
                        except orjson.JSONDecodeError:
                            continue
                        if not isinstance(chunk, dict):
                            continue
                        if "error" in chunk:
                            stop = UpstreamFailure(502, f"error event: {orjson.dumps(chunk)[:ERROR_DETAIL_BYTES].decode()}")
                            break
                        meta = {k: chunk[k] for k in ("id", "created", "model") if k in chunk} or meta
                        try:
                            ready += [_sse(out) for out in sg.feed(chunk)]
                        except Cut as c:  # what was released before the cut still goes out first
                            stop = c
                            break
                    if ready:
                        yield b"".join(ready)
                    if stop is not None:
                        raise stop
                    if done:
                        break
                tail = b"".join(_sse(out) for out in sg.finish(meta))
                if tail:
                    yield tail
                log_events()
                record("request", None, None, "allow")
            except Cut as c:
                log_events()
                record("output", c.name, c.rail.action if c.rail else "block", "cut", c.detail, final=True)
                yield _sse({**meta, "object": "chat.completion.chunk",
                            "choices": [{"index": i, "delta": {}, "finish_reason": "content_filter"} for i in sg.open_indexes()],
                            "guardrail": {"rail": c.name, "stage": "output", "action": "cut", "detail": c.detail[:200]}})
            except UpstreamFailure as e:
                record("upstream", None, None, "upstream_error", f"mid-stream: {e.detail}", final=True)
                yield _sse_error(502)
            except Exception as e:  # noqa: BLE001 - a bug: an error event and a log row, never a traceback
                record("request", None, None, "internal_error", f"{type(e).__name__}: {e}", final=True)
                yield _sse({"error": {"message": "internal guard error", "type": "server_error", "code": 500}})
            ended = True
            yield _DONE
        finally:
            if not ended:
                record("request", None, None, "client_closed", "the client left before the end of the stream", final=True)
            r.release()

    async def on_cleanup(_app: web.Application) -> None:
        await up.close()
        log.close()

    app = web.Application(client_max_size=policy.max_request_bytes)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models, allow_head=False)
    app.router.add_route("*", "/{tail:.*}", not_found)
    app.on_cleanup.append(on_cleanup)
    app[LOG_KEY] = log
    return app


def load(policy_path: str, log_dir: str | None = None) -> LoadedPolicy:
    from evalharness.guard.policy import load_policy

    loaded = load_policy(policy_path)
    if log_dir:
        loaded = LoadedPolicy(loaded.policy.model_copy(update={"log_dir": log_dir}), loaded.input_rails, loaded.output_rails)
    return loaded


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def _tune_gc() -> None:
    """What the CLI does after start-up (evalharness/startup.py), for every guard process (the workers
    do not go through the CLI): what start-up built is moved out of the collector's sight, and the
    youngest generation is collected every 10,000 allocations instead of 700."""
    import gc

    from evalharness.startup import GEN0_THRESHOLD

    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(GEN0_THRESHOLD, gen0), gen1, gen2)
    gc.enable()


def run_worker(upstream: str, loaded: LoadedPolicy, host: str, port: int, *, reuse_port: bool = False,
               log_tag: str = "", banner: bool = True) -> None:
    """One guard process: serves until SIGTERM/SIGINT, then finishes in-flight requests (up to
    SHUTDOWN_S) and writes the decision log."""
    app = create_app(upstream, loaded, log_tag)
    log = app[LOG_KEY]
    _tune_gc()
    loop = _new_loop()
    asyncio.set_event_loop(loop)

    async def main() -> None:
        stop = asyncio.Event()

        def on_signal() -> None:
            log.flush_soon()  # write the pending rows now, before the graceful shutdown
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=SERVER_KEEPALIVE_S,
                               lingering_time=2.0, auto_decompress=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, backlog=2048, reuse_port=reuse_port or None,
                               shutdown_timeout=SHUTDOWN_S)
            try:
                await site.start()
            except OSError as e:
                raise RuntimeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
            if banner:
                print(f"guard on http://{host}:{port}/v1 -> {secrets.strip_userinfo(upstream)}", flush=True)
            await stop.wait()
        finally:
            await runner.cleanup()  # stops accepting, waits for in-flight requests, then on_cleanup

    try:
        loop.run_until_complete(main())
    finally:
        log.close()  # idempotent; also when start-up failed
        loop.close()


def serve(upstream: str, policy_path: str, host: str = "127.0.0.1", port: int = 8080, log_dir: str | None = None,
          workers: int = 1) -> None:
    loaded = load(policy_path, log_dir)
    if workers <= 1:
        return run_worker(upstream, loaded, host, port)
    from evalharness.guard.workers import supervise

    return supervise(upstream, policy_path, host, port, log_dir, workers, loaded)


if __name__ == "__main__":  # pragma: no cover - `evalharness guard` is the entry point
    sys.exit("use `evalharness guard`")
