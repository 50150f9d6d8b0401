"""evalharness UI: compare runs and models for sign-off. Start it with `evalharness ui`.

It reads only `run.json` and the Parquet files under the reports directory (EVALHARNESS_REPORTS) and
never calls a model. Model output and judge text are shown with st.text / st.code / st.json /
st.dataframe, which render text, never HTML or Markdown.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script, so its siblings are imported by package name: `app` in a checkout
# (`streamlit run app/main.py`, or an editable install), `evalharness.app` from a wheel (pyproject.toml maps
# the top-level app/ there; `evalharness ui` finds this file with importlib.resources).
HERE = Path(__file__).resolve().parent
if HERE.name == "app" and (HERE.parent / "evalharness" / "__init__.py").is_file():  # <checkout>/app/main.py
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    PACKAGE = "app"
else:
    PACKAGE = "evalharness.app"

pages = importlib.import_module(f"{PACKAGE}.pages")
catalog = importlib.import_module(f"{PACKAGE}.data").catalog

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
