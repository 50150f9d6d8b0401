"""`ends_with_period`: the entry point names only this module, which registers the scorer on import."""

from __future__ import annotations

from evalharness.scorers.base import Sample, Score, scorer


@scorer(name="ends_with_period", description="the output ends with a full stop (example plugin)")
def ends_with_period(args):
    def score(sample: Sample) -> Score:
        ok = (sample.output or "").rstrip().endswith(".")
        return Score(1.0 if ok else 0.0, ok)

    return score
