"""score_all (async) and score_all_sync give the same verdicts: normal, a raising scorer, a response error."""

import asyncio

from evalharness.scorers.base import Sample, Score
from evalharness.scorers.bind import BoundScorer, score_all, score_all_sync


def _bound(name, fn):
    return BoundScorer(name=name, type=name, fn=fn, is_async=False, threshold=None, negate=False, metric_only=False,
                       needs_judge=False, config={"type": name})


def _boom(sample):
    raise ZeroDivisionError("no")


SCORERS = (_bound("ok", lambda s: Score(1, True, "fine")), _bound("boom", _boom))


def _plain(scored):
    return [(b.name, sc.value, sc.passed, sc.reason) for b, sc in scored]


def test_sync_and_async_agree():
    sample = Sample(case_id="c", output="x")
    for error in (None, "HTTP 500: down"):
        sync = _plain(score_all_sync(SCORERS, sample, error))
        assert sync == _plain(asyncio.run(score_all(SCORERS, sample, error)))
        if error is None:
            assert sync == [("ok", 1.0, True, "fine"), ("boom", 0.0, False, "scorer error: ZeroDivisionError: no")]
        else:
            assert all(not passed and reason == f"response error: {error}" for _, _, passed, reason in sync)
