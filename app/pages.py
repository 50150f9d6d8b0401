"""The five pages. Data-derived strings go through st.text / st.code / st.json / st.dataframe, or through
`_md` where an element renders Markdown (alerts, captions, expander labels), so that a tag, suite, target,
model, scorer, reason or output named like `![x](http://host/beacon.png)` is shown as text, never fetched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st
import yaml

from . import data
from evalharness.views import cases as cv
from evalharness.views import sizing, tables

NO_RUNS = "No runs in this reports directory yet. Produce one with `evalharness run suites/`."


# Every ASCII punctuation character CommonMark can escape, and whitespace runs: escaped, no image, link,
# autolink, HTML, emphasis, directive (`:red[...]`, `:material/...:`) or heading survives.
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def _md(value) -> str:
    """Data as inert Markdown, for the Streamlit elements that render Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _s(v) -> str | None:
    """A nullable cell as str or None (pandas gives NaN or None for a missing string)."""
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def _problems(cat) -> None:
    if cat.problems:
        with st.expander(f"{len(cat.problems)} run(s) cannot be shown", expanded=True):
            for p in cat.problems:
                st.text("⚠ " + p)


def _selected(cat) -> list[str]:
    """Paths of the runs picked in the sidebar (only readable runs are offered)."""
    ids = st.session_state.get("runs") or []
    runs = cat.runs.set_index("run_id")
    return [runs.loc[i, "path"] for i in ids if i in runs.index]


def _paths(cat) -> list[str] | None:
    """The selected runs' folders, or None after saying why there is nothing to show."""
    if cat.runs.empty:
        st.info(NO_RUNS)
        return None
    paths = _selected(cat)
    if not paths:
        st.info("Pick one or more runs in the sidebar.")
        return None
    return paths


