"""Bind a scorer spec from a suite to its registered factory, with threshold and negation."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalharness.scorers.base import Sample, Score, ScoreFn, get_scorer


@dataclass(frozen=True)
class BoundScorer:
    name: str
    type: str
    fn: ScoreFn = field(repr=False)
    is_async: bool
    threshold: float | None
    negate: bool
    metric_only: bool
    needs_judge: bool
    config: dict[str, Any]  # the spec as written: recorded so a run can be re-scored

    def finalize(self, raw: Score) -> Score:
        if raw.metadata.get("judge_error") or raw.metadata.get("judge_manipulation"):
            # a judge error, or an answer that tried to talk its grader into a score, never passes, negated or not
            return Score(0.0, False, raw.reason, raw.metadata)
        value = float(raw.value)
        if math.isnan(value):
            return Score(0.0, False, f"scorer returned NaN: {raw.reason}", raw.metadata)
        if not self.negate and self.threshold is None and 0.0 <= value <= 1.0 and type(raw.passed) is bool:
            return raw if type(raw.value) is float else Score(value, raw.passed, raw.reason, raw.metadata)
        value = min(1.0, max(0.0, value))
        passed, reason = bool(raw.passed), raw.reason
        if self.negate:
            value, passed, reason = 1.0 - value, not passed, f"NOT ({reason})"
        if self.threshold is not None:
            passed = value >= self.threshold
            reason = f"{reason} [score {value:.3f} {'>=' if passed else '<'} threshold {self.threshold:g}]"
        return Score(value, passed, reason, raw.metadata)

    async def score(self, sample: Sample) -> Score:
        raw = await self.fn(sample) if self.is_async else self.fn(sample)
        return self.finalize(raw)

    def score_sync(self, sample: Sample) -> Score:
        fn = getattr(self.fn, "sync", None) if self.is_async else self.fn
        if fn is None:
            raise TypeError(f"scorer '{self.type}' is async only: it cannot score synchronously")
        return self.finalize(fn(sample))


def failed_score(error: str | None, exc: Exception | None) -> Score:
    """A response error fails every scorer; so does a scorer that raises (it must not pass a case or stop the run)."""
    if exc is None:
        return Score(0.0, False, f"response error: {error}")
    return Score(0.0, False, f"scorer error: {type(exc).__name__}: {exc}")


async def score_all(scorers: tuple[BoundScorer, ...], sample: Sample, error: str | None) -> list[tuple[BoundScorer, Score]]:
    out = []
    for s in scorers:
        if error is not None:
            out.append((s, failed_score(error, None)))
            continue
        try:
            out.append((s, await s.score(sample)))
        except Exception as e:  # noqa: BLE001
            out.append((s, failed_score(error, e)))
    return out


def score_one_sync(s: BoundScorer, sample: Sample) -> Score:
    try:
        return s.score_sync(sample)
    except Exception as e:  # noqa: BLE001
        return failed_score(None, e)


def score_all_sync(scorers: tuple[BoundScorer, ...], sample: Sample, error: str | None) -> list[tuple[BoundScorer, Score]]:
    """`score_all` for scorers that are all synchronous (deterministic ones): no event loop needed."""
    if error is not None:
        return [(s, failed_score(error, None)) for s in scorers]
    return [(s, score_one_sync(s, sample)) for s in scorers]


class ScorerConfigError(ValueError):
    """A scorer spec that is well-formed but wrong (names the offending field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


_CACHE: dict[str, BoundScorer] = {}


class ScorerSpec(Protocol):
    """A scorer entry as the suite format gives it (suite/model.py defines the model; scorers sit below
    the suite format and only need this much of it)."""

    type: str
    name: str | None
    threshold: float | None
    negate: bool
    metric_only: bool

    def model_dump(self, **kwargs) -> dict[str, Any]: ...

    def scorer_args(self) -> dict[str, Any]: ...


def bind(spec: ScorerSpec) -> BoundScorer:
    """Build (or reuse) the scorer for a spec. Raises UnknownScorer or pydantic.ValidationError."""
    config = spec.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    config["type"] = spec.type
    key = json.dumps(config, sort_keys=True, default=str)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if ":" in spec.type:  # ragas:<metric>, deepeval:<metric>: optional libraries, imported only now
        from evalharness.scorers.adapters import AdapterError, adapter_info

        try:
            info = adapter_info(spec.type)
        except AdapterError as e:
            raise ScorerConfigError("type", str(e)) from None
    else:
        info = get_scorer(spec.type)
    args = info.args.model_validate(spec.scorer_args())
    threshold = spec.threshold
    if threshold is not None:
        if info.threshold_scale is not None:
            lo, hi = info.threshold_scale(args)
            if not lo <= threshold <= hi:
                raise ScorerConfigError("threshold", f"threshold {threshold:g} is outside the scale {lo:g}-{hi:g}")
            threshold = (threshold - lo) / (hi - lo)
        elif not 0 <= threshold <= 1:
            raise ScorerConfigError("threshold", f"threshold {threshold:g} must be between 0 and 1")
    fn = info.build(args)
    name = spec.name or (f"not_{spec.type}" if spec.negate else spec.type)
    bound = BoundScorer(
        name=name,
        type=spec.type,
        fn=fn,
        is_async=info.is_async(fn),
        threshold=threshold,
        negate=spec.negate,
        metric_only=spec.metric_only,
        needs_judge=info.needs_judge,
        config=config,
    )
    _CACHE[key] = bound
    return bound


def with_unique_names(scorers: list[BoundScorer]) -> tuple[BoundScorer, ...]:
    """Suffix repeated names (`contains`, `contains_2`) so each score row is addressable."""
    seen: dict[str, int] = {}
    out = []
    for s in scorers:
        n = seen.get(s.name, 0) + 1
        seen[s.name] = n
        if n > 1:
            from dataclasses import replace

            s = replace(s, name=f"{s.name}_{n}")
        out.append(s)
    return tuple(out)
