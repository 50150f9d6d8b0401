"""Importing this module registers every built-in scorer."""

from evalharness.scorers import injection, judged, overlap, safety, structured, text, tools  # noqa: F401
