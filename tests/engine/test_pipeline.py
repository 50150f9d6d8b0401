"""Generation and scoring as two pipelined stages (engine/scoring.py): judges run as wide as their own
concurrency whatever the target's, the stage is bounded, every response is written once with all its
scores, and a scorer's exception is that score's recorded error."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from evalharness import procs
from tests.conftest import ROOT, write

sys.path.insert(0, str(ROOT / "benchmarks"))
from judge_pipeline import JudgeServer, rag_suite  # noqa: E402  (the scripted judge, a real process)


@pytest.fixture
def slow_judge():
    with JudgeServer(latency_ms=150) as s:
        yield s


def test_recorded_target_judges_as_wide_as_the_judge_allows(tmp_path, cli, slow_judge):
    """One generation worker (recorded), a judge with concurrency 8: the judge sees >= 4 requests at once
    (before the pipeline: 1). Every response is written once with all its scores; rescore agrees."""
    n = 40
    suite = rag_suite(tmp_path / "rag.yaml", n, concurrency=8)
    text = suite.read_text().replace("scorers: [{type: faithfulness, threshold: 0.8}]",
                                     "scorers: [{type: faithfulness, threshold: 0.8}, {type: contains, value: Fact}]")
    # one case the judge refuses (HTTP 400): a recorded judge error on that score, the run goes on
    text = text.replace("output: \"Fact 7 says", "output: \"JUDGE_RAISE Fact 7 says")
    write(suite, text)
    out = tmp_path / "r"
    r = cli("run", str(suite), "--target", "recorded", "--judge-base-url", slow_judge.base_url,
            "--judge-model", "judge", "--no-cache", "--out", str(out), "--batch-rows", "7")
    assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr[-2000:]
    stats = slow_judge.stats()
    assert 4 <= stats["max_in_flight"] <= 8, stats  # as wide as the judge's concurrency, never wider
    assert "judge calls:" in r.stderr  # progress shows the judge calls (CI: plain lines)
    (run,) = list(out.iterdir())
    resp = pd.read_parquet(run / "responses.parquet")
    scores = pd.read_parquet(run / "scores.parquet")
    assert len(resp) == n and resp["response_id"].is_unique
    assert len(scores) == 2 * n and not scores.duplicated(["response_id", "scorer"]).any()
    assert set(scores["response_id"]) == set(resp["response_id"])
    by = scores.set_index(["case_id", "scorer"])
    assert by.loc[("rag0007", "faithfulness"), "judge_error"].startswith("judge request failed: HTTP 400")
    assert not by.loc[("rag0007", "faithfulness"), "passed"]
    assert by.loc[("rag0001", "faithfulness"), "passed"] and not by.loc[("rag0005", "faithfulness"), "passed"]
    assert scores[scores["scorer"] == "faithfulness"]["judge_error"].notna().sum() == 1
    timing = json.loads((run / "run.json").read_text())["timing"]
    assert timing["request_phase_s"] > 0
    # rescore goes through the same scoring path: the same verdicts
    slow_judge.reset()
    r = cli("rescore", str(run), "--judge-base-url", slow_judge.base_url, "--judge-model", "judge", "--no-cache",
            "--out", str(tmp_path / "r2"))
    assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr[-2000:]
    assert 4 <= slow_judge.stats()["max_in_flight"] <= 8
    (again,) = list((tmp_path / "r2").iterdir())
    s2 = pd.read_parquet(again / "scores.parquet").set_index(["case_id", "scorer"]).sort_index()
    pd.testing.assert_series_equal(by.sort_index()["passed"], s2["passed"])


# ---- in-process: the Runner with scripted scorers and a recording writer

class Writer:
    def __init__(self, fail_at: int | None = None):
        self.rows: list[tuple[dict, list[dict]]] = []
        self.fail_at = fail_at

    def add(self, row: dict, scores: list[dict]) -> None:
        if self.fail_at is not None and len(self.rows) + 1 == self.fail_at:
            raise OSError(28, "No space left on device")
        self.rows.append((row, scores))


def _bound(name: str, fn, *, is_async: bool = True, needs_judge: bool = True):
    from evalharness.scorers.bind import BoundScorer

    return BoundScorer(name=name, type=name, fn=fn, is_async=is_async, threshold=None, negate=False,
                       metric_only=False, needs_judge=needs_judge, config={"type": name})


def _runner(tmp_path: Path, n: int, scorers: tuple, writer, *, pending: int):
    from evalharness.engine.runner import Runner, TargetRuntime
    from evalharness.suite.loader import load_suites
    from evalharness.targets.config import TargetConfig

    cases = "".join(f"  - {{id: c{i:03d}, input: q{i}, output: 'answer {i}'}}\n" for i in range(n))
    path = write(tmp_path / "s.yaml", "name: p\ncategory: accuracy\nscorers: [{type: contains, value: answer}]\n"
                 "cases:\n" + cases)
    (suite,) = load_suites([str(path)])
    suite = replace(suite, cases=tuple(replace(lc, scorers=lc.scorers + scorers) for lc in suite.cases))
    return Runner("run-1", [suite], [TargetRuntime(TargetConfig(name="recorded"), None)], writer,
                  score_pending=pending)


def test_back_pressure_bounds_the_scoring_stage(tmp_path):
    """A slow judge scorer and a limit of 5: generation never runs more than 5 responses ahead of the
    writer, the stage holds at most 5, and scores 5 at once with a single generation worker."""
    writer = Writer()
    state = {"now": 0, "max": 0, "ahead": 0}
    runner = None

    async def slow(sample):
        from evalharness.scorers.base import Score

        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        state["ahead"] = max(state["ahead"], runner.totals.requests - len(writer.rows))
        await asyncio.sleep(0.01)
        state["now"] -= 1
        return Score(1.0, True, "slow ok", {"judge_model": "scripted"})

    runner = _runner(tmp_path, 60, (_bound("slow", slow),), writer, pending=5)
    totals = asyncio.run(runner.run())
    assert totals.requests == 60 and totals.scoring_limit == 5 and totals.scoring_max_pending == 5
    assert state["max"] == 5  # the stage scores as wide as its limit, with one generation worker
    assert state["ahead"] <= 5 + 1  # generated but not yet written: the stage's 5 + the one being handed over
    ids = [row["response_id"] for row, _ in writer.rows]
    assert len(ids) == 60 and len(set(ids)) == 60  # each response exactly once...
    for row, scores in writer.rows:  # ...with all its scores, in the scorers' order
        assert [s["scorer"] for s in scores] == ["contains", "slow"]
        assert all(s["response_id"] == row["response_id"] for s in scores)
        assert scores[1]["judge_model"] == "scripted"


def test_a_scorer_that_raises_is_its_recorded_error(tmp_path):
    """A judge scorer raising on one response (and a deterministic one raising on another): those scores
    fail with the error as their reason; every other score is unaffected and the run completes."""
    from evalharness.scorers.base import Score

    async def judged(sample):
        if sample.case_id == "c003":
            raise RuntimeError("judge scorer exploded")
        await asyncio.sleep(0)
        return Score(1.0, True, "fine")

    def det(sample):
        if sample.case_id == "c004":
            raise ValueError("deterministic scorer exploded")
        return Score(1.0, True, "fine")

    writer = Writer()
    runner = _runner(tmp_path, 10, (_bound("judged", judged), _bound("det", det, is_async=False, needs_judge=False)),
                     writer, pending=3)
    totals = asyncio.run(runner.run())
    assert totals.requests == 10 and len(writer.rows) == 10
    scores = {(s["case_id"], s["scorer"]): s for _, ss in writer.rows for s in ss}
    assert len(scores) == 30
    bad = scores[("c003", "judged")]
    assert not bad["passed"] and bad["reason"] == "scorer error: RuntimeError: judge scorer exploded"
    bad = scores[("c004", "det")]
    assert not bad["passed"] and bad["reason"] == "scorer error: ValueError: deterministic scorer exploded"
    assert sum(not s["passed"] for s in scores.values()) == 2


def test_an_exception_outside_scorers_stops_everything(tmp_path):
    """The writer failing (a full disk) is the run's error, raised as itself; no task is left running."""
    async def slow(sample):
        from evalharness.scorers.base import Score

        await asyncio.sleep(0.01)
        return Score(1.0, True, "ok")

    writer = Writer(fail_at=4)
    runner = _runner(tmp_path, 50, (_bound("slow", slow),), writer, pending=4)

    async def go():
        with pytest.raises(OSError, match="No space left"):
            await runner.run()
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(go()) == []
    assert len(writer.rows) == 3


