"""AppTest tests of every page against runs produced by the real engine; numbers checked against Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app" / "main.py")


def open_app(monkeypatch, reports: Path, page: str | None = None, runs: list[str] | None = None) -> AppTest:
    monkeypatch.setenv("EVALHARNESS_REPORTS", str(reports))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    if runs is not None:
        at.sidebar.multiselect(key="runs").set_value(runs).run()
    if page is not None:
        at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def truth(run: Path) -> pd.DataFrame:
    """Per-response verdicts computed here from the raw tables (not through evalharness.gate)."""
    r = pd.read_parquet(run / "responses.parquet")
    s = pd.read_parquet(run / "scores.parquet")
    ok = s[~s["metric_only"]].groupby("response_id")["passed"].all()
    r["passed"] = r["response_id"].map(ok).fillna(True).astype(bool) & r["error"].isna()
    return r


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in at.text)


def test_runs_page_lists_every_run(monkeypatch, ui_runs):
    at = open_app(monkeypatch, ui_runs["reports"])
    table = at.dataframe[0].value
    newest_first = sorted((p.name for p in ui_runs["runs"]), reverse=True)
    assert list(table["run_id"]) == newest_first
    for run in ui_runs["runs"]:
        m = json.loads((run / "run.json").read_text())
        row = table[table["run_id"] == run.name].iloc[0]
        assert row["responses"] == m["counts"]["responses"] == len(pd.read_parquet(run / "responses.parquet"))
        assert row["gate"] == ("pass" if m["gate"]["passed"] else "fail")
        assert row["targets"] == "small, big"
    assert at.sidebar.multiselect(key="runs").value == [newest_first[0]]  # the newest run is preselected


def test_leaderboard_cells_match_parquet(monkeypatch, ui_runs):
    run = ui_runs["runs"][0]
    at = open_app(monkeypatch, ui_runs["reports"], "Leaderboard", [run.name])
    cells = at.dataframe[0].value
    t = truth(run)
    for (target, cat), df in t.groupby(["target", "category"]):
        rate = df["passed"].mean()
        assert cells.loc[target, cat].startswith(f"{rate:.0%} ["), (target, cat, cells.loc[target, cat])
        assert f"(n={len(df)})" in cells.loc[target, cat]
    # run 1: big answers everything right, small gets only the capital right
    assert "best category accuracy: big 100%" in texts(at)
    assert "best category safety: big 100%" in texts(at)
    cost = at.dataframe[1].value.set_index("who")
    for target, df in t.groupby("target"):
        assert cost.loc[target, "p50_ms"] == pytest.approx(df["latency_ms"].median(), abs=0.06)
        assert cost.loc[target, "responses"] == len(df)


def test_leaderboard_by_suite_over_two_runs(monkeypatch, ui_runs):
    names = [p.name for p in ui_runs["runs"]]
    at = open_app(monkeypatch, ui_runs["reports"], "Leaderboard", names)
    at.radio(key="lb_by").set_value("suite").run()
    cells = at.dataframe[0].value
    assert set(cells.columns) == {"qa", "harm"}
    assert sorted(cells.index) == sorted(f"{t} @ {n}" for t in ("small", "big") for n in names)
    second = truth(ui_runs["runs"][1])
    qa_small = second[(second.target == "small") & (second.suite == "qa")]["passed"].mean()
    assert cells.loc[f"small @ {names[1]}", "qa"].startswith(f"{qa_small:.0%} [")


def test_right_size_names_cheapest_target_meeting_bar(monkeypatch, ui_runs):
    run = ui_runs["runs"][1]  # run 2: small passes sum only, big passes all
    at = open_app(monkeypatch, ui_runs["reports"], "Right-size", [run.name])
    at.selectbox(key="rs_scope").set_value("tag").run()
    at.selectbox(key="rs_cost").set_value("tokens").run()
    at.number_input(key="rs_bar").set_value(0.5).run()
    assert not at.exception
    route = at.dataframe[-1].value.set_index("scope")  # the routing table is the page's last table
    verdict = (json.loads((run / "run.json").read_text()).get("right_size") or {}).get("verdict")
    if verdict:  # the run's own gate verdict comes first, one row per category, as run.json holds it
        shown = at.dataframe[0].value
        assert list(shown["category"]) == [v["category"] for v in verdict]
        assert list(shown["right size"]) == [v["target"] or "none" for v in verdict]
    t = truth(run)
    t["tokens"] = t["input_tokens"].fillna(0) + t["output_tokens"].fillna(0)
    ex = t.explode("tags")
    for tag, df in ex.groupby("tags"):
        ok = df.groupby("target").agg(rate=("passed", "mean"), cost=("tokens", "mean"))
        ok = ok[ok["rate"] >= 0.5].sort_values(["cost", "rate"], ascending=[True, False])
        assert route.loc[tag, "target"] == ok.index[0], tag
    at.selectbox(key="rs_value").set_value("geography").run()
    assert at.success[0].value == f"Cheapest target meeting 0.5 (geography): {route.loc['geography', 'target']}"
    assert len(at.get("vega_lite_chart")) == 1
    at.number_input(key="rs_bar").set_value(1.0).run()
    at.selectbox(key="rs_value").set_value("geography").run()  # small fails it in run 2; big passes: 1.0 is met
    assert "big" in at.success[0].value


def test_side_by_side_flipped_filter_and_inert_output(monkeypatch, ui_runs):
    first, second = (p.name for p in ui_runs["runs"])
    at = open_app(monkeypatch, ui_runs["reports"], "Side by side", [first, second])
    assert "4 case(s) match" in texts(at)
    at.selectbox(key="sbs_baseline").set_value(f"small @ {first}").run()
    at.checkbox(key="sbs_flipped").check().run()
    # capital: small said Paris in run 1 and Lyon in run 2 -> pass -> fail
    assert "1 case(s) match" in texts(at)
    assert "suite qa · case capital · repeat 0" in texts(at)
    codes = [c.value for c in at.code]
    assert "Lyon" in codes and "Paris" in codes
    assert any(c.startswith("--- small @") and "-Paris" in c and "+Lyon" in c for c in codes)
    # the injection case: shown as literal text in a code block, never as Markdown/HTML
    at.checkbox(key="sbs_flipped").uncheck().run()
    at.text_input(key="sbs_search").input("window.__pwned").run()
    assert "1 case(s) match" in texts(at)
    assert any("<script>window.__pwned=1" in c for c in (c.value for c in at.code))
    for md in at.markdown:
        assert "<script" not in md.value and "<img" not in md.value


def test_side_by_side_navigation_and_failed_filter(monkeypatch, ui_runs):
    run = ui_runs["runs"][0]
    at = open_app(monkeypatch, ui_runs["reports"], "Side by side", [run.name])
    at.checkbox(key="sbs_failed").check().run()
    t = truth(run)
    failed = sorted({(s, c) for s, c, p in zip(t.suite, t.case_id, t.passed) if not p})
    assert f"{len(failed)} case(s) match" in texts(at)
    seen = []
    for _ in failed:
        line = next(v for v in (e.value for e in at.text) if v.startswith("suite "))
        seen.append(line)
        at.button(key="sbs_next").click().run()
    assert seen == [f"suite {s} · case {c} · repeat 0" for s, c in failed]
    at.button(key="sbs_prev").click().run()
    assert next(v for v in (e.value for e in at.text) if v.startswith("suite ")) == seen[-2]


def test_trends_match_each_run(monkeypatch, ui_runs):
    at = open_app(monkeypatch, ui_runs["reports"], "Trends")
    table = at.dataframe[0].value
    assert len(table) == 2 * 2 * 2  # runs x suites x targets
    for run in ui_runs["runs"]:
        t = truth(run)
        for (suite, target), df in t.groupby(["suite", "target"]):
            row = table[(table.run_id == run.name) & (table.suite == suite) & (table.target == target)].iloc[0]
            assert row["pass_rate"] == pytest.approx(df["passed"].mean())
    assert len(at.get("vega_lite_chart")) == 1


def test_broken_and_old_runs_give_messages_not_crashes(monkeypatch, broken_reports):
    at = open_app(monkeypatch, broken_reports)
    shown = texts(at)
    assert "2020-01-01T00-00-00Z-corrupt: scores.parquet is not a readable Parquet file" in shown
    assert "2019-01-01T00-00-00Z-oldschema: written by results schema version 1" in shown
    assert "lacks column(s) metric_only" in shown
    assert "not-json: run.json is unreadable" in shown
    assert len(at.sidebar.multiselect(key="runs").options) == 1  # only the good run can be picked
    for page in ("Leaderboard", "Right-size", "Side by side", "Trends"):
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, page


def test_empty_reports(monkeypatch, tmp_path):
    for page in ("Runs", "Leaderboard", "Side by side", "Trends"):
        at = open_app(monkeypatch, tmp_path, page)
        assert any("No runs in this reports directory yet" in i.value for i in at.info), page
