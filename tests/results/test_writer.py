"""RunWriter: parts while running, one pair of final files at the end, whichever path finish() takes."""

import pyarrow.parquet as pq

from evalharness.results.writer import RunWriter, load_done


def _rows(i: int):
    rid = f"r{i}"
    response = {"run_id": "run", "response_id": rid, "suite": "s", "case_id": f"c{i}", "target": "t", "repeat": 0,
                "output": f"out {i}", "error": None, "cached": False, "tags": ["x"]}
    scores = [{"run_id": "run", "response_id": rid, "suite": "s", "case_id": f"c{i}", "target": "t", "scorer": name,
               "score": 1.0, "passed": True, "reason": "", "metric_only": False} for name in ("a", "b")]
    return response, scores


def _finished(tmp_path, n: int, batch_rows: int):
    w = RunWriter(tmp_path, batch_rows=batch_rows)
    for i in range(n):
        w.add(*_rows(i))
    r_path, s_path = w.finish()
    assert not (tmp_path / "parts").exists()
    return pq.read_table(r_path).to_pylist(), pq.read_table(s_path).to_pylist()


def test_short_run_without_parts_and_long_run_with_parts_store_the_same(tmp_path):
    short = _finished(tmp_path / "a", 5, batch_rows=1000)  # nothing flushed before finish()
    parted = _finished(tmp_path / "b", 5, batch_rows=2)  # two parts, then the rest
    assert [r["response_id"] for r in short[0]] == [f"r{i}" for i in range(5)]
    assert len(short[1]) == 10
    assert short == parted


def test_scores_without_their_response_are_not_stored(tmp_path):
    w = RunWriter(tmp_path)
    response, scores = _rows(0)
    w.add(response, scores)
    w.add_scores([{**scores[0], "response_id": "orphan"}])
    w.finish()
    responses, stored = load_done(tmp_path)
    assert responses.num_rows == 1
    assert sorted(stored["response_id"].to_pylist()) == ["r0", "r0"]


def test_a_short_run_with_repeated_rows_keeps_the_last_and_drops_orphans(tmp_path):
    """The direct path (nothing flushed) de-duplicates exactly like the parts path when the rows need it."""
    w = RunWriter(tmp_path)
    response, scores = _rows(0)
    w.add(response, scores)
    w.add({**response, "output": "second"}, [{**scores[0], "reason": "second"}])
    w.add_scores([{**scores[0], "response_id": "orphan"}])
    r_path, s_path = w.finish()
    responses, stored = pq.read_table(r_path).to_pylist(), pq.read_table(s_path).to_pylist()
    assert [r["output"] for r in responses] == ["second"]
    assert sorted((s["scorer"], s["reason"]) for s in stored) == [("a", "second"), ("b", "")]
