"""The right-size verdict: per category, the smallest target that passes every gate check of its suites."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evalharness.views.sizing import parse_size, right_size, right_size_document

TARGETS = [{"name": "big", "size": "7B"}, {"name": "tiny", "size": "135M"}, {"name": "mid", "size": "270m"},
           {"name": "unsized"}]


def check(suite, target, passed, **kw):
    return {"suite": suite, "target": target, "passed": passed, **kw}


def test_sizes_parse():
    assert parse_size("135M") == 135e6 and parse_size("7B") == 7e9 and parse_size("1.5b") == 1.5e9
    assert parse_size(None) is None and parse_size("large") is None


def test_smallest_passing_target_is_chosen_and_a_failing_category_says_none():
    cats = {"acc": "accuracy", "safe": "safety", "tools": "tool_calling"}
    checks = [check("acc", "tiny", False), check("acc", "mid", True), check("acc", "big", True),
              check("safe", "tiny", False), check("safe", "mid", False), check("safe", "big", False),
              check("safe", "unsized", False)]
    v = {r["category"]: r for r in right_size(checks, cats, TARGETS)}
    assert v["accuracy"]["target"] == "mid" and v["accuracy"]["size"] == "270m" and v["accuracy"]["meets_bar"]
    assert v["safety"]["target"] is None and "none meets the bar" in v["safety"]["note"]
    # No gate in a category: no bar, and no target is named (never a pass by omission).
    assert v["tool_calling"]["target"] is None and not v["tool_calling"]["meets_bar"]
    doc = right_size_document(list(v.values()), "run-1")
    assert doc["routes"]["accuracy"]["target"] == "mid" and set(doc["unrouted"]) == {"safety", "tool_calling"}


def test_the_note_names_a_best_model_only_when_one_passes_something():
    cats = {"t": "tool_calling", "s": "safety", "h": "hallucination"}
    checks = [check("t", "tiny", False), check("t", "mid", False),                 # nobody passes anything
              check("s", "tiny", True), check("s", "tiny", False),                  # tie at 1/2: smaller first
              check("s", "mid", True), check("s", "mid", False),
              check("h", "tiny", False), check("h", "big", True), check("h", "big", False)]
    v = {r["category"]: r for r in right_size(checks, cats, TARGETS)}
    assert v["tool_calling"]["note"] == "none meets the bar; no model passes any of its checks"
    assert v["safety"]["note"] == "none meets the bar; best is tiny (1/2 checks; tied with mid)"
    assert v["hallucination"]["note"] == "none meets the bar; best is big (1/2 checks)"


def test_every_check_of_every_suite_in_the_category_counts():
    cats = {"a1": "accuracy", "a2": "accuracy"}
    checks = [check("a1", "tiny", True), check("a2", "tiny", False), check("a1", "mid", True), check("a2", "mid", True)]
    assert right_size(checks, cats, TARGETS)[0]["target"] == "mid"


def test_regression_checks_do_not_decide_size():
    checks = [check("a", "tiny", True), check("a", "tiny", False, against="tiny@old")]
    assert right_size(checks, {"a": "accuracy"}, TARGETS)[0]["target"] == "tiny"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from([t["name"] for t in TARGETS]),
                          st.booleans()), max_size=30),
       st.dictionaries(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(["accuracy", "safety"]), min_size=1))
def test_verdict_is_the_smallest_target_passing_all_its_checks(raw, cats):
    checks = [check(s, t, p) for s, t, p in raw]
    rank = {t["name"]: (parse_size(t.get("size")) is None, parse_size(t.get("size")) or 0, i)
            for i, t in enumerate(TARGETS)}
    for r in right_size(checks, cats, TARGETS):
        mine = [c for c in checks if cats.get(c["suite"], "uncategorised") == r["category"]]
        ok = sorted({c["target"] for c in mine} - {c["target"] for c in mine if not c["passed"]}, key=rank.__getitem__)
        if ok:
            assert r["meets_bar"] and r["target"] == ok[0]
        else:
            assert not r["meets_bar"] and r["target"] is None


def test_a_run_of_two_targets_writes_its_verdict_and_routing_table(ui_runs):
    """Runs by the real engine (targets small and big, no sizes: run order decides): the verdict follows the gate."""
    import json

    import pandas as pd
    import yaml

    for run in ui_runs["runs"]:
        manifest = json.loads((run / "run.json").read_text())
        verdict = {v["category"]: v for v in manifest["right_size"]["verdict"]}
        assert set(verdict) == {"accuracy", "safety"}
        assert verdict["safety"]["target"] is None and "no gate" in verdict["safety"]["note"]  # harm has no gate
        checks = [c for c in manifest["gate"]["checks"] if c["suite"] == "qa"]
        passing = [t for t in ("small", "big") if all(c["passed"] for c in checks if c["target"] == t)]
        assert verdict["accuracy"]["target"] == (passing[0] if passing else None)
        routing = yaml.safe_load((run / "routing.yaml").read_text())
        assert routing["routes"]["accuracy"]["target"] == verdict["accuracy"]["target"]
        assert manifest["right_size"]["routing"] == str(run / "routing.yaml")
        # and the gate's own numbers: qa pass rate per target from the Parquet files
        scores = pd.read_parquet(run / "scores.parquet")
        rate = scores[scores.suite == "qa"].groupby(["target", "case_id"])["passed"].all().groupby("target").mean()
        assert passing == [t for t in ("small", "big") if rate[t] >= 0.5]
        # and the end of `evalharness run` says it: the verdict per category, then where the table is
        out = ui_runs["stdout"][run]
        assert "right size (per category" in out and f"routing table: {run / 'routing.yaml'}" in out
        assert ("accuracy       " + (verdict["accuracy"]["target"] or "none meets the bar")) in out
