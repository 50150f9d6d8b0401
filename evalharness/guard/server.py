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
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from evalharness import redact as secrets
from evalharness.guard.checks import Block, Rails
from evalharness.guard.log import LOG_SCHEMA, DecisionLog  # noqa: F401 - re-exported
from evalharness.guard.policy import LoadedPolicy, Rail
from evalharness.guard.slots import validate_request, validate_response
from evalharness.guard.stream import Cut, StreamGuard
from evalharness.guard.upstream import ERROR_DETAIL_BYTES, Upstream, UpstreamFailure

SERVER_KEEPALIVE_S = 65  # idle downstream connections (see serve())


def _json(obj: Any, status: int = 200, headers: dict | None = None):
    from starlette.responses import Response

    return Response(orjson.dumps(obj), status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str, kind: str, headers: dict | None = None):
    return _json({"error": {"message": message, "type": kind, "code": status}}, status, headers)


def _blocked_completion(model: str, message: str, block: Block) -> dict:
    return {
        "id": f"guard-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "content_filter"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "guardrail": {"rail": block.rail, "stage": block.stage, "action": "block", "detail": block.detail[:200]},
    }


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


_DONE = b"data: [DONE]\n\n"


def _sse_error(status: int) -> bytes:
    return _sse({"error": {"message": "upstream error", "type": "upstream_error", "code": status}})


