"""Correctness under heavy concurrency: no lost or duplicated rows at concurrency 256."""

import json

import pandas as pd
import pytest

from tests.conftest import write


# Both event loops: uvloop (the default) and asyncio's own (EVALHARNESS_EVENT_LOOP=asyncio).
@pytest.mark.parametrize("event_loop", ["auto", "asyncio"])
def test_2000_cases_at_concurrency_256(tmp_path, cli, slow_fault_server, event_loop):
    rows = "".join(json.dumps({"id": f"c{i:04d}", "q": f"REPLY=answer-{i}", "a": f"answer-{i}"}) + "\n"
                   for i in range(2000))
    write(tmp_path / "rows.jsonl", rows)
    s = write(tmp_path / "s.yaml", "name: load\ncategory: accuracy\ndataset: rows.jsonl\nfields: {id: id, a: expected}\n"
              "prompt: '{{ q }}'\nscorers: [{type: exact}, {type: contains}, {type: length, max: 40}]\n"
              "gate: {min_pass_rate: 1.0}\n")
    out = tmp_path / "r"
    r = cli("run", str(s), "--base-url", slow_fault_server.base_url, "--model", "m", "--concurrency", "256",
            "--no-cache", "--out", str(out), "--batch-rows", "100", env={"EVALHARNESS_EVENT_LOOP": event_loop})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (run,) = list(out.iterdir())
    resp = pd.read_parquet(run / "responses.parquet")
    scores = pd.read_parquet(run / "scores.parquet")
    assert len(resp) == 2000 and resp["case_id"].is_unique and resp["response_id"].is_unique
    assert resp["error"].isna().all()
    assert all(out == f"answer-{int(cid[1:])}" for cid, out in zip(resp["case_id"], resp["output"]))
    assert len(scores) == 6000 and not scores.duplicated(["response_id", "scorer"]).any()
    assert set(scores["response_id"]) == set(resp["response_id"]) and scores["passed"].all()
    assert slow_fault_server.stats()["ok"] == 2000  # exactly one request per case: none lost, none repeated
    timing = json.loads((run / "run.json").read_text())["timing"]
    assert timing["event_loop"].split()[0] == ("asyncio" if event_loop == "asyncio" else "uvloop")
    # 2,000 requests at 40 ms and concurrency 256 cannot take less than 8 rounds of 40 ms
    assert timing["request_phase_s"] >= 0.32 and timing["requests_per_s"] > 0
