"""The reference floor: the same requests fired by a plain async loop, exact-match check only.

    python benchmarks/raw_client.py --base-url http://127.0.0.1:PORT/v1 --n 2000 --concurrency 64 [--client aiohttp|httpx|openai] [--loop asyncio|uvloop]

prints one JSON line: wall seconds and correct answers. The default client is aiohttp, the fastest
plain loop on this machine (and evalharness's own transport); `--client httpx` shows the httpx floor,
and `--client openai` the plain AsyncOpenAI loop the performance issue names as its reference
(`pip install -e '.[bench]'`). `--loop uvloop` runs it on uvloop, evalharness's default loop; `wall_s`
is the request phase only (first request to last response).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def run_aiohttp(base_url: str, n: int, concurrency: int) -> dict:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    url = base_url.rstrip("/") + "/chat/completions"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        async def one(i: int) -> bool:
            async with sem:
                async with s.post(url, json={"model": "m", "messages": [
                        {"role": "user", "content": f"REPLY=ok {i}"}], "temperature": 0}) as r:
                    return json.loads(await r.read())["choices"][0]["message"]["content"] == f"ok {i}"

        t0 = time.perf_counter()
        ok = await asyncio.gather(*(one(i) for i in range(n)))
        return {"wall_s": time.perf_counter() - t0, "correct": sum(ok)}


async def run_httpx(base_url: str, n: int, concurrency: int) -> dict:
    import httpx

    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", limits=limits, timeout=120, trust_env=False) as c:
        async def one(i: int) -> bool:
            async with sem:
                r = await c.post("chat/completions", json={"model": "m", "messages": [
                    {"role": "user", "content": f"REPLY=ok {i}"}], "temperature": 0})
                return r.json()["choices"][0]["message"]["content"] == f"ok {i}"

        t0 = time.perf_counter()
        ok = await asyncio.gather(*(one(i) for i in range(n)))
        return {"wall_s": time.perf_counter() - t0, "correct": sum(ok)}


async def run_openai(base_url: str, n: int, concurrency: int) -> dict:
    import httpx
    from openai import AsyncOpenAI

    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0,
                         http_client=httpx.AsyncClient(limits=limits, timeout=120, trust_env=False))
    async with client:
        async def one(i: int) -> bool:
            async with sem:
                r = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"REPLY=ok {i}"}], temperature=0)
                return r.choices[0].message.content == f"ok {i}"

        t0 = time.perf_counter()
        ok = await asyncio.gather(*(one(i) for i in range(n)))
        return {"wall_s": time.perf_counter() - t0, "correct": sum(ok)}


CLIENTS = {"aiohttp": run_aiohttp, "httpx": run_httpx, "openai": run_openai}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--client", choices=sorted(CLIENTS), default="aiohttp")
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    a = ap.parse_args()
    factory = None
    if a.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        print(json.dumps(runner.run(CLIENTS[a.client](a.base_url, a.n, a.concurrency))))
