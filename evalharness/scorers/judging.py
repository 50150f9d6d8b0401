"""What every judge scorer shares: the common options (`JudgeArgs`), one judgement per judge and repeat
(`Outcome`), the loop over repeats and panels (`judged`), the answer-addresses-its-grader check that
fails an answer before any judge sees it (`manipulation_guard`), and the texts a template is given."""


from __future__ import annotations

import asyncio
import json
import statistics
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal

from pydantic import Field

from evalharness.judges.client import Judge, JudgeServices, verdict_json
from evalharness.judges.manipulation import FLAG, detect_cached
from evalharness.judges.outcome import redact
from evalharness.scorers.base import Sample, Score, ScorerArgs



class JudgeArgs(ScorerArgs):
    judge: str = Field("default", description="which judge (a name under `judges:`)")
    judge_repeats: int = Field(1, ge=1, le=20, description="ask the judge N times; the score is the mean")
    panel: list[str] | None = Field(None, min_length=1, description="several judges instead of one")
    aggregate: Literal["mean", "majority"] = Field("mean", description="how a panel's verdicts combine")
    template: str | None = Field(None, description="a built-in template's name (judges/<name>.j2), or your own jinja2 "
                                 "file, relative to the suite file and inside the suite root",
                                 json_schema_extra={"suite_path": True})
    pass_at: float = Field(0.5, ge=0, le=1, description="score needed to pass when no `threshold` is set")
    manipulation_check: bool = Field(True, description="fail (score 0, `judge_manipulation`) an answer that addresses "
                                     "its grader, without asking the judge; turn off only when the answers are "
                                     "themselves verdicts (evaluating a judge)")
    differential: bool = Field(True, description="differential judging: when the answer has clauses that could speak "
                               "to its grader (and was not failed by the check), judge it also without them and keep "
                               "the worse verdict; at most one extra judgement per judgement. Off with "
                               "`manipulation_check: false` too")


@dataclass
class Outcome:
    """One judge's answer for one repeat: a value in [0, 1] or an error."""

    value: float | None
    reason: str = ""
    verdict: Any = None
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    differential: dict[str, Any] | None = None  # set when the answer was judged twice (see `differential`)


OneJudgement = Callable[[Judge, int], Awaitable[Outcome]]


def judge_services_of(s: Sample) -> JudgeServices:
    if s.services is None:
        raise LookupError("no judge is configured for this run")
    return s.services


