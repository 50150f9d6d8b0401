"""Cached loaders for the app (Streamlit caching around evalharness.views)."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from evalharness.views import cases, catalog as _catalog, tables


def _stamp(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


@st.cache_data(max_entries=10000, show_spinner=False)
def _run_row(path: str, stamps: tuple) -> dict:
    return _catalog.read_run(Path(path))


def _cached_row(run_dir: Path) -> dict:
    names = ("run.json", "responses.parquet", "scores.parquet")
    return _run_row(str(run_dir), tuple(_stamp(run_dir / n) for n in names))


def catalog(reports: str):
    """The run catalog. Each run's row is cached until its run.json or Parquet files change, so a rerun
    costs a directory listing and a few stat calls, and a finishing run shows its new status at once."""
    return _catalog.discover(Path(reports), read=_cached_row)


def _run_stamps(paths: list[str]) -> tuple:
    return tuple((p, _stamp(Path(p) / "scores.parquet"), _stamp(Path(p) / "responses.parquet")) for p in paths)


@st.cache_resource(max_entries=8, show_spinner="Loading results…")
def _verdicts(stamps: tuple):
    """(verdicts, scores) of the selected runs. Shared, not copied: callers must not modify them."""
    return tables.load_verdicts([Path(p) for p, _, _ in stamps])


@st.cache_resource(max_entries=16, show_spinner=False)
def _derived(stamps: tuple, what: str, *args):
    verdicts_ = _verdicts(stamps)[0]
    if what == "leaderboard":
        long = tables.leaderboard(verdicts_, *args)
        return long, tables.leaderboard_wide(long, *args)
    if what == "cost":
        return tables.cost_speed(verdicts_)
    if what == "quality_cost":
        from evalharness.views import sizing

        return sizing.quality_cost(verdicts_, *args)
    raise ValueError(what)


def derived(paths: list[str], what: str, *args):
    """Tables computed from the selected runs' verdicts, cached with them (leaderboard, cost, quality_cost)."""
    return _derived(_run_stamps(paths), what, *args)


@st.cache_resource(max_entries=4, show_spinner="Loading cases…")
def _cases(stamps: tuple):
    return cases.load_cases([Path(p) for p, _, _ in stamps])


def case_data(paths: list[str]):
    return _cases(_run_stamps(paths))


@st.cache_data(max_entries=2000, show_spinner=False)
def _summary(path: str, stamp: float):
    return tables.run_summary(Path(path))


def summaries(paths: list[str]) -> tuple[dict[str, list[dict]], list[str]]:
    out, problems = {}, []
    for p in paths:
        try:
            out[p] = _summary(p, _stamp(Path(p) / "run.json"))
        except Exception as e:  # noqa: BLE001 - one bad run must not hide the others
            problems.append(f"{Path(p).name}: {type(e).__name__}: {e}")
    return out, problems


@st.cache_data(max_entries=2000, show_spinner=False)
def _manifest(path: str, stamp: float) -> dict:
    import json

    return json.loads((Path(path) / "run.json").read_text(encoding="utf-8"))


def manifest(path: str) -> dict:
    """A run's run.json, cached until it changes."""
    return _manifest(path, _stamp(Path(path) / "run.json"))
