"""The guard's added latency: the same requests sent to a fast scripted upstream directly and through
`evalharness guard` (regex, pii and canary rails on input and output), in one run.

    python benchmarks/guard_latency.py [--concurrency 64] [--n 3000] [--rounds 3] [--latency-ms 0] [--stream]
                                       [--workers 1] [--policy regex|classifier]

Rounds alternate direct / guarded; each is a closed loop of `--concurrency` clients (aiohttp) sending
`--n` requests. Reports p50/p95 of each path, the added latency (guarded - direct at p50 and p95),
requests per second, and the guard's CPU time per request (its parent and every worker, from /proc).
`--policy classifier` adds the `injection_classifier` rail (examples/guard.yaml's first rail) on input.
Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

POLICY = """\
input_rails:
  - {type: regex, pattern: "(?i)pipe ?bombs?|ransomware|keyloggers?|nerve agents?", not: true, action: block, name: deny_weapons}
  - {type: regex, pattern: "(?i)\\\\b(?:kill|murder)\\\\w*\\\\b.{0,40}?\\\\b(?:a person|people|someone)\\\\b", not: true, action: require_refusal, name: violence}
  - {type: pii, action: redact, name: input_pii}
output_rails:
  - {type: canary, value: CANARY-91c2e7, action: block, name: canary}
  - {type: regex, pattern: "(?i)BEGIN (?:RSA|OPENSSH) PRIVATE KEY", not: true, action: block, name: private_key}
  - {type: pii, kinds: [ssn, credit_card, email], action: redact, name: output_pii}
