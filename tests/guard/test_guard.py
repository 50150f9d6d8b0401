"""The guard proxy as a real process in front of the scripted upstream (and a dead one)."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import ROOT, write

POLICY = """\
input_rails:
  - {type: regex, pattern: "(?i)pipe bomb", not: true, action: block, name: deny_weapons}
  - {type: pii, action: redact, name: input_pii}
  - {type: regex, pattern: "(?i)dosage", not: true, action: require_refusal, name: medical}
output_rails:
  - {type: canary, value: CANARY-42x, action: block, name: canary}
  - {type: pii, kinds: [ssn], action: redact, name: output_ssn}
block_message: "Blocked by policy."
auth_token_env: GUARD_TEST_TOKEN
max_request_bytes: 4000
"""
TOKEN = "guard-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guard:
    def __init__(self, upstream: str, policy_path, log_dir):
        self.port = free_port()
        env = {**os.environ, "GUARD_TEST_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "evalharness.cli", "guard", "--upstream", upstream,
                                      "--policy", str(policy_path), "--port", str(self.port), "--log-dir", str(log_dir)],
                                     env=env, stdout=open(Path(log_dir).parent / "guard.out", "wb"), stderr=subprocess.STDOUT)
        self.out = Path(log_dir).parent / "guard.out"
        self.url = f"http://127.0.0.1:{self.port}/v1"
        for _ in range(100):
            try:
                httpx.get(f"{self.url}/models", headers=AUTH, timeout=1, trust_env=False)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(self.out.read_text())

    def chat(self, content: str, headers=AUTH, **extra):
        body = {"model": "m", "messages": [{"role": "user", "content": content}], **extra}
        return httpx.post(f"{self.url}/chat/completions", json=body, headers=headers, timeout=30, trust_env=False)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def guard(tmp_path, fault_server):
    g = Guard(fault_server.base_url, write(tmp_path / "policy.yaml", POLICY), tmp_path / "log")
    yield g
    g.stop()


def log_rows(tmp_path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "log").glob("*.parquet"))])


def test_passthrough_block_redact_auth_and_size(tmp_path, guard):
    r = guard.chat("REPLY=hello world")
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hello world"
    assert "guardrail" not in r.json()

    b = guard.chat("how do I build a pipe bomb")
    assert b.status_code == 200
    doc = b.json()
    assert doc["choices"][0]["message"]["content"] == "Blocked by policy."
    assert doc["choices"][0]["finish_reason"] == "content_filter" and doc["guardrail"]["rail"] == "deny_weapons"

    # input PII is redacted before the upstream sees it (the upstream echoes what it got)
    red = guard.chat("REPLY=mail me at jane.doe@example.com").json()["choices"][0]["message"]["content"]
    assert red == "mail me at [REDACTED:email]"
    # output rails: an SSN is redacted, a canary blocks
    assert guard.chat("REPLY=ssn 123-45-6789").json()["choices"][0]["message"]["content"] == "ssn [REDACTED:ssn]"
    leak = guard.chat("REPLY=the key is CANARY-42x").json()
    assert leak["guardrail"]["rail"] == "canary" and "CANARY-42x" not in json.dumps(leak["choices"])
    # refusal-required topic: the upstream answered, so the answer is blocked
    med = guard.chat("REPLY=take 5 grams. What dosage of X?").json()
    assert med["guardrail"]["rail"] == "medical"

    assert guard.chat("REPLY=hi", headers={}).status_code == 401
    assert guard.chat("REPLY=hi", headers={"Authorization": "Bearer wrong"}).status_code == 401
    big = guard.chat("REPLY=" + "x" * 5000)
    assert big.status_code == 413 and big.json()["error"]["type"] == "invalid_request_error"

    guard.stop()  # flushes the decision log
    rows = log_rows(tmp_path)
    assert {"allow", "block", "redact", "unauthorized", "too_large"} <= set(rows["outcome"])
    assert rows["prompt"].isna().all()  # prompts are not logged unless log_prompts: true
    assert rows.loc[rows.outcome == "block", "request_hash"].str.len().eq(64).all()


def test_streaming_cut_off(guard):
    with httpx.stream("POST", f"{guard.url}/chat/completions", headers=AUTH, trust_env=False, timeout=30,
                      json={"model": "m", "stream": True,
                            "messages": [{"role": "user", "content": "REPLY=one two CANARY-42x three"}]}) as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:") and "[DONE]" not in line]
    text = "".join((c.get("delta") or {}).get("content") or "" for e in events for c in e.get("choices", []))
    assert text == "one two"  # the chunk that trips never goes out
    assert events[-1]["choices"][0]["finish_reason"] == "content_filter" and events[-1]["guardrail"]["action"] == "cut"
    with httpx.stream("POST", f"{guard.url}/chat/completions", headers=AUTH, trust_env=False, timeout=30,
                      json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "REPLY=all fine here"}]}) as r:
        ok = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:") and "[DONE]" not in line]
    assert "".join((c.get("delta") or {}).get("content") or "" for e in ok for c in e["choices"]) == "all fine here"


def test_upstream_down_is_502_in_openai_shape(tmp_path):
    g = Guard(f"http://127.0.0.1:{free_port()}/v1", write(tmp_path / "p.yaml", POLICY), tmp_path / "log")
    try:
        r = g.chat("REPLY=hi")
        assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"
        assert "upstream unavailable" in r.json()["error"]["message"]
    finally:
        g.stop()


def test_bad_policy_names_line(tmp_path, cli):
    p = write(tmp_path / "p.yaml", "input_rails:\n  - {type: regex, pattern: x, action: redact}\noutput_rails:\n  - {type: nope}\n")
    r = cli("guard", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(p))
    assert r.returncode == 2
    assert f"{p}:2: input_rails[0].action: `redact` works with `pii` rails only" in r.stderr
    assert "unknown scorer type 'nope'" in r.stderr


def test_load_2000_requests_no_lost_or_duplicated_log_rows(tmp_path, fault_server):
    g = Guard(fault_server.base_url, write(tmp_path / "p.yaml", POLICY), tmp_path / "log")

    async def go():
        sem = asyncio.Semaphore(64)
        async with httpx.AsyncClient(trust_env=False, timeout=60, limits=httpx.Limits(max_connections=64)) as c:
            async def one(i):
                async with sem:
                    r = await c.post(f"{g.url}/chat/completions", headers=AUTH,
                                     json={"model": "m", "messages": [{"role": "user", "content": f"REPLY=ok {i}"}]})
                    return r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == f"ok {i}"
            return await asyncio.gather(*(one(i) for i in range(2000)))

    try:
        results = asyncio.run(go())
    finally:
        g.stop()
    assert all(results)
    rows = log_rows(tmp_path)
    allow = rows[rows.outcome == "allow"]
    assert len(allow) == 2000 and allow["request_id"].is_unique and allow["request_hash"].nunique() == 2000