async def judged(s: Sample, a: JudgeArgs, kind: str, one: OneJudgement) -> Score:
    """Run `one` for every judge of the panel and every repeat, then aggregate."""
    services = judge_services_of(s)
    names = getattr(a, "panel", None) or [a.judge]  # library adapters have one judge
    judges = [services.judge(n) for n in names]
    outcomes = await asyncio.gather(*(one(j, r) for j in judges for r in range(a.judge_repeats)))
    per_judge: dict[str, list[Outcome]] = {}
    for j, o in zip([j for j in judges for _ in range(a.judge_repeats)], outcomes):
        per_judge.setdefault(j.name, []).append(o)
        j.stats.errors += o.error is not None
    tokens_in = sum(o.input_tokens for o in outcomes)
    tokens_out = sum(o.output_tokens for o in outcomes)
    record: dict[str, Any] = {"kind": kind, "judges": {}}
    twice = [o.differential for o in outcomes if o.differential]
    if twice:
        record["differential"] = {"judged_twice": len(twice), "redacted_counted": sum(d["counted"] == "redacted" for d in twice)}
    means: dict[str, float] = {}
    for name, outs in per_judge.items():
        vals = [o.value for o in outs if o.value is not None]
        entry = {"values": vals, "errors": [o.error for o in outs if o.error],
                 "verdicts": [o.verdict for o in outs], **{k: v for o in outs for k, v in o.extra.items()}}
        if any(o.differential for o in outs):
            entry["differential"] = [o.differential for o in outs]
        if vals:
            means[name] = statistics.fmean(vals)
            entry["mean"] = means[name]
            entry["spread"] = statistics.pstdev(vals) if len(vals) > 1 else 0.0
            services.judge(name).stats.scores.setdefault(kind, []).append(means[name])
        record["judges"][name] = entry
    meta = {"judge_model": ",".join(dict.fromkeys(j.model for j in judges)),
            "judge_input_tokens": tokens_in, "judge_output_tokens": tokens_out}
    if not means:
        err = next(o.error for o in outcomes if o.error)
        meta.update(verdict=verdict_json(record), judge_error=err)
        return Score(0.0, False, f"judge error: {err}", meta)
    value = statistics.fmean(means.values())
    if a.aggregate == "majority":
        votes = [m >= a.pass_at for m in means.values()]
        passed = sum(votes) * 2 > len(votes)
    else:
        passed = value >= a.pass_at
    if len(means) > 1:
        record["lean"] = {n: m - value for n, m in means.items()}
    record["score"] = value
    meta["verdict"] = verdict_json(record)
    first = next(o for o in outcomes if o.value is not None)
    reason = first.reason
    if twice and record["differential"]["redacted_counted"]:
        reason += (f" [differential judging: the verdict on the answer without the clauses that could speak to its "
                   f"grader counted in {record['differential']['redacted_counted']}/{len(twice)} judgement(s)]")
    if len(outcomes) > 1:
        spreads = [record["judges"][n]["spread"] for n in means]
        reason += f" [{len(means)} judge(s) x {a.judge_repeats} repeat(s): mean {value:.3f}, max spread {max(spreads):.3f}]"
    return Score(value, passed, reason, meta)


def asked(s: Sample) -> tuple[str, str]:
    """What the case asked for (system and user messages) and its reference material (expected output, the
    tools' schemas): a score or a `score` field named there is the answer's business, not the grader's."""
    parts = []
    for m in s.messages or []:
        if m.get("role") in ("system", "developer", "user"):
            c = m.get("content")
            parts.append(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False, default=str))
    ref = [] if s.expected is None else [s.expected if isinstance(s.expected, str)
                                        else json.dumps(s.expected, ensure_ascii=False, default=str)]
    if s.tools:
        ref.append(json.dumps(s.tools, ensure_ascii=False, default=str))
    return "\n".join(parts)[-20_000:], "\n".join(ref)[:20_000]


def manipulation_guard(s: Sample, a: "JudgeArgs | Any", kind: str, text: str | None, *, who: str = "answer",
                       count: bool = True) -> Score | None:
    """Score 0 with the `judge_manipulation` flag when `text` addresses its grader; None otherwise.
    The judge is not asked; each of the scorer's judges counts it (stats `manipulation`)."""
    if not a.manipulation_check or not text:
        return None
    question, reference = asked(s)
    found = detect_cached(text, question, reference)
    if not found.flagged:
        return None
    names = getattr(a, "panel", None) or [a.judge]  # library adapters have one judge
    if count and s.services is not None:
        for n in dict.fromkeys(names):
            try:
                s.services.judge(n).stats.manipulation += 1
            except LookupError:
                pass
    record = {"kind": kind, "flag": FLAG, "who": who, "signals": list(found.signals), "view": found.view,
              "evidence": found.evidence[:200], "judges": {}}
    return Score(0.0, False, found.reason(), {"verdict": verdict_json(record), FLAG: True})


def differential_text(s: Sample, a: "JudgeArgs | Any", text: str | None) -> str | None:
    """The second line of the manipulation guard, for answers it did not flag: `text` without every clause that
    could speak to its grader (judges/outcome.py `redact`), or None when nothing was removed or the check is off.
    A judge scorer that judges this text as well and keeps the lower verdict cannot be raised by an
    instruction the detector did not recognise (differential judging)."""
    if not getattr(a, "manipulation_check", True) or not text:
        return None
    question, reference = asked(s)
    shadow = redact(text, question, reference)
    return shadow if shadow != text.strip() else None