def test_cancellation_leaves_no_task_and_no_half_written_row(tmp_path):
    """Ctrl-C (the run's task cancelled) while judges are in flight: every task is cancelled and awaited,
    and whatever reached the writer is complete (a row with all its scores)."""
    async def slow(sample):
        from evalharness.scorers.base import Score

        await asyncio.sleep(0.05 if sample.case_id < "c010" else 10)
        return Score(1.0, True, "ok")

    writer = Writer()
    runner = _runner(tmp_path, 40, (_bound("slow", slow),), writer, pending=20)

    async def go():
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(go()) == []
    assert 1 <= len(writer.rows) < 40
    for row, scores in writer.rows:
        assert [s["scorer"] for s in scores] == ["contains", "slow"]


def test_score_sample_is_the_same_path_inline_and_staged():
    """`score_inline` + the stage == `score_sample`; a response error fails every scorer without a call."""
    from evalharness.engine.scoring import complete, plan, score_inline, score_sample
    from evalharness.scorers.base import Sample, Score

    calls = []

    async def judged(sample):
        calls.append(sample.case_id)
        return Score(0.25, False, "judged")

    scorers = (_bound("det", lambda s: Score(1.0, True, "det"), is_async=False, needs_judge=False),
               _bound("judged", judged))
    p = plan(scorers)
    assert p.inline == (0,) and p.staged == (1,) and plan(scorers) is p
    sample = Sample(case_id="x", output="o")
    partial = score_inline(p, sample, None)
    assert not complete(partial) and partial[0][1].reason == "det" and partial[1][1] is None
    full = asyncio.run(score_sample(scorers, sample, None))
    assert [(b.name, s.value) for b, s in full] == [("det", 1.0), ("judged", 0.25)]
    failed = score_inline(p, sample, "timeout")
    assert complete(failed) and all(s.reason == "response error: timeout" for _, s in failed)
    assert calls == ["x"]


