"""End-to-end against the scripted fault-injection server (a real process on loopback)."""

import json
import socket

import pandas as pd
import pytest

from tests.conftest import write

FAULTS = {
    "r429": "FAULT:429once", "r500": "FAULT:500once", "reset": "FAULT:reset", "timeout": "FAULT:timeout",
    "badjson": "FAULT:badjson", "nochoices": "FAULT:nochoices", "truncate": "FAULT:truncate",
}


def suite(tmp_path, n_ok: int, faults=FAULTS, gate: str = "", extra: dict | None = None) -> str:
    cases = [{"id": f"ok{i}", "input": f"REPLY=ok {i}"} for i in range(n_ok)]
    cases += [{"id": k, "input": v} for k, v in faults.items()]
    if extra:
        cases += [{"id": k, "input": v} for k, v in extra.items()]
    body = "name: faults\ncategory: accuracy\nscorers: [{type: contains, value: ok}]\n" + gate
    body += "cases:\n" + "".join(f"  - {json.dumps(c)}\n" for c in cases)
    return str(write(tmp_path / "faults.yaml", body))


def load(out_dir):
    (run,) = list(out_dir.iterdir())
    return run, pd.read_parquet(run / "responses.parquet"), pd.read_parquet(run / "scores.parquet")


@pytest.mark.parametrize("stream", [False, True])
def test_each_fault_recorded_on_its_case(tmp_path, cli, fault_server, stream):
    out = tmp_path / "reports"
    extra = {"nofinish": "FAULT:nofinish"} if stream else None
    args = ["run", suite(tmp_path, n_ok=10 if stream else 9, extra=extra), "--base-url", fault_server.base_url, "--model", "fault-model",
            "--timeout", "1.5", "--max-retries", "2", "--no-cache", "--out", str(out)]
    r = cli(*args, *(["--stream"] if stream else []))
    assert r.returncode == 0, r.stderr  # 7 errors of 16 requests: not more than half, no gate
    run, resp, scores = load(out)
    by = resp.set_index("case_id")
    # Retried and recovered: 429 honoured Retry-After (1 s), 500 retried.
    for cid in ("r429", "r500"):
        assert pd.isna(by.loc[cid, "error"]) and by.loc[cid, "output"] == "ok"
    assert by.loc["r429", "latency_ms"] >= 1000
    errors = by["error"].dropna()
    expected_errors = {"reset", "timeout", "badjson", "nochoices", "truncate"} | ({"nofinish"} if stream else set())
    assert set(errors.index) == expected_errors
    assert "timeout" in errors["timeout"]
    assert "connection error" in errors["reset"]
    if not stream:
        assert "malformed JSON" in errors["badjson"]
        assert "no choices" in errors["nochoices"]
    assert any(m in errors["truncate"] for m in ("truncated stream", "truncated response", "connection error"))
    if stream:
        assert "without a finish_reason" in errors["nofinish"]
    # A failed response is scored as failed, never as passed.
    failed = scores[scores["case_id"].isin(errors.index)]
    assert len(failed) == len(expected_errors) and not failed["passed"].any()
    assert failed["reason"].str.startswith("response error:").all()
    ok = scores[scores["case_id"].str.startswith("ok")]
    assert ok["passed"].all() and len(ok) == (10 if stream else 9)
    if stream:
        assert by.loc["ok1", "ttft_ms"] > 0
    stats = fault_server.stats()
    assert stats["429once"] == 2 and stats["500once"] == 2 and stats["reset"] == 3  # 1 + 2 retries


def test_more_than_half_errors_is_exit_3(tmp_path, cli, fault_server):
    faults = {"a": "FAULT:500", "b": "FAULT:nochoices", "c": "FAULT:badjson"}
    r = cli("run", suite(tmp_path, n_ok=2, faults=faults), "--base-url", fault_server.base_url, "--model", "m",
            "--max-retries", "1", "--no-cache", "--out", str(tmp_path / "r"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "infrastructure failure: target 'm': faults: 3 of 5 requests errored" in r.stdout


def test_gate_decides_exit_code(tmp_path, cli, fault_server):
    gate = "gate:\n  min_pass_rate: 0.9\n"
    r = cli("run", suite(tmp_path, n_ok=8, faults={"x": "FAULT:nochoices"}, gate=gate), "--base-url",
            fault_server.base_url, "--model", "m", "--no-cache", "--out", str(tmp_path / "r"))
    assert r.returncode == 1, r.stdout + r.stderr  # 8/9 = 0.889 < 0.9
    assert "FAIL faults [m] overall pass_rate 0.889" in r.stdout
    gate0 = "gate:\n  min_pass_rate: 0.0\n  min_mean_score: 0.5\n"
    r = cli("run", suite(tmp_path, n_ok=8, faults={"x": "FAULT:nochoices"}, gate=gate0), "--base-url",
            fault_server.base_url, "--model", "m", "--no-cache", "--out", str(tmp_path / "r0"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS faults [m] overall pass_rate 0.889 (min 0," in r.stdout


def test_unreachable_target_is_exit_3(tmp_path, cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nothing listens there
    r = cli("run", suite(tmp_path, n_ok=1, faults={}), "--base-url", f"http://127.0.0.1:{port}/v1",
            "--model", "m", "--out", str(tmp_path / "r"))
    assert r.returncode == 3
    assert "unreachable" in r.stderr


def test_bad_suite_is_exit_2(tmp_path, cli):
    p = write(tmp_path / "s.yaml", "name: x\ncategory: accuracy\ncases: [{id: a, input: q}]\nscorers: [{type: exactt}]\n")
    r = cli("run", str(p), "--target", "recorded", "--out", str(tmp_path / "r"))
    assert r.returncode == 2
    assert f"{p}:4: scorers[0].type: unknown scorer type 'exactt' (did you mean 'exact'?)" in r.stderr
    assert not (tmp_path / "r").exists()
