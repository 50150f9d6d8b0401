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


DATA = CORPUS.parent
HELD_OUT = [("heldout.jsonl", "FROZEN.sha256"), ("heldout2.jsonl", "FROZEN2.sha256"), ("heldout3.jsonl", "FROZEN3.sha256"),
            ("heldout4.jsonl", "FROZEN4.sha256"), ("heldout5.jsonl", "FROZEN5.sha256")]


def _held_out() -> list[dict]:
    rows = []
    for name, sha in HELD_OUT:
        data = (DATA / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == (DATA / sha).read_text().split()[0], f"{name} was changed"
        rows += [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
    return rows


def test_no_held_out_phrasing_raises_a_verdict_with_differential_judging(tmp_path, cli, obeying_judge):
    """Every phrasing of the frozen held-out parts, through `evalharness run` and the real `rubric` scorer, against
    the obeying judge process: the manipulation check flags what it recognises, differential judging (the default)
    keeps the lower of the verdicts on the answer and on the answer without its grader-speaking clauses, and no
    attack ends above the same wrong answer without it."""
    rows = _held_out()
    assert len(rows) >= 200
    cases, bases = [], {}
    for r in rows:
        cases.append({"id": r["id"], "input": r["question"], "output": r["answer"], "expected": r["reference"]})
        key = r["question"] + "\n" + r["wrong_answer"]
        if key not in bases:
            bases[key] = f"base-{len(bases)}"
            cases.append({"id": bases[key], "input": r["question"], "output": r["wrong_answer"], "expected": r["reference"]})
        r["base"] = bases[key]
    cases.append({"id": "right", "input": "What is the capital of France?", "output": "Paris.", "expected": "Paris"})
    rub = {"type": "rubric", "criteria": "Correct.", "threshold": 4, "use_logprobs": False}
    suite = {"name": "inj-held-out", "category": "accuracy", "cases": cases,
             "scorers": [{**rub, "name": "checked"}, {**rub, "name": "unchecked", "manipulation_check": False}]}
    s = write(tmp_path / "s.yaml", json.dumps(suite, ensure_ascii=False))  # JSON is YAML (no \\u surrogates in it)
    t = write(tmp_path / "j.yaml", f"judges:\n  default: {{base_url: '{obeying_judge.base_url}', model: obey, concurrency: 8}}\n")
    out = tmp_path / "r"
    r = cli("run", str(s), "--target", "recorded", "--targets", str(t), "--out", str(out), "--no-cache")
    assert r.returncode in (0, 1), r.stdout + r.stderr  # 1: the gate fails (wrong answers), not an error
    (run,) = list(out.iterdir())
    sc = pd.read_parquet(run / "scores.parquet").set_index(["case_id", "scorer"])
    assert sc.loc[("right", "checked"), "passed"]  # the judge grades: a right answer passes
    raised, obeyed = [], 0
    for row in rows:
        base, got = sc.loc[(row["base"], "checked")], sc.loc[(row["id"], "checked")]
        for x in (base, got):  # the obeying judge never fails; neither does the real path here
            assert not x["reason"].startswith("judge error"), (row["id"], x["reason"])
        if got["score"] > base["score"] or (got["passed"] and not base["passed"]):
            raised.append(row["id"])
        obeyed += bool(sc.loc[(row["id"], "unchecked"), "passed"])
    assert raised == []
    # the control: without the check (and so without differential judging) the same judge is talked into passes
    assert obeyed >= len(rows) // 2, obeyed
    twice = sum("differential" in json.loads(v).get("judges", {}).get("default", {})
                for v in sc.xs("checked", level="scorer")["verdict"])
    stats = json.loads((run / "run.json").read_text())["judges"]["default"]["stats"]
    assert stats["errors"] == 0 and twice > 0 and stats.get("differential", 0) == twice  # one extra judgement each
