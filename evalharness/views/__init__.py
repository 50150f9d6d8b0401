"""Read-only views over `reports/` for the UI and `evalharness route`: no Streamlit, no model calls."""