async def _read_limited(chunks, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes (the rest is never read)."""
    buf = bytearray()
    async for piece in chunks:
        buf += piece
        if len(buf) > limit:
            return None
    return bytes(buf)


def create_app(upstream: str, loaded: LoadedPolicy):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    policy = loaded.policy
    rails = Rails(loaded)
    log = DecisionLog(Path(policy.log_dir))
    token = os.environ.get(policy.auth_token_env) if policy.auth_token_env else None
    if policy.auth_token_env and not token:
        raise RuntimeError(f"auth_token_env {policy.auth_token_env} is not set")
    upstream_key = os.environ.get(policy.upstream_api_key_env) if policy.upstream_api_key_env else None
    secrets.register(upstream_key)  # never in a log row, whatever the upstream echoes
    secrets.register(token)
    secrets.register_url(upstream)
    up = Upstream(upstream, policy.timeout_s, policy.max_response_bytes)

    def upstream_headers(request: Request) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if policy.forward_client_key and request.headers.get("authorization"):
            h["Authorization"] = request.headers["authorization"]
        elif upstream_key:
            h["Authorization"] = f"Bearer {upstream_key}"
        return h

    def authorized(request: Request) -> bool:
        return token is None or request.headers.get("authorization") == f"Bearer {token}"

    def failure_response(e: UpstreamFailure, retry_after: str | None = None) -> Response:
        headers = {"Retry-After": retry_after} if retry_after else None
        return _error(e.status, "upstream error", "upstream_error", headers)

    async def models(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "missing or wrong bearer token", "authentication_error")
        try:
            r = await up.open("GET", "models", upstream_headers(request))
            try:
                if r.status != 200:
                    failure = await up.error_detail(r)
                    log.add(request_id=uuid.uuid4().hex, stage="upstream", outcome="upstream_status",
                            detail=f"GET models {failure.detail}")
                    return failure_response(failure)
                raw = await up.read(r)
            finally:
                r.release()
        except UpstreamFailure:
            return _error(502, "upstream unavailable", "upstream_error")
        return Response(raw, status_code=200, media_type="application/json")

    async def chat(request: Request) -> Response:
        rid = uuid.uuid4().hex
        ctx: dict[str, Any] = {"hash": None, "prompt": None}

        def record(stage: str, rail: str | None, action: str | None, outcome: str, detail: str | None = None,
                   final: bool = False) -> None:
            log.add(request_id=rid, request_hash=ctx["hash"], stage=stage, rail=rail, action=action,
                    outcome=outcome, detail=detail, prompt=ctx["prompt"] if final or outcome in ("block", "allow") else None)

        try:
            return await handle(request, record, ctx)
        except Exception as e:  # noqa: BLE001 - a bug: a 500 in OpenAI shape and a log row, never a traceback
            record("request", None, None, "internal_error", f"{type(e).__name__}: {e}")
            return _error(500, "internal guard error", "server_error")

    async def handle(request: Request, record, ctx: dict) -> Response:
        declared = request.headers.get("content-length") or ""
        if declared.isdigit() and int(declared) > policy.max_request_bytes:
            record("request", None, None, "too_large", f"content-length {declared}")
            return _error(413, f"request larger than {policy.max_request_bytes} bytes", "invalid_request_error")
        if not authorized(request):
            record("request", None, None, "unauthorized")
            return _error(401, "missing or wrong bearer token", "authentication_error")
        raw = await _read_limited(request.stream(), policy.max_request_bytes)
        if raw is None:
            record("request", None, None, "too_large", f"body over {policy.max_request_bytes} bytes")
            return _error(413, f"request larger than {policy.max_request_bytes} bytes", "invalid_request_error")
        ctx["hash"] = hashlib.sha256(raw).hexdigest()
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
        ctx["prompt"] = rails.logged_prompt(body)
        block, must_refuse = rails.check_input(body, record)
        if block is not None:
            doc = _blocked_completion(model, policy.block_message, block)
            return _stream_blocked(doc) if stream else _json(doc)
        try:
            r = await up.open("POST", "chat/completions", upstream_headers(request), orjson.dumps(body))
        except UpstreamFailure as e:
            record("upstream", None, None, "upstream_error", e.detail, final=True)
            return _error(502, "upstream unavailable", "upstream_error")
        if r.status != 200:
            failure = await up.error_detail(r)
            r.release()
            record("upstream", None, None, "upstream_status", failure.detail, final=True)
            return failure_response(failure, r.headers.get("retry-after"))
        if stream and r.content_type == "text/event-stream":
            return StreamingResponse(events(r, must_refuse, record), media_type="text/event-stream")
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
            out = _blocked_completion(model, policy.block_message, block)
            return _stream_blocked(out) if stream else _json(out)
        record("request", None, None, "allow")
        return _stream_doc(doc) if stream else _json(doc)

    def _stream_blocked(doc: dict) -> Response:
        chunk = {"id": doc["id"], "object": "chat.completion.chunk", "model": doc["model"],
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": doc["choices"][0]["message"]["content"]},
                              "finish_reason": "content_filter"}], "guardrail": doc["guardrail"]}
        return StreamingResponse(iter([_sse(chunk), _DONE]), media_type="text/event-stream")

    def _stream_doc(doc: dict) -> Response:
        """A whole (checked) answer to a stream request, as one chunk (an upstream that ignored `stream`)."""
        chunk = {k: v for k, v in doc.items() if k not in ("choices", "object")}
        chunk["object"] = "chat.completion.chunk"
        chunk["choices"] = [{"index": c.get("index", i), "delta": c["message"], "finish_reason": c.get("finish_reason")}
                            for i, c in enumerate(doc["choices"])]
        return StreamingResponse(iter([_sse(chunk), _DONE]), media_type="text/event-stream")

    async def events(r, must_refuse: Rail | None, record):
        sg = StreamGuard(loaded.output_rails, policy, must_refuse)
        meta: dict[str, Any] = {}
        ended = False

        def log_events() -> None:
            for rail, outcome, why in sg.events.values():
                record("output", rail.name, rail.action, outcome, why)

        try:
            try:
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

    async def shutdown() -> None:
        log.close()
        await up.close()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await shutdown()

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                            Route("/v1/models", models, methods=["GET"])], lifespan=lifespan)
    app.state.log = log
    return app


def serve(upstream: str, policy_path: str, host: str = "127.0.0.1", port: int = 8080, log_dir: str | None = None) -> None:
    import uvicorn

    from evalharness.guard.policy import load_policy

    loaded = load_policy(policy_path)
    if log_dir:
        loaded = LoadedPolicy(loaded.policy.model_copy(update={"log_dir": log_dir}), loaded.input_rails, loaded.output_rails)
    app = create_app(upstream, loaded)
    log: DecisionLog = app.state.log

    class GuardServer(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:  # SIGTERM/SIGINT: write the pending rows now
            log.flush_soon()
            super().handle_exit(sig, frame)

    print(f"guard on http://{host}:{port}/v1 -> {secrets.strip_userinfo(upstream)}", flush=True)
    # Clients pool connections (httpx and Node keep them 5 s, aiohttp 15 s). The guard keeps an idle
    # connection longer than they do, so a client never sends a request on a socket the guard is closing.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_keep_alive=SERVER_KEEPALIVE_S, timeout_graceful_shutdown=10)
    GuardServer(config).run()
