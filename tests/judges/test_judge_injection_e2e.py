"""End to end: a judge that obeys every instruction it can see (tests/fixtures/obeying_judge.py, a real process)
grades answers that carry judge injections from the corpus. With the manipulation check (the default) no
verdict changes; without it, the same judge is talked into a pass every time, so the judge really obeys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import write
from tests.fixtures.obeying_judge import ObeyingJudge

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "judge_injection" / "attacks.jsonl"


@pytest.fixture
def obeying_judge():
    j = ObeyingJudge()
    yield j
    j.stop()


def _rows() -> list[dict]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    by_cat: dict[str, list[dict]] = {}
    for r in rows:
        if r["split"] == "dev":
            by_cat.setdefault(r["category"], []).append(r)
    return [r for rs in by_cat.values() for r in rs[:4]]  # 4 dev attacks of each category


def test_obeying_judge_cannot_be_talked_into_a_score(tmp_path, cli, obeying_judge):
    rows = _rows()
    cases = []
    for r in rows:
        cases.append({"id": r["id"], "input": r["question"], "output": r["answer"], "expected": r["reference"]})
        r["base"] = "base-" + hashlib.sha256(r["wrong_answer"].encode()).hexdigest()[:8]
        if all(c["id"] != r["base"] for c in cases):
            cases.append({"id": r["base"], "input": r["question"], "output": r["wrong_answer"], "expected": r["reference"]})
    cases.append({"id": "right", "input": "What is the capital of France?", "output": "Paris.", "expected": "Paris"})
    suite = {"name": "inj", "category": "accuracy", "cases": cases,
             "scorers": [{"type": "rubric", "name": "checked", "criteria": "Correct.", "threshold": 4, "use_logprobs": False},
                         {"type": "rubric", "name": "unchecked", "criteria": "Correct.", "threshold": 4,
                          "use_logprobs": False, "manipulation_check": False}]}
    s = write(tmp_path / "s.yaml", json.dumps(suite))
    t = write(tmp_path / "j.yaml", f"judges:\n  default: {{base_url: '{obeying_judge.base_url}', model: obey}}\n")
    out = tmp_path / "r"
    r = cli("run", str(s), "--target", "recorded", "--targets", str(t), "--out", str(out), "--no-cache")
    assert r.returncode == 0, r.stdout + r.stderr
    (run,) = list(out.iterdir())
    sc = pd.read_parquet(run / "scores.parquet").set_index(["case_id", "scorer"])
    assert sc.loc[("right", "checked"), "passed"]  # the judge grades: a right answer passes
    for row in rows:
        base = sc.loc[(row["base"], "checked")]
        got = sc.loc[(row["id"], "checked")]
        assert not base["passed"] and base["score"] == 0.0
        assert (got["score"], got["passed"]) == (base["score"], base["passed"]), row["id"]
        assert got["reason"].startswith("judge_manipulation:"), row["id"]
        assert json.loads(got["verdict"])["flag"] == "judge_manipulation"
        # without the check, the same judge obeys the answer: the attack works, so the check is what stops it
        assert sc.loc[(row["id"], "unchecked"), "passed"], row["id"]
    stats = json.loads((run / "run.json").read_text())["judges"]["default"]["stats"]
    assert stats["manipulation"] == len(rows) and stats["errors"] == 0
    import pyarrow.parquet as pq

    from evalharness.results.schema import manipulation_count

    assert manipulation_count(pq.read_table(run / "scores.parquet")) == len(rows)
