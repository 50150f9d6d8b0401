"""evalharness UI: compare runs and models for sign-off. Start it with `evalharness ui`.

It reads only `run.json` and the Parquet files under the reports directory (EVALHARNESS_REPORTS) and
never calls a model. Model output and judge text are shown with st.text / st.code / st.json /
st.dataframe, which render text, never HTML or Markdown.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` from a checkout
    sys.path.insert(0, str(ROOT))

from app import pages  # noqa: E402
from app.data import catalog  # noqa: E402

PAGES = {"Runs": pages.runs, "Leaderboard": pages.leaderboard, "Right-size": pages.right_size,
         "Side by side": pages.side_by_side, "Trends": pages.trends}

st.set_page_config(page_title="evalharness", layout="wide")
reports = Path(os.environ.get("EVALHARNESS_REPORTS", "reports"))
cat = catalog(str(reports))

with st.sidebar:
    st.title("evalharness")
    st.caption("Reports directory")
    st.text(str(reports))
    page = st.radio("Page", list(PAGES), key="page")
    readable = cat.runs[cat.runs["readable"]]
    options = list(readable["run_id"])
    if options and not st.session_state.get("runs"):
        st.session_state["runs"] = options[:1]
    st.session_state["runs"] = [r for r in st.session_state.get("runs", []) if r in options]
    st.multiselect("Runs", options, key="runs", help="Newest first. Pick several to compare runs side by side.")

PAGES[page](cat, reports)
