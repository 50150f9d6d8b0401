"""The decision log is durable: rows are written within a second on their own, not when the next request comes."""

import asyncio
import signal
import time

import pandas as pd

from tests.conftest import write
from tests.guard.test_guard import AUTH, POLICY, Guard


def rows_in(log_dir) -> pd.DataFrame:
    parts = sorted(log_dir.glob("*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts]) if parts else pd.DataFrame(columns=["outcome", "request_id"])


def test_rows_are_written_without_a_next_request(tmp_path, fault_server):
    g = Guard(fault_server.base_url, write(tmp_path / "p.yaml", POLICY), tmp_path / "log")
    try:
        assert g.chat("REPLY=hello").status_code == 200
        deadline = time.monotonic() + 10
        while rows_in(tmp_path / "log").empty and time.monotonic() < deadline:
            time.sleep(0.05)  # waits for the file (the event), bounded
        assert list(rows_in(tmp_path / "log")["outcome"]) == ["allow"]
        assert g.proc.poll() is None  # written by the running guard, not at exit
    finally:
        g.stop()


def test_sigkill_after_a_second_of_quiet_loses_no_row(tmp_path, fault_server):
    """2,000 requests at concurrency 64, 1.5 s without traffic, then SIGKILL: exactly 2,000 rows."""
    g = Guard(fault_server.base_url, write(tmp_path / "p.yaml", POLICY), tmp_path / "log")

    async def go():
        import aiohttp

        sem = asyncio.Semaphore(64)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), trust_env=False,
                                         timeout=aiohttp.ClientTimeout(total=60)) as c:
            async def one(i):
                async with sem:
                    async with c.post(f"{g.url}/chat/completions", headers=AUTH,
                                      json={"model": "m", "messages": [{"role": "user", "content": f"REPLY=ok {i}"}]}) as r:
                        doc = await r.json()
                    return r.status == 200 and doc["choices"][0]["message"]["content"] == f"ok {i}"
            return await asyncio.gather(*(one(i) for i in range(2000)))

    try:
        results = asyncio.run(go())
        time.sleep(1.5)  # the quiet period under test: rows must not wait for another request
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait(timeout=10)
    finally:
        g.stop()
    assert all(results)
    rows = rows_in(tmp_path / "log")
    assert len(rows) == 2000 and set(rows["outcome"]) == {"allow"}
    assert rows["request_id"].is_unique and rows["request_hash"].nunique() == 2000