OnText = Callable[[Judge, int, str], Awaitable[Outcome]]  # one judgement of the given answer text


def _count(judge: Judge, key: str) -> None:
    st = judge.stats  # JudgeStats declares `differential` and `differential_lower`; as_dict puts them in run.json
    setattr(st, key, getattr(st, key, 0) + 1)


def differential(s: Sample, a: "JudgeArgs | Any", on: OnText, *, rule: Literal["lower", "agree"] = "lower") -> OneJudgement:
    """Differential judging, the one implementation every judge scorer uses: `on` judges a text; the judgement
    returned judges the answer and, when `differential_text` removed something from it (and `differential` is on),
    the redacted answer too, with one more judgement (never more), and keeps the worse verdict:
    - rule "lower": the lower value counts (a score where higher passes);
    - rule "agree": the verdicts must agree, else a judge error (a label whose good side depends on `not:`,
      as refusal_judge's; a judge error never passes, negated or not); when nothing is left of the answer,
      it is judged once.
    Fails closed: an error on the redacted judgement is the judgement's error, so a verdict raised by an
    instruction the detector missed cannot survive by making the second judgement fail. Counted in the judge's
    stats: `differential` (judged twice), `differential_lower` (the redacted verdict counted or disagreed)."""
    shadow = differential_text(s, a, s.output) if getattr(a, "differential", True) else None
    if rule == "agree" and shadow is not None and not shadow.strip():
        shadow = None  # nothing left to label ("Please consult your doctor."): the answer's own label counts

    async def one(judge: Judge, repeat: int) -> Outcome:
        whole = await on(judge, repeat, s.output)
        if shadow is None or whole.value is None:
            return whole
        other = await on(judge, repeat, shadow)
        _count(judge, "differential")
        return keep_worse(judge, whole, other, rule)

    return one


def keep_worse(judge: Judge, whole: Outcome, other: Outcome, rule: str = "lower") -> Outcome:
    """The counted judgement of a pair (the answer, the answer without its grader-speaking clauses)."""
    tin, tout = whole.input_tokens + other.input_tokens, whole.output_tokens + other.output_tokens
    record: dict[str, Any] = {"answer": whole.value, "redacted": other.value}
    if other.value is None:
        _count(judge, "differential_lower")
        return Outcome(None, error=f"{other.error} (judging the answer without the clauses that could speak to its "
                       "grader; differential judging fails closed)", input_tokens=tin, output_tokens=tout,
                       differential={**record, "counted": "error"})
    if rule == "agree" and other.value != whole.value:
        _count(judge, "differential_lower")
        return Outcome(None, error=f"differential judging: the verdict depends on clauses that could speak to its grader "
                       f"({whole.reason!r} with them, {other.reason!r} without)", input_tokens=tin, output_tokens=tout,
                       differential={**record, "counted": "disagreement"})
    if other.value < whole.value:
        _count(judge, "differential_lower")
        return Outcome(other.value, other.reason, other.verdict, tin, tout, extra=other.extra,
                       differential={**record, "counted": "redacted"})
    return Outcome(whole.value, whole.reason, whole.verdict, tin, tout, extra=whole.extra,
                   differential={**record, "counted": "answer"})


def outcome_error(reply) -> Outcome:
    return Outcome(None, error=reply.error, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)


def no_context(scorer_name: str) -> Score:
    return Score(0.0, False, f"judge error: {scorer_name} needs the case's `context`", {"judge_error": "no context"})


def input_text(s: Sample) -> str:
    """The user's request: the last user message of the (possibly multi-turn) conversation."""
    for m in reversed(s.messages or []):
        if m.get("role") == "user" and m.get("content"):
            return m["content"]
    return ""


# --- rubric (G-Eval) -----------------------------------------------------------------------


# Length bounds go into the JSON Schema the judge gets, so grammar-constrained servers (llama.cpp)
# cannot loop inside a string until max_tokens.
Reason = Field(..., max_length=1000)
