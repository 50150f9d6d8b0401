"""Rows in suite order: whatever order responses complete in (and however a run is interrupted and
resumed, sharded and merged, or rescored), both files end up sorted by suite, case, target, repeat."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness import api
from evalharness.results.writer import RunWriter, in_order
from tests.conftest import ServerProc, write

SCORERS = ("zeta", "alpha", "mid")  # a case's scorers, in its order (not alphabetical)


def _row(si: int, ci: int, ti: int, r: int) -> dict:
    # Names and ids sort against the run's order, so only the order columns can put rows right.
    return {"run_id": "R", "response_id": f"{(si * 7919 + ci * 104729 + ti * 31 + r) % 1000003:07d}",
            "suite": f"s{9 - si}", "case_id": f"c{99 - ci}", "target": f"t{9 - ti}", "repeat": r,
            "output": "x", "suite_index": si, "case_index": ci, "target_index": ti}


def _scores(row: dict, k: int) -> list[dict]:
    return [{"run_id": "R", "response_id": row["response_id"], "suite": row["suite"], "case_id": row["case_id"],
             "target": row["target"], "scorer": name, "score": 1.0, "passed": True, "metric_only": False}
            for name in SCORERS[:k]]


@st.composite
def runs(draw):
    cases = draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))  # cases per suite
    targets, repeats = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    keys = [(si, ci, ti, r) for si, n in enumerate(cases) for ci in range(n) for ti in range(targets)
            for r in range(repeats)]
    completed = draw(st.permutations(keys))
    stop = draw(st.integers(0, len(keys)))  # where the first process was interrupted
    return keys, completed, stop, draw(st.integers(1, 4)), draw(st.integers(1, 3))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_any_completion_order_and_resume_point_gives_the_suite_order(run):
    keys, completed, stop, batch, k = run
    # Sorting `keys` by (suite, case, target, repeat) is the run's order: they were built in it.
    with tempfile.TemporaryDirectory() as d:
        w = RunWriter(Path(d), batch_rows=batch, batch_seconds=3600)
        for key in completed[:stop]:
            row = _row(*key)
            w.add(row, _scores(row, k))
        # Interrupted here: rows still buffered are lost; a resumed process (a new writer on the same
        # folder) does what is not in a part yet.
        done = {p for p in (Path(d) / "parts").glob("responses-*.parquet")}
        stored = {r for p in done for r in pq.read_table(p)["response_id"].to_pylist()}
        w2 = RunWriter(Path(d), batch_rows=batch, batch_seconds=3600)
        for key in completed:
            row = _row(*key)
            if row["response_id"] not in stored:
                w2.add(row, _scores(row, k))
        r_path, s_path = w2.finish()
        responses = pq.read_table(r_path).to_pylist()
        scores = pq.read_table(s_path).to_pylist()
    got = [(r["suite_index"], r["case_index"], r["target_index"], r["repeat"]) for r in responses]
    assert got == keys
    assert [(s["response_id"], s["scorer"]) for s in scores] == \
        [(_row(*key)["response_id"], name) for key in keys for name in SCORERS[:k]]


def test_rows_without_order_columns_keep_their_order_after_the_others():
    import pyarrow as pa

    from evalharness.results.schema import RESPONSES

    rows = [_row(0, 1, 0, 0), {**_row(0, 5, 0, 0), "suite_index": None, "case_index": None},
            _row(0, 0, 0, 0), {**_row(0, 2, 0, 0), "suite_index": None, "case_index": None}]
    t, _ = in_order(pa.Table.from_pylist(rows, schema=RESPONSES))
    assert t["case_id"].to_pylist() == ["c99", "c98", "c94", "c97"]


ZZ = "name: zz\ncategory: accuracy\nscorers: [{type: exact, value: ok}, {type: contains, value: o}]\ncases:\n" + "".join(
    f"  - {{id: '{c}', input: q{c}, output: ok}}\n" for c in ("k9", "a1", "m5", "b2", "x0", "c3"))


def _aa(ids) -> str:
    return "name: aa\ncategory: accuracy\nscorers: [{type: exact, value: ok}]\ncases:\n" + "".join(
        f"  - {{id: '{c}', input: q, output: ok}}\n" for c in ids)


def _suites(tmp_path: Path) -> list[Path]:
    # A run's suites are in the loader's order (files by path): zz, then aa, which is neither the suite
    # names' order nor the order given here; case ids are not in their files' order either.
    a = write(tmp_path / "suites" / "a.yaml", ZZ)
    b = write(tmp_path / "suites" / "b.yaml", _aa(("9", "10", "1")))
    return [b, a]


def _keys(run_dir: Path) -> list[tuple]:
    t = pq.read_table(run_dir / "responses.parquet")
    return list(zip(*(t[c].to_pylist() for c in ("suite", "case_id", "target", "repeat"))))


def test_merged_shards_are_in_the_unsharded_runs_order(tmp_path):
    suites = _suites(tmp_path)
    sel = dict(repeats=2)
    whole = api.run(suites, targets=["recorded"], select=api.Selection(**sel), out=tmp_path / "w", cache=False)
    expected = [(s, c, "recorded", r) for s, ids in (("zz", ["k9", "a1", "m5", "b2", "x0", "c3"]), ("aa", ["9", "10", "1"]))
                for c in ids for r in (0, 1)]
    assert _keys(whole.run_dir) == expected
    parts = [api.run(suites, targets=["recorded"], select=api.Selection(shard=f"{i}/3", **sel),
                     out=tmp_path / "p", cache=False).run_dir for i in (1, 2, 3)]
    merged = api.merge(parts[::-1], tmp_path / "m" / "RUN")
    assert _keys(merged.run_dir) == expected
    r = pq.read_table(merged.run_dir / "responses.parquet")
    # case numbers come from the suite files, not from each shard's share of them
    assert r["case_index"].to_pylist() == [i for i in range(6) for _ in (0, 1)] + [i for i in range(3) for _ in (0, 1)]
    s = pq.read_table(merged.run_dir / "scores.parquet")
    assert s["case_id"].to_pylist()[:4] == ["k9", "k9", "k9", "k9"]  # two scorers x two repeats, in place
    assert s["scorer"].to_pylist()[:2] == ["exact", "contains"]


def test_rescore_orders_rows_by_the_suites_it_is_given(tmp_path):
    run = api.run(_suites(tmp_path), targets=["recorded"], out=tmp_path / "r", cache=False)
    assert [k[0] for k in _keys(run.run_dir)] == ["zz"] * 6 + ["aa"] * 3
    # The same cases in files that load the other way round, aa's cases in another order.
    new = [write(tmp_path / "s2" / "1.yaml", _aa(("1", "10", "9"))), write(tmp_path / "s2" / "2.yaml", ZZ)]
    again = api.rescore(run.run_dir, new, out=tmp_path / "rs", cache=False)
    keys = _keys(again.run_dir)
    assert [k[0] for k in keys] == ["aa"] * 3 + ["zz"] * 6
    assert [k[1] for k in keys] == ["1", "10", "9", "k9", "a1", "m5", "b2", "x0", "c3"]
    s = pq.read_table(again.run_dir / "scores.parquet")
    assert s["case_id"].to_pylist()[:5] == ["1", "10", "9", "k9", "k9"]


def test_a_real_run_whose_first_case_finishes_last_is_stored_in_suite_order(tmp_path):
    # The first case is answered 429 (Retry-After: 1 s) once, so with 4 workers the others complete first.
    cases = "  - {id: slow, input: 'FAULT:429once'}\n" + "".join(
        f"  - {{id: 'f{i}', input: 'REPLY=r{i}'}}\n" for i in range(7, 0, -1))
    s = write(tmp_path / "s.yaml", f"name: o\ncategory: accuracy\nscorers: [{{type: contains, value: r}}]\ncases:\n{cases}")
    server = ServerProc()
    try:
        res = api.run(s, targets=[api.Endpoint(server.base_url, "m")], out=api.Output(tmp_path / "r", batch_rows=1),
                      transport=api.Transport(concurrency=4, max_retries=3), cache=False)
        assert server.stats().get("429once") == 2  # it was retried: it really finished late
    finally:
        server.stop()
    keys = _keys(res.run_dir)
    assert [k[1] for k in keys] == ["slow"] + [f"f{i}" for i in range(7, 0, -1)]
    assert pq.read_table(res.run_dir / "responses.parquet")["case_index"].to_pylist() == list(range(8))