def test_interrupt_while_judges_run_then_resume(tmp_path, cli, slow_judge):
    """Ctrl-C while judge calls are in flight: exit 130, every stored response has all its scores, and
    `--resume` finishes the run with each response exactly once."""
    import os
    import signal
    import subprocess
    import time

    from evalharness.results.writer import load_done

    n = 60
    suite = rag_suite(tmp_path / "rag.yaml", n, concurrency=2)
    out = tmp_path / "r"
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = procs.spawn([sys.executable, "-m", "evalharness.cli", "run", str(suite), "--target", "recorded",
                             "--judge-base-url", slow_judge.base_url, "--judge-model", "judge", "--no-cache",
                             "--out", str(out), "--batch-rows", "5"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while slow_judge.stats()["requests"] < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slow_judge.stats()["in_flight"] > 0
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    (run,) = list(out.iterdir())
    responses, scores = load_done(run)
    stored = set(responses["response_id"].to_pylist())
    assert 0 < len(stored) < n
    # nothing half-written: each stored response has its one score, and no score lacks its response
    assert sorted(scores["response_id"].to_pylist()) == sorted(stored)
    r = cli("run", "--resume", str(run), "--judge-base-url", slow_judge.base_url, "--judge-model", "judge")
    if r.returncode == 2:  # this version's --resume takes the run's own options only
        r = cli("run", "--resume", str(run))
    assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr[-2000:]
    resp = pd.read_parquet(run / "responses.parquet")
    sc = pd.read_parquet(run / "scores.parquet")
    assert len(resp) == n and resp["response_id"].is_unique
    assert len(sc) == n and set(sc["response_id"]) == set(resp["response_id"]) and sc["judge_error"].isna().all()
