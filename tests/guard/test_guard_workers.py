"""`evalharness guard --workers N`: workers share the port, each writes its own log parts, SIGTERM to the
parent stops them all with their logs written, and SIGKILL of the parent takes the workers with it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from evalharness.guard.log import read_log
from tests.conftest import write
from tests.guard.test_guard import AUTH, POLICY, Guard

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux only (SO_REUSEPORT, /proc)")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for(cond, deadline_s: float, what: str):
    """Polls `cond` until it is true or the (generous) deadline passes."""
    end = time.monotonic() + deadline_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(0.05)


def send(url: str, n: int, concurrency: int = 64) -> list[bool]:
    async def go():
        import aiohttp

        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), trust_env=False,
                                         timeout=aiohttp.ClientTimeout(total=120)) as c:
            async def one(i):
                async with sem:
                    async with c.post(f"{url}/chat/completions", headers=AUTH,
                                      json={"model": "m", "messages": [{"role": "user", "content": f"REPLY=ok {i}"}]}) as r:
                        doc = await r.json()
                    return r.status == 200 and doc["choices"][0]["message"]["content"] == f"ok {i}"
            return await asyncio.gather(*(one(i) for i in range(n)))

    return asyncio.run(go())


def start(tmp_path, upstream: str, workers: str = "2") -> tuple[Guard, list[int]]:
    g = Guard(upstream, write(tmp_path / "p.yaml", POLICY), tmp_path / "log", args=("--workers", workers))
    pids = wait_for(lambda: (c := children(g.proc.pid)) and len(c) == 2 and c, 60, "two workers")
    # both listen before the load starts (a worker still importing would get no connection)
    wait_for(lambda: all(listening(p, g.port) for p in pids), 60, "both workers to listen")
    return g, pids


def listening(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on `port` (IPv4, from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(f[9])
    try:
        fds = [str(p.readlink()) for p in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(fd == f"socket:[{i}]" for fd in fds for i in inodes)


def test_sigkill_of_the_parent_takes_the_workers_and_loses_no_row(tmp_path, fault_server):
    """2,000 requests at concurrency 64 over two workers, 1.5 s quiet, SIGKILL of the parent: the workers
    go too, and the log parts hold exactly 2,000 rows, from both workers."""
    g, pids = start(tmp_path, fault_server.base_url)
    try:
        results = send(g.url, 2000)
        time.sleep(1.5)  # the quiet period under test: rows must not wait for another request
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait(timeout=10)
        wait_for(lambda: not any(alive(p) for p in pids), 60, "the workers to exit after their parent's SIGKILL")
    finally:
        g.stop()
    assert all(results)
    rows = read_log(tmp_path / "log")
    assert len(rows) == 2000 and set(rows["outcome"]) == {"allow"}
    assert rows["request_id"].is_unique and rows["request_hash"].nunique() == 2000
    parts = sorted(p.name for p in (tmp_path / "log").glob("decisions-*.parquet"))
    assert any("-w0-" in p for p in parts) and any("-w1-" in p for p in parts), parts  # both served


def test_sigterm_to_the_parent_stops_every_worker_with_its_log_written(tmp_path, fault_server):
    g, pids = start(tmp_path, fault_server.base_url)
    try:
        results = send(g.url, 300)
        g.proc.send_signal(signal.SIGTERM)  # at once: the rows are still in the workers' buffers
        assert g.proc.wait(timeout=60) == 0
        assert not any(alive(p) for p in pids)  # the parent returns only once its workers have exited
    finally:
        g.stop()
    assert all(results)
    rows = read_log(tmp_path / "log")
    assert len(rows) == 300 and rows["request_id"].is_unique


def test_workers_option_is_checked(tmp_path, cli):
    p = write(tmp_path / "p.yaml", POLICY)
    r = cli("guard", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(p), "--workers", "0")
    assert r.returncode == 2 and "--workers" in r.stderr and "Traceback" not in r.stderr


def test_workers_refuse_a_port_another_guard_holds(tmp_path, fault_server, cli):
    g, _ = start(tmp_path, fault_server.base_url)
    try:
        p = write(tmp_path / "p2.yaml", POLICY.replace("auth_token_env: GUARD_TEST_TOKEN\n", ""))
        r = cli("guard", "--upstream", fault_server.base_url, "--policy", str(p), "--port", str(g.port), "--workers", "2")
        assert r.returncode == 2 and "cannot listen" in r.stderr
    finally:
        g.stop()


def test_resolve_workers():
    import os

    from evalharness.guard.workers import resolve_workers

    assert resolve_workers("auto") == max(1, os.cpu_count() or 1) and resolve_workers("3") == 3
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(ValueError, match="--workers"):
            resolve_workers(bad)
