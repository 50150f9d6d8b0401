"""The guard proxy as a real process in front of the scripted upstream (and a dead one)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from evalharness import procs
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
    def __init__(self, upstream: str, policy_path, log_dir, env: dict | None = None, args: tuple[str, ...] = ()):
        self.port = free_port()
        env = {**os.environ, "GUARD_TEST_TOKEN": TOKEN, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc = procs.spawn([sys.executable, "-m", "evalharness.cli", "guard", "--upstream", upstream,
                                 "--policy", str(policy_path), "--port", str(self.port), "--log-dir", str(log_dir),
                                 *args],
                                env=env, stdout=open(Path(log_dir).parent / "guard.out", "wb"), stderr=subprocess.STDOUT,
                                death_signal=signal.SIGKILL)  # no guard outlives its test run
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
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=15)


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
                            "messages": [{"role": "user", "content": "REPLY=one two three four five six CANARY-42x seven"}]}) as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:") and "[DONE]" not in line]
    text = "".join((c.get("delta") or {}).get("content") or "" for e in events for c in e.get("choices", []))
    # Text flows, less a hold-back as long as the canary, so nothing of the canary ever goes out.
    assert text.startswith("one two") and "one two three four five six ".startswith(text)
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


def test_new_policy_keys_are_checked_with_their_line(tmp_path, cli):
    p = write(tmp_path / "p.yaml", "input_rails:\n"
              "  - {type: regex, pattern: secret, action: block, max_match: 3, not: true}\n"
              "  - {type: contains, value: x, action: block, max_match: 5}\n"
              "output_rails:\n"
              "  - {type: canary, action: block}\n"
              "  - {type: pii, action: redact, roles: [user]}\n"
              "non_text_parts: maybe\n")
    r = cli("guard", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(p))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "non_text_parts" in r.stderr  # an invalid value is reported before the rails are bound
    p.write_text(p.read_text().replace("non_text_parts: maybe\n", ""))
    r = cli("guard", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(p))
    assert r.returncode == 2
    assert f"{p}:2: input_rails[0]: `max_match` 3 is below the pattern's longest match (6)" in r.stderr
    assert f"{p}:3: input_rails[1]: `max_match` applies to rails that trip on a match" in r.stderr
    assert f"{p}:5: output_rails[0]: `canary` rails need a `value`" in r.stderr
    assert f"{p}:6: output_rails[1].roles: `roles` applies to input rails" in r.stderr