log_dir: LOG_DIR
"""
# The same rails plus the trained prompt-injection classifier (examples/guard.yaml's first rail) on the
# untrusted messages, user and tool: it scores the benchmark's own system prompt ("You are a helpful
# assistant ...") P(injection) = 0.95, so on every role it would block every request.
CLASSIFIER_POLICY = POLICY.replace(
    "input_rails:\n", "input_rails:\n  - {type: injection_classifier, action: block, name: injection, roles: [user, tool]}\n", 1)
SYSTEM = "You are a helpful assistant for Acme. Answer briefly and politely."
REPLY = "Paris is the capital of France. It lies on the Seine and has about two million inhabitants."


# ---- the fast scripted upstream (raw asyncio HTTP/1.1, keep-alive) ------------------------------------

def serve(latency_s: float) -> None:
    import orjson

    def completion(text: str, model: str) -> bytes:
        return orjson.dumps({"id": "bench", "object": "chat.completion", "created": 0, "model": model,
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 20, "completion_tokens": 20, "total_tokens": 40}})

    def sse(text: str, model: str) -> bytes:
        words = re.findall(r"\S+\s*", text)
        events = [{"id": "bench", "model": model, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
                  for w in words] + [{"id": "bench", "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
        return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                raw = await reader.readexactly(int(m.group(1))) if m else b""
                if head.startswith(b"GET"):
                    body, ctype = b'{"object": "list", "data": [{"id": "bench"}]}', b"application/json"
                else:
                    req = orjson.loads(raw)
                    last = next((x["content"] for x in reversed(req["messages"]) if x["role"] == "user"), "")
                    hit = re.search(r"REPLY=(.*)", last if isinstance(last, str) else "")
                    text = hit.group(1) if hit else "ok"
                    if latency_s:
                        await asyncio.sleep(latency_s)
                    if req.get("stream"):
                        body, ctype = sse(text, req.get("model", "bench")), b"text/event-stream"
                    else:
                        body, ctype = completion(text, req.get("model", "bench")), b"application/json"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: " +
                             str(len(body)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048)
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# ---- load --------------------------------------------------------------------------------------------

async def load(url: str, n: int, concurrency: int, stream: bool) -> tuple[list[float], float]:
    import aiohttp

    latencies: list[float] = []
    queue = iter(range(n))

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in queue:
            body = {"model": "bench", "stream": stream, "max_tokens": 64, "messages": [
                {"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Question {i}: capital of France? REPLY={REPLY}"}]}
            t = time.perf_counter()
            async with session.post(url + "/chat/completions", json=body) as r:
                data = await r.read()
                ok = data.rstrip().endswith(b"[DONE]") and b"content_filter" not in data if stream else b"Paris" in data
                if r.status != 200 or not ok:
                    raise RuntimeError(f"unexpected answer {r.status}: {data[:200]!r}")
            latencies.append(time.perf_counter() - t)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return latencies, wall


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of `pid` and of its living children (the guard's workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:
        kids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        kids = []
    return own + sum(cpu_seconds(k) for k in kids)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--n", type=int, default=3000, help="requests per round")
    ap.add_argument("--rounds", type=int, default=3, help="direct/guarded round pairs (alternating)")
    ap.add_argument("--latency-ms", type=float, default=0, help="the upstream's own latency")
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--workers", default="1", help="evalharness guard --workers")
    ap.add_argument("--policy", choices=("regex", "classifier"), default="regex",
                    help="regex: regex, pii and canary rails; classifier: the same plus injection_classifier on input")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        return serve(a.latency_ms / 1000)
    procs: list[subprocess.Popen] = []
    load_before = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    try:
        up = subprocess.Popen([sys.executable, __file__, "--serve", "--latency-ms", str(a.latency_ms)],
                              stdout=subprocess.PIPE, text=True)
        procs.append(up)
        upstream = f"http://127.0.0.1:{int(up.stdout.readline().split()[1])}/v1"
        tmp = Path(tempfile.mkdtemp(prefix="guard-latency-"))
        policy = tmp / "policy.yaml"
        policy.write_text((CLASSIFIER_POLICY if a.policy == "classifier" else POLICY).replace("LOG_DIR", str(tmp / "log")))
        port = free_port()
        guard = subprocess.Popen([sys.executable, "-m", "evalharness.cli", "guard", "--upstream", upstream,
                                  "--policy", str(policy), "--port", str(port), "--workers", a.workers], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(guard)
        guarded = f"http://127.0.0.1:{port}/v1"
        import urllib.request

        for _ in range(600):
            try:
                urllib.request.urlopen(guarded + "/models", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(2 if a.workers != "1" else 0)  # the other workers finish starting
        asyncio.run(load(guarded, 200, a.concurrency, a.stream))  # warm-up (connections, bytecode)
        asyncio.run(load(upstream, 200, a.concurrency, a.stream))
        direct_l, guard_l, direct_w, guard_w, guard_cpu = [], [], 0.0, 0.0, 0.0
        for _ in range(a.rounds):
            lat, wall = asyncio.run(load(upstream, a.n, a.concurrency, a.stream))
            direct_l += lat
            direct_w += wall
            c0 = cpu_seconds(guard.pid)
            lat, wall = asyncio.run(load(guarded, a.n, a.concurrency, a.stream))
            guard_cpu += cpu_seconds(guard.pid) - c0
            guard_l += lat
            guard_w += wall
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=15)
    total = a.n * a.rounds
    print(f"concurrency {a.concurrency}, {a.rounds} x {a.n} requests per path, upstream latency {a.latency_ms:g} ms, "
          f"{'streamed' if a.stream else 'not streamed'}, policy {a.policy}, guard workers {a.workers}, "
          f"{os.cpu_count()} CPUs, load average before {load_before}")
    print("| path | p50 ms | p95 ms | requests/s |")
    print("|---|---:|---:|---:|")
    print(f"| direct | {pct(direct_l, .5):.1f} | {pct(direct_l, .95):.1f} | {total / direct_w:.0f} |")
    print(f"| through the guard | {pct(guard_l, .5):.1f} | {pct(guard_l, .95):.1f} | {total / guard_w:.0f} |")
    print(f"| added by the guard | {pct(guard_l, .5) - pct(direct_l, .5):.1f} | {pct(guard_l, .95) - pct(direct_l, .95):.1f} | |")
    print(f"guard CPU per request: {guard_cpu / total * 1000:.2f} ms")


if __name__ == "__main__":
    main()
