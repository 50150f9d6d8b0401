"""The one scoring path of `run` and `rescore`: a Sample and its bound scorers -> (scorer, Score) pairs.

Scorers split in two by `plan()`:

- inline: synchronous scorers that need no judge (the deterministic ones). They are cheap, so they
  are scored at once where the response is (`score_inline`, bind.score_all_sync underneath), without an
  event loop: `rescore`'s columnar fast path calls exactly this for suites that have nothing else.
- staged: everything that needs a judge (`BoundScorer.needs_judge`) or is async. Those run in the
  `ScoringStage`, a second pipeline stage: a generation worker hands its response over and goes on
  generating; the stage scores it (the staged scorers of one response concurrently, each judge
  limited only by its own client's concurrency), then hands the complete list on.

A response with an error fails every scorer inline (nothing to ask a judge). A scorer that raises is
that scorer's recorded error (`scorer error: ...`), never the run's. The stage holds at most `limit`
responses (`pending_limit`): `submit` waits for a free slot, which is the back-pressure on generation
when judges fall behind, so memory stays flat however many cases there are.

The stage owns one asyncio.TaskGroup, and the runner's generation workers are spawned into it too:
the first exception anywhere (a full disk in the writer) cancels everything else and is re-raised as
itself; a cancellation (Ctrl-C) cancels every task and waits for them. A response reaches its
`done` callback only complete (its row and every score together), so nothing is half-written.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from evalharness.scorers.base import Sample, Score
from evalharness.scorers.bind import BoundScorer, score_all, score_all_sync

Scored = list[tuple[BoundScorer, Score]]

DEFAULT_PENDING = 64  # responses in the scoring stage at once when no judge is involved (async scorers)
MAX_PENDING = 1024  # at most (memory: a response row and its Sample each)
# A judge with concurrency c is kept busy by ~c responses (each has one call outstanding at a time, e.g.
# faithfulness: claims, then verdicts). More would not be faster: the calls queue FIFO on the judge's
# slots, so every response's first call would go before any response's second, and nothing would be
# finished (written, resumable, shown) until the end. 2c leaves headroom for the gaps between calls.
PENDING_PER_JUDGE_SLOT = 2


class Plan:
    """Which of a case's scorers are scored inline and which in the scoring stage."""

    __slots__ = ("scorers", "inline", "staged", "inline_scorers")

    def __init__(self, scorers: tuple[BoundScorer, ...]):
        self.scorers = scorers
        self.staged = tuple(i for i, s in enumerate(scorers) if s.needs_judge or s.is_async)
        self.inline = tuple(i for i in range(len(scorers)) if i not in self.staged)
        self.inline_scorers = tuple(scorers[i] for i in self.inline)


_PLANS: dict[int, tuple[tuple, Plan]] = {}


def plan(scorers: tuple[BoundScorer, ...]) -> Plan:
    """The plan of a scorer tuple (cases of a suite share theirs, so this is one dict lookup)."""
    hit = _PLANS.get(id(scorers))
    if hit is not None and hit[0] is scorers:
        return hit[1]
    p = Plan(scorers)
    if len(_PLANS) > 10_000:  # bound: tuples of suites loaded long ago (tests, the UI) are dropped
        _PLANS.clear()
    _PLANS[id(scorers)] = (scorers, p)  # the tuple is kept alive with its plan: its id stays its own
    return p


def score_inline(p: Plan, sample: Sample, error: str | None) -> list[tuple[BoundScorer, Score | None]]:
    """Every scorer's pair, in the scorers' order; a staged scorer's Score is None (still to come),
    unless the response has an error (then every scorer fails now)."""
    if error is not None or not p.staged:  # score_all_sync calls no scorer for a response with an error
        return score_all_sync(p.scorers, sample, error)
    out: list = [(s, None) for s in p.scorers]
    for i, pair in zip(p.inline, score_all_sync(p.inline_scorers, sample, None)):
        out[i] = pair
    return out


def complete(scored: list) -> bool:
    """True when no score is left to the stage."""
    return all(sc is not None for _, sc in scored)


async def _one(s: BoundScorer, sample: Sample) -> Score:
    """One staged score; a scorer that raises fails its own score (score_all records it), not the run."""
    return (await score_all((s,), sample, None))[0][1]


