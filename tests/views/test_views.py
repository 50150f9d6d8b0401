"""Pure view functions: Pareto frontier, routing, leaderboard best cells, case filters."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from evalharness.views import cases as cv
from evalharness.views import sizing, tables
from tests.conftest import run_cli


def verdicts(rows):
    """rows: (who, category, passed, latency_ms, tokens, tags)."""
    return pd.DataFrame([{"who": w, "category": c, "suite": c, "passed": p, "score": float(p), "latency_ms": lat,
                          "input_tokens": tok, "output_tokens": 0, "tags": tags}
                         for w, c, p, lat, tok, tags in rows])


V = verdicts(
    [("tiny", "accuracy", p, 10, 5, ["easy"]) for p in (1, 1, 1, 0)]        # 0.75, cheapest
    + [("mid", "accuracy", p, 50, 20, ["easy"]) for p in (1, 1, 1, 1)]      # 1.00
    + [("slow", "accuracy", p, 90, 30, ["easy"]) for p in (1, 1, 0, 0)]     # 0.50, dominated by mid
    + [("tiny", "safety", p, 10, 5, []) for p in (0, 0, 0, 1)]
    + [("mid", "safety", p, 50, 20, []) for p in (0, 1, 0, 1)]
    + [("slow", "safety", p, 90, 30, []) for p in (1, 1, 1, 0)]
)


def test_pareto_frontier_excludes_dominated_targets():
    qc = sizing.quality_cost(V, "category", "latency").set_index(["scope", "who"])
    assert qc.loc[("accuracy", "tiny"), "pareto"] and qc.loc[("accuracy", "mid"), "pareto"]
    assert not qc.loc[("accuracy", "slow"), "pareto"]  # mid is cheaper and better
    assert qc.loc[("safety", "slow"), "pareto"]  # best in safety
    assert qc.loc[("accuracy", "tiny"), "cost"] == 10


def test_routing_picks_cheapest_meeting_bar_and_names_unmet_scopes():
    qc = sizing.quality_cost(V, "category", "latency")
    r = sizing.routing(qc, 0.75, conservative=False).set_index("scope")
    assert r.loc["accuracy", "target"] == "tiny"  # 0.75 meets 0.75 and is the cheapest
    assert r.loc["safety", "target"] == "slow"
    r = sizing.routing(qc, 0.8, conservative=False).set_index("scope")
    assert r.loc["accuracy", "target"] == "mid"
    assert r.loc["safety", "target"] is None and not r.loc["safety", "meets_bar"]
    assert "best is slow at 0.750" in r.loc["safety", "note"]
    # a bar of 0 is a bar: everything meets it, the cheapest wins
    r0 = sizing.routing(qc, 0.0, conservative=False).set_index("scope")
    assert list(r0["target"]) == ["tiny", "tiny"]
    # conservative: the Wilson lower bound of 4/4 is ~0.51, so no target meets 0.8 any more
    rc = sizing.routing(qc, 0.8, conservative=True)
    assert not rc["meets_bar"].any()
    doc = sizing.routing_document(r.reset_index(), bar=0.8, scope="category", cost="latency", conservative=False, runs=["r1"])
    assert doc["routes"]["accuracy"]["target"] == "mid" and doc["unrouted"] == ["safety"]


def test_tag_scope_and_token_cost():
    qc = sizing.quality_cost(V, "tag", "tokens")
    assert set(qc["scope"]) == {"easy"}
    assert qc.set_index("who").loc["mid", "cost"] == 20
    with pytest.raises(ValueError, match="unknown cost"):
        sizing.quality_cost(V, "tag", "dollars")


def test_leaderboard_marks_best_cell_per_column():
    long = tables.leaderboard(V.assign(judge_tokens=0))
    best = long[long["best"]].set_index("category")["who"]
    assert best["accuracy"] == "mid" and best["safety"] == "slow"
    text, flags = tables.leaderboard_wide(long)
    assert text.loc["mid", "accuracy"].startswith("100% [") and flags.loc["mid", "accuracy"]
    assert not flags.loc["tiny", "accuracy"]


def test_case_filters():
    r = pd.DataFrame([
        {"suite": "s", "case_id": "a", "repeat": 0, "who": "base", "passed": True, "response_id": "1", "tags": ["x"],
         "messages": '[{"role": "user", "content": "hello"}]', "output": "fine"},
        {"suite": "s", "case_id": "a", "repeat": 0, "who": "cand", "passed": False, "response_id": "2", "tags": ["x"],
         "messages": '[{"role": "user", "content": "hello"}]', "output": "broken"},
        {"suite": "s", "case_id": "b", "repeat": 0, "who": "base", "passed": False, "response_id": "3", "tags": [],
         "messages": "[]", "output": "meh"},
        {"suite": "s", "case_id": "b", "repeat": 0, "who": "cand", "passed": True, "response_id": "4", "tags": [],
         "messages": "[]", "output": "good"},
    ])
    s = pd.DataFrame([{"response_id": "2", "scorer": "exact", "passed": False},
                      {"response_id": "4", "scorer": "exact", "passed": True}])
    d = cv.CaseData(r, s)
    assert cv.filter_keys(d, cv.Filters()) == [("s", "a", 0), ("s", "b", 0)]
    assert cv.filter_keys(d, cv.Filters(flipped_only=True, baseline="base")) == [("s", "a", 0)]
    assert cv.filter_keys(d, cv.Filters(flipped_only=True, baseline="cand")) == [("s", "b", 0)]
    assert cv.filter_keys(d, cv.Filters(tags=("x",))) == [("s", "a", 0)]
    assert cv.filter_keys(d, cv.Filters(scorer="exact", failed_only=True)) == [("s", "a", 0)]
    assert cv.filter_keys(d, cv.Filters(search="GOOD")) == [("s", "b", 0)]
    assert cv.messages_text('[{"role": "user", "content": "hello"}]') == "user: hello"
    assert "-fine" in cv.text_diff("fine", "broken", "a", "b")


def test_route_command(ui_runs, tmp_path):
    first, second = ui_runs["runs"]
    out = tmp_path / "routing.yaml"
    r = run_cli("route", str(second), "--bar", "0.9", "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr  # big passes everything in run 2
    doc = yaml.safe_load(out.read_text())
    assert doc["routes"]["accuracy"]["target"] == "big" and doc["routes"]["accuracy"]["pass_rate"] == 1.0
    assert doc["bar"] == 0.9 and doc["runs"] == [second.name]
    r = run_cli("route", str(first), "--bar", "0.5", "--by", "tag", "--cost", "tokens", "-o", str(out))
    doc = yaml.safe_load(out.read_text())
    assert set(doc["routes"]) == {"attack", "geography", "injection", "math"}
    assert doc["routes"]["geography"]["target"] in ("small", "big")
    r = run_cli("route", str(first), "--bar", "1.5")
    assert r.returncode == 2 and "--bar must be between 0 and 1" in r.stderr
    r = run_cli("route", str(first), "--bar", "0.5", "--by", "colour")
    assert r.returncode == 2 and "unknown scope" in r.stderr


def test_baseline_table_shows_both_sides_as_the_gate_paired_them():
    from evalharness.views.tables import BASELINE_COLUMNS, baseline_table

    delta = {"suite": "reg", "target": "B", "scope": "overall", "n": 40, "pass_a": 0.95, "pass_b": 0.65, "delta": -0.3,
             "ci_low": -0.45, "ci_high": -0.15, "p_value": 0.0005, "regressed": ["c1", "c2"], "improved": [],
             "baseline_target": "A", "baseline_run": "RUN_A"}
    t = baseline_table({"baseline": {"run": "RUN_A", "pairing": {"B": "A"},
                                     "deltas": [delta, {**delta, "scope": "tag:x"}]}})
    assert list(t.columns) == BASELINE_COLUMNS and len(t) == 1
    row = t.iloc[0]
    assert row["target"] == "B" and row["baseline"] == "A@RUN_A" and row["pass_to_fail"] == 2
    assert baseline_table({}).empty
