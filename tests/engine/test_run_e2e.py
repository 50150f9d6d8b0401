"""Run behaviours end to end: secrets, resume after a hard kill, cache, repeats, recorded and multi-target."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd

from evalharness import procs
from tests.conftest import ROOT, write

SECRET = "sk-test-5b1f0c7e9a2d4e6f8a0b1c2d3e4f5a6b"


def only_run(out):
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_api_key_never_reaches_outputs(tmp_path, cli, fault_server):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: safety\nscorers: [{type: contains, value: ok}]\ncases:\n"
              "  - {id: ok, input: hi}\n  - {id: echo, input: 'FAULT:echoauth'}\n")
    targets = write(tmp_path / "targets.yaml", f"targets:\n  - name: t\n    base_url: {fault_server.base_url}\n"
                    "    model: m\n    api_key_env: EH_TEST_KEY\n")
    out = tmp_path / "reports"
    r = cli("run", str(s), "--targets", str(targets), "--target", "t", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache"), env={"EH_TEST_KEY": SECRET})
    assert r.returncode in (0, 1), r.stderr
    run = only_run(out)
    resp = pd.read_parquet(run / "responses.parquet").set_index("case_id")
    assert "HTTP 401" in resp.loc["echo", "error"] and "***" in resp.loc["echo", "error"]  # server echoed it; scrubbed
    for path in [*out.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in r.stdout + r.stderr
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["targets"][0]["api_key_env"] == "EH_TEST_KEY"


def test_missing_api_key_env_is_config_error(tmp_path, cli, fault_server):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: safety\nscorers: [{type: exact}]\ncases: [{id: a, input: q}]\n")
    r = cli("run", str(s), "--base-url", fault_server.base_url, "--model", "m", "--api-key-env", "EH_UNSET_VAR_X",
            "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "EH_UNSET_VAR_X is not set" in r.stderr


def test_resume_after_kill_loses_and_duplicates_nothing(tmp_path, slow_fault_server):
    n = 300
    cases = "".join(f"  - {{id: c{i:03d}, input: 'REPLY=ok {i}'}}\n" for i in range(n))
    s = write(tmp_path / "s.yaml", f"name: big\ncategory: accuracy\nscorers: [{{type: contains, value: ok}}]\ncases:\n{cases}")
    out = tmp_path / "reports"
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "evalharness.cli", "run", str(s), "--base-url", slow_fault_server.base_url,
            "--model", "m", "--concurrency", "4", "--batch-rows", "10", "--no-cache", "--out", str(out)]
    proc = procs.spawn(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    parts = []
    while time.time() < deadline:
        parts = list(out.glob("*/parts/responses-*.parquet"))
        if len(parts) >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(parts) >= 5, "run never flushed a part"
    run = only_run(out)
    assert not (run / "responses.parquet").exists()  # it really was interrupted
    stored = sum(len(pd.read_parquet(p)) for p in run.glob("parts/responses-*.parquet"))
    assert 0 < stored < n
    asked_before = slow_fault_server.stats()["ok"]

    r = subprocess.run([sys.executable, "-m", "evalharness.cli", "run", "--resume", str(run)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    resp = pd.read_parquet(run / "responses.parquet")
    scores = pd.read_parquet(run / "scores.parquet")
    assert len(resp) == n and resp["response_id"].is_unique and set(resp["case_id"]) == {f"c{i:03d}" for i in range(n)}
    assert len(scores) == n and scores["response_id"].is_unique and scores["passed"].all()
    assert not (run / "parts").exists()
    asked_after = slow_fault_server.stats()["ok"] - asked_before
    assert asked_after == n - stored  # what was stored was not asked again
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed_at"]


def test_cache_hits_and_repeats_are_distinct(tmp_path, cli, fault_server):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: contains, value: ok}]\n"
              "cases:\n  - {id: a, input: 'REPLY=ok a'}\n  - {id: b, input: 'REPLY=ok b'}\n")
    common = ["--base-url", fault_server.base_url, "--model", "m", "--cache-dir", str(tmp_path / "cache")]
    r1 = cli("run", str(s), *common, "--repeats", "2", "--out", str(tmp_path / "r1"))
    assert r1.returncode == 0, r1.stderr
    assert fault_server.stats()["ok"] == 4  # 2 cases x 2 repeats: repeats are never one cached answer
    r2 = cli("run", str(s), *common, "--repeats", "2", "--out", str(tmp_path / "r2"))
    assert r2.returncode == 0
    assert fault_server.stats()["ok"] == 4  # all served from the cache
    resp = pd.read_parquet(only_run(tmp_path / "r2") / "responses.parquet")
    assert resp["cached"].all() and sorted(resp["repeat"]) == [0, 0, 1, 1]
    r3 = cli("run", str(s), *common, "--no-cache", "--out", str(tmp_path / "r3"))
    assert r3.returncode == 0 and fault_server.stats()["ok"] == 6


def test_recorded_target_scores_without_a_model(tmp_path, cli):
    write(tmp_path / "logs.jsonl", "\n".join(json.dumps(r) for r in [
        {"id": "1", "input": "2+2?", "expected": "4", "output": "It is 4."},
        {"id": "2", "input": "3+3?", "expected": "6", "output": "It is 7."},
        {"id": "3", "input": "q", "expected": "x"},
    ]))
    s = write(tmp_path / "s.yaml", "name: logs\ncategory: regression\ndataset: logs.jsonl\nscorers: [{type: numeric}]\n")
    out = tmp_path / "r"
    r = cli("run", str(s), "--target", "recorded", "--out", str(out))
    assert r.returncode == 0, r.stderr
    run = only_run(out)
    v = pd.read_parquet(run / "scores.parquet").set_index("case_id")
    assert v.loc["1", "passed"] and not v.loc["2", "passed"] and not v.loc["3", "passed"]
    resp = pd.read_parquet(run / "responses.parquet").set_index("case_id")
    assert "no recorded" in resp.loc["3", "error"] and resp.loc["1", "model"] == "recorded"


def test_several_targets_in_one_run(tmp_path, cli, fault_server):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: contains, value: ok}]\n"
              "cases: [{id: a, input: 'REPLY=ok'}, {id: b, input: 'REPLY=no'}]\n")
    t = write(tmp_path / "t.yaml", f"targets:\n  - {{name: prod, base_url: '{fault_server.base_url}', model: m1}}\n"
              f"  - {{name: candidate, base_url: '{fault_server.base_url}', model: m2, concurrency: 2,"
              " params: {temperature: 0.5}}\n")
    out = tmp_path / "r"
    r = cli("run", str(s), "--targets", str(t), "--target", "prod", "--target", "candidate", "--target",
            "recorded", "--no-cache", "--out", str(out))
    # The recorded target has no outputs: every one of its requests errored. Only 2 of 6 in all, but a dead
    # target beside healthy ones is an infrastructure failure, named.
    assert r.returncode == 3, r.stdout
    assert "infrastructure failure: target 'recorded': s: 2 of 2 requests errored" in r.stdout
    assert "target 'prod'" not in r.stdout and "target 'candidate'" not in r.stdout
    resp = pd.read_parquet(only_run(out) / "responses.parquet")
    assert sorted(resp["target"].unique()) == ["candidate", "prod", "recorded"]
    assert set(resp.loc[resp.target == "candidate", "model"]) == {"m2"}
    assert resp.loc[resp.target == "recorded", "error"].str.contains("no recorded").all()


def test_unknown_target_suggests(tmp_path, cli):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: exact}]\ncases: [{id: a, input: q}]\n")
    t = write(tmp_path / "t.yaml", "targets:\n  - {name: candidate, base_url: 'http://127.0.0.1:9/v1', model: m}\n")
    r = cli("run", str(s), "--targets", str(t), "--target", "candidat", "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "did you mean 'candidate'" in r.stderr


def test_sigterm_stops_cleanly_and_marks_run_interrupted(tmp_path, slow_fault_server):
    cases = "".join(f"  - {{id: c{i:03d}, input: 'REPLY=ok'}}\n" for i in range(200))
    s = write(tmp_path / "s.yaml", f"name: big\ncategory: accuracy\nscorers: [{{type: contains, value: ok}}]\ncases:\n{cases}")
    out = tmp_path / "reports"
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT)}
    proc = procs.spawn([sys.executable, "-m", "evalharness.cli", "run", str(s), "--base-url",
                             slow_fault_server.base_url, "--model", "m", "--concurrency", "2", "--batch-rows", "5",
                             "--no-cache", "--out", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("*/parts/responses-*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    run = only_run(out)
    assert f"evalharness run --resume {run}`" in err  # the folder itself, ready to paste
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    stored = sum(len(pd.read_parquet(p)) for p in run.glob("parts/responses-*.parquet"))
    assert stored >= 10


def test_tag_and_case_filters(tmp_path, cli):
    """--tag and --case (globs) select cases; suites with none left are not run; nothing selected is exit 2."""
    a = write(tmp_path / "a.yaml", "name: a\ncategory: accuracy\ntags: [smoke]\nscorers: [{type: contains, value: ok}]\n"
              "cases:\n  - {id: xs-1, input: q, output: ok}\n  - {id: xs-2, input: q, output: ok, tags: [slow]}\n"
              "  - {id: other, input: q, output: ok}\n")
    b = write(tmp_path / "b.yaml", "name: b\ncategory: accuracy\nscorers: [{type: contains, value: ok}]\n"
              "cases:\n  - {id: xs-9, input: q, output: ok, tags: [slow]}\n  - {id: z, input: q, output: ok}\n")

    def ran(*flags):
        out = tmp_path / f"r{len(list(tmp_path.glob('r*')))}"
        r = cli("run", str(a), str(b), "--target", "recorded", "--out", str(out), *flags)
        assert r.returncode == 0, r.stdout + r.stderr
        assert ("not run (nor gated): b" in r.stderr) == (flags[:2] == ("--tag", "smoke")), r.stderr
        resp = pd.read_parquet(only_run(out) / "responses.parquet")
        return sorted(zip(resp["suite"], resp["case_id"]))

    assert ran("--case", "xs-*") == [("a", "xs-1"), ("a", "xs-2"), ("b", "xs-9")]
    assert ran("--tag", "slow") == [("a", "xs-2"), ("b", "xs-9")]
    assert ran("--tag", "smoke", "--case", "xs-*") == [("a", "xs-1"), ("a", "xs-2")]  # a suite's tags count
    r = cli("run", str(a), "--target", "recorded", "--out", str(tmp_path / "none"), "--case", "nope-*")
    assert r.returncode == 2 and "no case of the suites given matches --case nope-*" in r.stderr, r.stderr
