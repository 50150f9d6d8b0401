"""A fast OpenAI-compatible stub on 127.0.0.1 (Starlette + uvicorn) with fixed artificial latency.

    python benchmarks/stub_server.py --latency-ms 50 [--port 0]     # prints "PORT <n>" when ready

Answers `REPLY=<text>` with <text> (else "ok"); streams when asked; returns a tool call when
`tool_choice` names a function; GET /stats returns request counters.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import re
import socket
import time

COUNTERS = {"requests": 0, "streams": 0}


def build_app(latency_s: float):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request):
        body = await request.json()
        COUNTERS["requests"] += 1
        if latency_s:
            await asyncio.sleep(latency_s)
        last = next((m.get("content") or "" for m in reversed(body["messages"]) if m.get("role") == "user"), "")
        m = re.search(r"REPLY=(.*)", last)
        text = m.group(1).strip() if m else "ok"
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            msg = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": name, "arguments": json.dumps({"q": text})}}]}
            finish = "tool_calls"
        else:
            msg, finish = {"role": "assistant", "content": text}, "stop"
        usage = {"prompt_tokens": 8, "completion_tokens": max(1, len(text.split())), "total_tokens": 9}
        if body.get("stream"):
            COUNTERS["streams"] += 1

            async def events():
                for i, w in enumerate(text.split(" ")):
                    piece = w if i == 0 else " " + w
                    yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': piece}, 'finish_reason': None}]})}\n\n"
                yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {}, 'finish_reason': finish}], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse({"id": "stub", "object": "chat.completion", "created": int(time.time()),
                             "model": body.get("model"), "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                             "usage": usage})

    async def models(request: Request):
        return JSONResponse({"object": "list", "data": [{"id": "stub-model"}]})

    async def stats(request: Request):
        return JSONResponse(COUNTERS)

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/models", models), Route("/stats", stats)])


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=0)
    a = ap.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", a.port))
    # uvicorn's production stack (uvicorn[standard]): uvloop and httptools when installed, so the stub
    # is not the bottleneck. On asyncio + h11 the raw client's 50 ms / c64 / 2,000 run took 3.81 s
    # instead of 2.13 s (benchmarks/README.md).
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(f"PORT {sock.getsockname()[1]} loop={loop} http={http}", flush=True)
    config = uvicorn.Config(build_app(a.latency_ms / 1000), log_level="warning", access_log=False, backlog=2048,
                            loop=loop, http=http)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
