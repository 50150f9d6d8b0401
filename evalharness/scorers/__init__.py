"""Scorers: stateless functions from a Sample to a Score, registered with metadata."""

from evalharness.scorers.base import Sample, Score, all_scorers, get_scorer, scorer

__all__ = ["Sample", "Score", "all_scorers", "get_scorer", "scorer"]
