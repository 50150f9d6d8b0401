"""Untrusted responses end to end: the real CLI (client, writer, gate) against canned bodies (the fuzz
server) and runaway answers (the fault server), each a real process on loopback."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from evalharness import procs
from tests.conftest import ROOT, write
from tests.fixtures.fuzz_server import FuzzServer

OK = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
FAMILIES = {  # key: (body, error)
    "finish": ({"choices": [{"message": {"content": "ok"}, "finish_reason": 5}]}, "choices[0].finish_reason: expected a string"),
    "strchoices": ({"choices": ["ok"]}, "choices[0]: expected an object"),
    "strusage": ({**OK, "usage": "3 tokens"}, "usage: expected an object"),
    "calls": ({"choices": [{"message": {"tool_calls": {"0": "f"}}, "finish_reason": "tool_calls"}]},
              "choices[0].message.tool_calls: expected a list"),
    "listbody": ([OK], "top level: expected an object"),
}
DELTA = {"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": None}]}
END = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
STREAM_FAMILIES = {  # key: (the second chunk, error)
    "finish": ({"choices": [{"delta": {}, "finish_reason": ["stop"]}]}, "choices[0].finish_reason: expected a string"),
    "strchoices": ({"choices": ["ok"]}, "choices[0]: expected an object"),
    "strusage": ({"choices": [], "usage": "3 tokens"}, "usage: expected an object"),
    "calls": ({"choices": [{"delta": {"tool_calls": {"index": 0}}}]}, "choices[0].delta.tool_calls: expected a list"),
    "listbody": ([DELTA], "top level: expected an object"),
    "index": ({"choices": [{"delta": {"tool_calls": [{"index": "0", "function": {"name": "f"}}]}}]},
              "choices[0].delta.tool_calls[0].index: expected an integer"),
}
N_GOOD = 7  # more good cases than bad: the run's error rate stays below the infrastructure threshold


def sse(*chunks) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def suite(tmp_path, keys) -> str:
    cases = "".join(f"  - {{id: {k}, input: {k}}}\n" for k in keys)
    return str(write(tmp_path / "s.yaml", f"name: s\ncategory: accuracy\nscorers: [{{type: regex, pattern: ''}}]\ncases:\n{cases}"))


def load(out):
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    manifest = json.loads((run / "run.json").read_text())
    return manifest, pd.read_parquet(run / "responses.parquet"), pd.read_parquet(run / "scores.parquet")


@pytest.fixture(scope="module")
def fuzz_server():
    s = FuzzServer()
    yield s
    s.stop()


@pytest.mark.parametrize("stream", [False, True])
def test_each_family_is_recorded_on_its_case_at_once(tmp_path, cli, fuzz_server, stream):
    prefix = "s-" if stream else "p-"
    if stream:
        bodies = {prefix + k: ("text/event-stream", sse(DELTA, chunk, END)) for k, (chunk, _) in STREAM_FAMILIES.items()}
        expected = {prefix + k: f"malformed stream chunk 2: {e}" for k, (_, e) in STREAM_FAMILIES.items()}
        good = ("text/event-stream", sse(DELTA, END))
    else:
        bodies = {prefix + k: ("application/json", json.dumps(b).encode()) for k, (b, _) in FAMILIES.items()}
        expected = {prefix + k: f"malformed response: {e}" for k, (_, e) in FAMILIES.items()}
        good = ("application/json", json.dumps(OK).encode())
    bodies.update({f"{prefix}good{i}": good for i in range(N_GOOD)})
    fuzz_server.load(bodies)
    out = tmp_path / "out"
    r = cli("run", suite(tmp_path, bodies), "--base-url", fuzz_server.base_url, "--model", "m", "--no-cache",
            "--max-retries", "2", "--out", str(out), *(["--stream"] if stream else []))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "unexpected error" not in r.stderr
    manifest, resp, scores = load(out)
    assert manifest["status"] == "complete" and len(resp) == len(bodies)
    errors = resp.set_index("case_id")["error"].dropna().to_dict()
    assert errors == expected
    assert not scores[scores["case_id"].isin(expected)]["passed"].any()
    assert scores[~scores["case_id"].isin(expected)]["passed"].all()
    hits = fuzz_server.hits()
    assert all(hits[k] == 1 for k in expected)  # fatal: the same server would answer the same way again


@pytest.mark.parametrize("stream", [False, True])
def test_stream_request_answered_with_plain_json_or_no_choices(tmp_path, cli, fault_server, stream):
    cases = {"plain": "FAULT:plainjson REPLY=fine", "nochoices": "FAULT:nochoices", "emptystream": "FAULT:emptystream",
             **{f"ok{i}": "REPLY=ok" for i in range(4)}}
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: regex, pattern: ''}]\ncases:\n"
              + "".join(f"  - {json.dumps({'id': k, 'input': v})}\n" for k, v in cases.items()))
    out = tmp_path / "out"
    r = cli("run", str(s), "--base-url", fault_server.base_url, "--model", "m", "--no-cache", "--max-retries", "2",
            "--out", str(out), *(["--stream"] if stream else []))
    assert r.returncode == 0, r.stdout + r.stderr
    _, resp, _ = load(out)
    by = resp.set_index("case_id")
    assert pd.isna(by.loc["plain", "error"]) and by.loc["plain", "output"] == "fine"
    assert by.loc["plain", "finish_reason"] == "stop" and by.loc["plain", "output_tokens"] == 1
    assert by.loc["nochoices", "error"] == "response has no choices"
    stats = fault_server.stats()
    assert stats["nochoices"] == 1  # recorded at once: not retried as a truncated stream
    if stream:
        assert by.loc["emptystream", "error"] == "response has no choices" and stats["emptystream"] == 1


def run_measured(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """The CLI as a real process, and its own peak RSS in bytes (os.wait4: this child's usage only)."""
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(tmp_path / "stdout", "w+") as stdout, open(tmp_path / "stderr", "w+") as stderr:
        proc = procs.spawn([sys.executable, "-m", "evalharness.cli", *args], stdout=stdout, stderr=stderr,
                                text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout.read(), stderr.read()), usage.ru_maxrss * 1024


@pytest.mark.parametrize("stream", [False, True])
def test_600mb_answers_are_cut_at_the_cap_with_bounded_memory(tmp_path, fault_server, stream):
    cases = {"huge": "FAULT:huge", "hugeerror": "FAULT:hugeerror", **{f"ok{i}": "REPLY=ok" for i in range(4)}}
    if stream:
        cases["longline"] = "FAULT:longline"
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: regex, pattern: ''}]\ncases:\n"
              + "".join(f"  - {json.dumps({'id': k, 'input': v})}\n" for k, v in cases.items()))
    out = tmp_path / "out"
    r, peak_rss = run_measured(tmp_path, "run", str(s), "--base-url", fault_server.base_url, "--model", "m", "--no-cache",
                               "--max-retries", "0", "--out", str(out), *(["--stream"] if stream else []))
    assert r.returncode in (0, 1, 3) and "Traceback" not in r.stderr and "unexpected error" not in r.stderr, r.stderr
    manifest, resp, _ = load(out)
    assert manifest["status"] == "complete"
    by = resp.set_index("case_id")
    assert by.loc["huge", "error"] == "response too large: over 16777216 bytes"
    if stream:
        assert by.loc["longline", "error"] == "response too large: over 16777216 bytes"
    assert by.loc["hugeerror", "error"].startswith("HTTP 500: {\"error\": \"eeee")  # only its first KB were read
    # A whole-body read took 3.85 GB; the bound leaves room for a slow machine's allocator.
    assert peak_rss < 400 * 1024 * 1024, f"peak RSS {peak_rss / 2**20:.0f} MiB"