def _read(fn, *args):
    """Load through the cache; a file that broke after listing becomes a message, not a crash."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001
        st.error(f"Could not read the selected runs: {_md(type(e).__name__)}: {_md(e)}")
        return None


def runs(cat, reports: Path) -> None:
    st.header("Runs")
    _problems(cat)
    if cat.runs.empty:
        st.info(NO_RUNS)
        return
    view = cat.runs[["run_id", "started_at", "status", "gate", "suites", "targets", "models", "responses", "errors",
                     "git_sha", "problem"]].copy()
    view["git_sha"] = view["git_sha"].fillna("").str[:12]
    st.dataframe(view, hide_index=True, width="stretch", key="runs_table")
    st.caption(f"{len(cat.runs)} run(s); {int(cat.runs['readable'].sum())} readable. "
               "Pick runs in the sidebar to compare them.")
    for path in _selected(cat):
        manifest = _read(data.manifest, path)
        table = tables.baseline_table(manifest) if manifest else None
        if table is not None and len(table):
            st.subheader("Against the baseline")
            st.text(f"{Path(path).name} compared with its --baseline (the pairs the regression gate used)")
            st.dataframe(table, hide_index=True, width="stretch")


def leaderboard(cat, reports: Path) -> None:
    st.header("Leaderboard")
    paths = _paths(cat)
    if paths is None:
        return
    by = st.radio("Columns", ["category", "suite"], horizontal=True, key="lb_by")
    got = _read(data.derived, paths, "leaderboard", by)
    if got is None:
        return
    long, (text, best) = got
    if long.empty:
        st.info("The selected runs hold no responses.")
        return
    styled = text.style.apply(lambda _: best.map(lambda b: "font-weight: bold; background-color: #c8e6c9" if b else ""),
                              axis=None)
    st.caption("Each cell: pass rate [95% Wilson CI] · mean score (n responses). The best cell per column is green.")
    st.dataframe(styled, width="stretch", key="lb_table")
    lines = []
    for key, part in long.groupby(by, sort=True):
        top = part[part["best"]]
        lines.append(f"best {by} {key}: " + ", ".join(f"{w} {p:.0%}" for w, p in zip(top["who"], top["pass_rate"])))
    st.text("\n".join(lines))
    st.subheader("Cost and speed")
    cs = _read(data.derived, paths, "cost")
    if cs is not None:
        st.dataframe(cs.round(1), hide_index=True, width="stretch", key="cost_table")


def right_size(cat, reports: Path) -> None:
    st.header("Right-size")
    paths = _paths(cat)
    if paths is None:
        return
    for path in paths:  # the run's own verdict: per category, the smallest target meeting its suites' gates
        verdict = ((_read(data.manifest, path) or {}).get("right_size") or {}).get("verdict")
        if verdict:
            st.subheader(f"Gate verdict: {_md(Path(path).name)}")
            st.caption("Per category, the smallest target that passes every gate check of its suites "
                       "(size from the target's `size`), as written to the run's routing.yaml.")
            st.dataframe(pd.DataFrame([{"category": r["category"], "right size": r["target"] or "none",
                                        "size": r.get("size") or "", "checks passed": ", ".join(
                                            f"{k} {v}" for k, v in r["passed_checks"].items()), "note": r["note"]}
                                       for r in verdict]), hide_index=True, width="stretch", key=f"rs_gate_{path}")
    st.subheader("By pass rate and cost")
    c1, c2, c3, c4 = st.columns(4)
    scope = c1.selectbox("Per", list(sizing.SCOPES), key="rs_scope")
    cost = c2.selectbox("Cost axis", list(sizing.COSTS), format_func=sizing.COSTS.get, key="rs_cost")
    bar = c3.number_input("Bar (pass rate)", 0.0, 1.0, 0.9, 0.05, key="rs_bar")
    conservative = c4.checkbox("Use CI lower bound", key="rs_cons")
    qc = _read(data.derived, paths, "quality_cost", scope, cost)
    if qc is None:
        return
    if qc.empty:
        st.info("The selected runs hold no responses.")
        return
    route = sizing.routing(qc, bar, conservative)
    values = list(route["scope"])
    shown = st.selectbox("Chart", values, key="rs_value") if len(values) > 1 else values[0]
    pts = qc[qc["scope"] == shown]
    r = route[route["scope"] == shown].iloc[0]
    if r["meets_bar"]:
        st.success(f"Cheapest target meeting {bar:g} ({_md(shown)}): {_md(r['target'])}")
    else:
        st.warning(f"{_md(shown)}: {_md(r['note'])}")
    base = alt.Chart(pts).encode(
        x=alt.X("cost:Q", title=sizing.COSTS[cost]), y=alt.Y("pass_rate:Q", title="pass rate", scale=alt.Scale(domain=[0, 1])))
    dots = base.mark_circle(size=120).encode(
        color=alt.Color("who:N", title="target"),
        tooltip=["who", alt.Tooltip("pass_rate:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
                 alt.Tooltip("ci_high:Q", format=".3f"), "n", alt.Tooltip("cost:Q", format=".1f")])
    front = alt.Chart(pts[pts["pareto"]].sort_values("cost")).mark_line(strokeDash=[4, 3], color="gray").encode(
        x="cost:Q", y="pass_rate:Q")
    rule = alt.Chart(pd.DataFrame({"bar": [bar]})).mark_rule(color="red").encode(y="bar:Q")
    st.altair_chart(dots + front + rule, width="stretch")
    st.caption("Dashed: the Pareto frontier (no other target is both cheaper and better). Red: the bar.")
    st.subheader("Routing table")
    st.dataframe(route, hide_index=True, width="stretch", key="route_table")
    doc = sizing.routing_document(route, bar=bar, scope=scope, cost=cost, conservative=conservative,
                                  runs=list(st.session_state.get("runs") or []))
    st.download_button("Download routing.yaml", yaml.safe_dump(doc, sort_keys=False), "routing.yaml")


def _nav(n: int, signature: str) -> int:
    if st.session_state.get("sbs_sig") != signature:
        st.session_state["sbs_sig"] = signature
        st.session_state["sbs_idx"] = 1
    c1, c2, c3 = st.columns([1, 1, 4])
    if c1.button("◀ Previous", key="sbs_prev", disabled=n == 0):
        st.session_state["sbs_idx"] = max(1, st.session_state["sbs_idx"] - 1)
    if c2.button("Next ▶", key="sbs_next", disabled=n == 0):
        st.session_state["sbs_idx"] = min(n, st.session_state["sbs_idx"] + 1)
    st.session_state["sbs_idx"] = min(max(1, st.session_state.get("sbs_idx", 1)), max(n, 1))
    c3.number_input(f"Case (1–{n})", 1, max(n, 1), key="sbs_idx")
    return st.session_state["sbs_idx"] - 1


def side_by_side(cat, reports: Path) -> None:
    st.header("Side by side")
    paths = _paths(cat)
    cd = None if paths is None else _read(data.case_data, paths)
    if cd is None:
        return
    whos = sorted(cd.responses["who"].unique())
    all_tags = sorted({t for ts in cd.responses["tags"] for t in (ts if ts is not None else [])})
    c1, c2, c3 = st.columns(3)
    suites = c1.multiselect("Suite", sorted(cd.responses["suite"].unique()), key="sbs_suites")
    tags = c2.multiselect("Tag", all_tags, key="sbs_tags")
    scorer = c3.selectbox("Scorer", [None] + sorted(cd.scores["scorer"].unique()), key="sbs_scorer",
                          format_func=lambda s: "(any)" if s is None else s)
    c4, c5, c6, c7 = st.columns(4)
    failed = c4.checkbox("Failed only", key="sbs_failed")
    flipped = c5.checkbox("Flipped only (pass → fail)", key="sbs_flipped", disabled=len(whos) < 2)
    baseline = c6.selectbox("Baseline column", whos, key="sbs_baseline", disabled=len(whos) < 2)
    search = c7.text_input("Search", key="sbs_search")
    f = cv.Filters(tuple(suites), tuple(tags), scorer, failed, flipped, baseline, search)
    keys = cv.filter_keys(cd, f)
    st.text(f"{len(keys)} case(s) match")
    if not keys:
        return
    idx = _nav(len(keys), repr(f) + repr(paths))
    key = keys[idx]
    rows, scores = cv.case_rows(cd, key)
    st.text(f"suite {key[0]} · case {key[1]} · repeat {key[2]}")
    first = rows.iloc[0]
    st.caption("Input")
    st.code(cv.messages_text(first["messages"]), language=None, wrap_lines=True)
    cols = st.columns(len(rows))
    for col, r in zip(cols, rows.itertuples()):
        with col:
            error, calls = _s(r.error), _s(r.tool_calls)
            verdict = "ERROR" if error is not None else ("PASS" if r.passed else "FAIL")
            latency = "" if pd.isna(r.latency_ms) else f"  ·  {r.latency_ms:.0f} ms"
            st.text(f"{r.who}  ·  {verdict}{latency}")
            if error is not None:
                st.text("error: " + error)
            st.code(_s(r.output) or "", language=None, wrap_lines=True)
            if calls:
                try:
                    st.json(json.loads(calls), expanded=False)
                except ValueError:
                    st.code(calls, language=None)
            sc = scores[r.who]
            st.dataframe(sc[["scorer", "score", "passed", "reason"]], hide_index=True, width="stretch")
            for j in sc[sc["verdict"].notna() | sc["judge_error"].notna()].itertuples():
                with st.expander("judge verdict: " + _md(j.scorer)):
                    st.text(f"judge model: {_s(j.judge_model)}")
                    if _s(j.judge_error) is not None:
                        st.text("judge error: " + _s(j.judge_error))
                    try:
                        st.json(json.loads(_s(j.verdict) or "null"), expanded=True)
                    except ValueError:
                        st.code(_s(j.verdict), language=None)
    if len(rows) >= 2:
        a = rows[rows["who"] == baseline].iloc[0] if baseline in set(rows["who"]) else rows.iloc[0]
        for _, b in rows[rows["who"] != a["who"]].iterrows():
            st.caption(f"Diff: {_md(a['who'])} → {_md(b['who'])}")
            st.code(cv.text_diff(_s(a["output"]) or "", _s(b["output"]) or "", a["who"], b["who"]), language="diff")


def trends(cat, reports: Path) -> None:
    st.header("Trends")
    if cat.runs.empty:
        st.info(NO_RUNS)
        return
    readable = cat.runs[cat.runs["readable"]]
    sums, problems = data.summaries(list(readable["path"]))
    for p in problems:
        st.text("⚠ " + p)
    tr = tables.trends(readable, sums)
    if tr.empty:
        st.info("No readable runs with results.")
        return
    suites = st.multiselect("Suite", sorted(tr["suite"].dropna().unique()), key="tr_suites")
    if suites:
        tr = tr[tr["suite"].isin(suites)]
    tr = tr.assign(series=tr["suite"] + " · " + tr["target"])
    chart = alt.Chart(tr).mark_line(point=True).encode(
        x=alt.X("started_at:T", title="run started"), y=alt.Y("pass_rate:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("series:N", title="suite · target"),
        tooltip=["run_id", "git_sha", "models", "suite", "target", alt.Tooltip("pass_rate:Q", format=".3f"),
                 "responses"])
    st.altair_chart(chart, width="stretch")
    st.dataframe(tr.drop(columns=["series"]), hide_index=True, width="stretch", key="trends_table")