async def score_staged(sample: Sample, scored: list) -> Scored:
    """Fill the staged scores (concurrently: each judge's client limits its own calls)."""
    todo = [k for k, (_, sc) in enumerate(scored) if sc is None]
    if len(todo) == 1:
        k = todo[0]
        scored[k] = (scored[k][0], await _one(scored[k][0], sample))
    elif todo:
        results = await asyncio.gather(*(_one(scored[k][0], sample) for k in todo))
        for k, sc in zip(todo, results):
            scored[k] = (scored[k][0], sc)
    return scored


async def score_sample(scorers: tuple[BoundScorer, ...], sample: Sample, error: str | None) -> Scored:
    """Score one response completely, here (what the stage does for one response)."""
    scored = score_inline(plan(scorers), sample, error)
    return scored if complete(scored) else await score_staged(sample, scored)


def pending_limit(services: Any) -> int:
    """Responses the scoring stage holds at once: enough to keep every judge's slots busy."""
    judges = getattr(services, "judges", None) or {}
    slots = sum(getattr(getattr(j, "config", None), "concurrency", 0) or 0 for j in judges.values())
    if not slots:
        return DEFAULT_PENDING
    return max(2, min(MAX_PENDING, PENDING_PER_JUDGE_SLOT * slots))


def first_error(e: BaseException) -> BaseException:
    """The first leaf of a (nested) exception group: callers see the exception itself (InfraError,
    OSError...), as they did before task groups."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


class ScoringStage:
    """The scoring stage: `submit` hands a response over; `done(scored)` is called with every pair
    once all its scores are in. `async with` it: on exit it waits for everything submitted."""

    def __init__(self, limit: int = DEFAULT_PENDING):
        if limit < 1:
            raise ValueError("the scoring stage needs a limit of at least 1")
        self.limit = limit
        self.pending = 0  # responses handed over, not yet done
        self.max_pending = 0  # the most ever held at once (never above `limit`)
        self.submitted = 0
        self._slots = asyncio.Semaphore(limit)
        self._tg = asyncio.TaskGroup()

    async def __aenter__(self) -> "ScoringStage":
        await self._tg.__aenter__()
        return self

    async def __aexit__(self, et, exc, tb):
        try:
            return await self._tg.__aexit__(et, exc, tb)
        except BaseExceptionGroup as eg:
            raise first_error(eg) from None

    def spawn(self, coro) -> asyncio.Task:
        """Run `coro` (a generation worker) in the stage's task group: it fails and is cancelled with it."""
        return self._tg.create_task(coro)

    async def submit(self, sample: Sample, scored: list, done: Callable[[Scored], None]) -> None:
        """Hand one response over; waits while `limit` responses are being scored (back-pressure).
        `scored` comes from `score_inline`; a complete one is passed to `done` at once."""
        if complete(scored):
            done(scored)
            return
        await self._slots.acquire()
        self.pending += 1
        self.submitted += 1
        if self.pending > self.max_pending:
            self.max_pending = self.pending
        try:
            self._tg.create_task(self._score(sample, scored, done))
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        self.pending -= 1
        self._slots.release()

    async def _score(self, sample: Sample, scored: list, done: Callable[[Scored], None]) -> None:
        try:
            done(await score_staged(sample, scored))
        finally:
            self._release()


class JudgeMeter:
    """Counts judge calls as they happen (done, in flight, waiting for a judge's slot) and reports them
    to the progress display. It wraps each judge's completion function once."""

    def __init__(self, on_change: Callable[[int, int, int], None] | None = None):
        self.done = 0
        self.on_change = on_change
        self._outstanding: dict[str, int] = {}
        self._limits: dict[str, int] = {}

    @property
    def in_flight(self) -> int:
        return sum(min(n, self._limits[j]) for j, n in self._outstanding.items())

    @property
    def waiting(self) -> int:
        return sum(n for n in self._outstanding.values()) - self.in_flight

    def attach(self, services: Any) -> "JudgeMeter":
        for name, judge in (getattr(services, "judges", None) or {}).items():
            inner = getattr(judge._complete, "_unmetered", judge._complete)
            self._limits[name] = max(1, getattr(judge.config, "concurrency", 1) or 1)
            self._outstanding[name] = 0
            judge._complete = self._wrap(name, inner)
        return self

    def _wrap(self, name: str, inner):
        async def metered(body, repeat):
            self._outstanding[name] += 1
            self._changed()
            try:
                return await inner(body, repeat)
            finally:
                self._outstanding[name] -= 1
                self.done += 1
                self._changed()

        metered._unmetered = inner  # type: ignore[attr-defined]
        return metered

    def _changed(self) -> None:
        if self.on_change is not None:
            in_flight = self.in_flight
            self.on_change(self.done, in_flight, sum(self._outstanding.values()) - in_flight)
