"""The built-in judge templates (*.j2). Installed as the package `evalharness.judges.builtin` (see pyproject.toml)
and read through importlib.resources by evalharness/judges/templates.py."""
