"""`evalharness guard`: an OpenAI-compatible proxy that runs input and output rails around an upstream.

- POST /v1/chat/completions: size limit, bearer auth, input rails (block, redact, flag,
  require_refusal), the upstream call, output rails. A blocked request gets an OpenAI-shaped
  answer with `finish_reason: content_filter` and a `guardrail` field naming the rail, never a 500.
- Streaming: chunks are forwarded as they come; output rails run on the accumulated text before
  each chunk goes out, and the stream is cut with a final `content_filter` event once one trips.
- GET /v1/models: the upstream's list.
- Every request is logged (Parquet parts under `log_dir`): time, request id, a hash of the request,
  stage, rail, action, outcome, and the prompt only with `log_prompts: true`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from evalharness.guard.policy import LoadedPolicy, Rail
from evalharness.results.writer import _write_atomic
from evalharness.scorers.safety import detect_refusal

SERVER_KEEPALIVE_S = 65  # idle downstream connections (see serve())
UPSTREAM_KEEPALIVE_S = 4.0  # below the upstream's (uvicorn's 5 s), so the guard drops first

LOG_SCHEMA = pa.schema([
    ("time", pa.timestamp("ms", tz="UTC")), ("request_id", pa.string()), ("request_hash", pa.string()),
    ("stage", pa.string()), ("rail", pa.string()), ("action", pa.string()), ("outcome", pa.string()),
    ("detail", pa.string()), ("prompt", pa.string()),
])


class DecisionLog:
    def __init__(self, directory: Path, batch_rows: int = 500, batch_seconds: float = 1.0):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []
        self.batch_rows, self.batch_seconds = batch_rows, batch_seconds
        self._last = time.monotonic()
        self._prefix = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self._n = 0

    def add(self, **row: Any) -> None:
        row.setdefault("time", int(time.time() * 1000))
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows or time.monotonic() - self._last >= self.batch_seconds:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self.rows:
            return
        self._n += 1
        _write_atomic(pa.Table.from_pylist(self.rows, schema=LOG_SCHEMA), self.dir / f"decisions-{self._prefix}-{self._n:06d}.parquet")
        self.rows = []


def _error(status: int, message: str, kind: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def _blocked_completion(model: str, message: str, rail: Rail, stage: str, detail: str) -> dict:
    return {
        "id": f"guard-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "content_filter"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "guardrail": {"rail": rail.name, "stage": stage, "action": "block", "detail": detail[:200]},
    }


def _sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def create_app(upstream: str, loaded: LoadedPolicy):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    policy = loaded.policy
    log = DecisionLog(Path(policy.log_dir))
    token = os.environ.get(policy.auth_token_env) if policy.auth_token_env else None
    if policy.auth_token_env and not token:
        raise RuntimeError(f"auth_token_env {policy.auth_token_env} is not set")
    upstream_key = os.environ.get(policy.upstream_api_key_env) if policy.upstream_api_key_env else None
    state: dict[str, httpx.AsyncClient] = {}

    def client() -> httpx.AsyncClient:
        if "c" not in state:
            state["c"] = httpx.AsyncClient(base_url=upstream.rstrip("/") + "/", trust_env=False,
                                           timeout=httpx.Timeout(policy.timeout_s, connect=10.0),
                                           limits=httpx.Limits(max_connections=256, max_keepalive_connections=256,
                                                               keepalive_expiry=UPSTREAM_KEEPALIVE_S))
        return state["c"]

    def upstream_headers(request: Request) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if policy.forward_client_key and request.headers.get("authorization"):
            h["Authorization"] = request.headers["authorization"]
        elif upstream_key:
            h["Authorization"] = f"Bearer {upstream_key}"
        return h

    def check_auth(request: Request) -> Response | None:
        if token is None:
            return None
        if request.headers.get("authorization") != f"Bearer {token}":
            return _error(401, "missing or wrong bearer token", "authentication_error")
        return None

    async def models(request: Request) -> Response:
        if (denied := check_auth(request)) is not None:
            return denied
        try:
            r = await client().get("models", headers=upstream_headers(request))
        except httpx.HTTPError as e:
            return _error(502, f"upstream unavailable: {type(e).__name__}", "upstream_error")
        return Response(r.content, status_code=r.status_code, media_type="application/json")

    async def chat(request: Request) -> Response:
        rid = uuid.uuid4().hex
        if int(request.headers.get("content-length") or 0) > policy.max_request_bytes:
            log.add(request_id=rid, request_hash=None, stage="request", rail=None, action=None, outcome="too_large",
                    detail=request.headers.get("content-length"), prompt=None)
            return _error(413, f"request larger than {policy.max_request_bytes} bytes", "invalid_request_error")
        if (denied := check_auth(request)) is not None:
            log.add(request_id=rid, request_hash=None, stage="request", rail=None, action=None, outcome="unauthorized",
                    detail=None, prompt=None)
            return denied
        raw = await request.body()
        if len(raw) > policy.max_request_bytes:
            return _error(413, f"request larger than {policy.max_request_bytes} bytes", "invalid_request_error")
        try:
            body = json.loads(raw)
            messages = body["messages"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "body must be a JSON chat completion request with `messages`", "invalid_request_error")
        rhash = hashlib.sha256(raw).hexdigest()
        model = body.get("model", "")

        def record(stage: str, rail: Rail | None, outcome: str, detail: str | None = None) -> None:
            # With log_prompts, the prompt as forwarded: after input redaction, so no redacted PII is logged.
            prompt = json.dumps(messages, ensure_ascii=False) if policy.log_prompts else None
            log.add(request_id=rid, request_hash=rhash, stage=stage, rail=rail.name if rail else None,
                    action=rail.action if rail else None, outcome=outcome, detail=detail, prompt=prompt)

        must_refuse: Rail | None = None
        for rail in loaded.input_rails:
            for m in messages:
                if m.get("role") != "user" or not isinstance(m.get("content"), str):
                    continue
                tripped, why = rail.trips(m["content"])
                if not tripped:
                    continue
                if rail.action == "block":
                    record("input", rail, "block", why)
                    doc = _blocked_completion(model, policy.block_message, rail, "input", why)
                    return _stream_blocked(doc) if body.get("stream") else JSONResponse(doc)
                if rail.action == "redact":
                    m["content"] = rail.redact(m["content"])
                    record("input", rail, "redact", why)
                elif rail.action == "require_refusal":
                    must_refuse = rail
                    record("input", rail, "flag", "answer must be a refusal")
                else:
                    record("input", rail, "flag", why)
        try:
            if body.get("stream"):
                return await _stream(request, body, record, must_refuse)
            r = await client().post("chat/completions", json=body, headers=upstream_headers(request))
        except httpx.HTTPError as e:
            record("upstream", None, "upstream_error", type(e).__name__)
            return _error(502, f"upstream unavailable: {type(e).__name__}: {e}", "upstream_error")
        if r.status_code != 200:
            record("upstream", None, "upstream_status", str(r.status_code))
            return Response(r.content, status_code=r.status_code, media_type=r.headers.get("content-type"))
        try:
            doc = r.json()
            msg = doc["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            record("upstream", None, "upstream_error", "malformed response")
            return _error(502, "upstream returned a malformed response", "upstream_error")
        text = msg.get("content") or ""
        if must_refuse is not None and not detect_refusal(text)[0]:
            record("output", must_refuse, "block", "topic requires a refusal; the upstream answered")
            return JSONResponse(_blocked_completion(model, policy.block_message, must_refuse, "output",
                                                    "topic requires a refusal"))
        for rail in loaded.output_rails:
            tripped, why = rail.trips(text)
            if not tripped:
                continue
            if rail.action == "block":
                record("output", rail, "block", why)
                return JSONResponse(_blocked_completion(model, policy.block_message, rail, "output", why))
            if rail.action == "redact":
                text = rail.redact(text)
                msg["content"] = text
                record("output", rail, "redact", why)
            else:
                record("output", rail, "flag", why)
        record("request", None, "allow")
        return JSONResponse(doc)

    def _stream_blocked(doc: dict) -> Response:
        chunk = {"id": doc["id"], "object": "chat.completion.chunk", "model": doc["model"],
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": doc["choices"][0]["message"]["content"]},
                              "finish_reason": "content_filter"}], "guardrail": doc["guardrail"]}
        return StreamingResponse(iter([_sse(chunk), b"data: [DONE]\n\n"]), media_type="text/event-stream")

    async def _stream(request: Request, body: dict, record, must_refuse: Rail | None) -> Response:
        req = client().build_request("POST", "chat/completions", json=body, headers=upstream_headers(request))
        r = await client().send(req, stream=True)
        if r.status_code != 200:
            content = await r.aread()
            await r.aclose()
            record("upstream", None, "upstream_status", str(r.status_code))
            return Response(content, status_code=r.status_code, media_type=r.headers.get("content-type"))

        async def events():
            text = ""
            try:
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        continue
                    delta = "".join((c.get("delta") or {}).get("content") or "" for c in chunk.get("choices") or [])
                    candidate = text + delta
                    for rail in loaded.output_rails:
                        if rail.action == "flag":
                            continue
                        tripped, why = rail.trips(candidate)
                        if tripped:  # cut before the chunk that trips goes out
                            record("output", rail, "cut", why)
                            yield _sse({"object": "chat.completion.chunk", "model": chunk.get("model"),
                                        "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}],
                                        "guardrail": {"rail": rail.name, "stage": "output", "action": "cut",
                                                      "detail": why[:200]}})
                            yield b"data: [DONE]\n\n"
                            return
                    text = candidate
                    yield _sse(chunk)
                if must_refuse is not None and not detect_refusal(text)[0]:
                    record("output", must_refuse, "cut", "topic requires a refusal; the upstream answered")
                    yield _sse({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {},
                                "finish_reason": "content_filter"}], "guardrail": {"rail": must_refuse.name,
                                "stage": "output", "action": "cut"}})
                else:
                    record("request", None, "allow")
                yield b"data: [DONE]\n\n"
            finally:
                await r.aclose()

        return StreamingResponse(events(), media_type="text/event-stream")

    async def shutdown() -> None:
        log.flush()
        if "c" in state:
            await state["c"].aclose()

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

    from evalharness.guard.policy import LoadedPolicy, load_policy

    loaded = load_policy(policy_path)
    if log_dir:
        loaded = LoadedPolicy(loaded.policy.model_copy(update={"log_dir": log_dir}), loaded.input_rails, loaded.output_rails)
    app = create_app(upstream, loaded)
    print(f"guard on http://{host}:{port}/v1 -> {upstream}", flush=True)
    # Clients pool connections (httpx and Node keep them 5 s, aiohttp 15 s). The guard keeps an idle
    # connection longer than they do, so a client never sends a request on a socket the guard is closing.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=SERVER_KEEPALIVE_S)
