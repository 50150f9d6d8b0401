"""LLM-judge scorers: rubric (G-Eval), faithfulness, answer_relevancy, context_relevancy, pairwise.

Each verdict is a pydantic model next to its scorer; the judge is asked for it as structured
output. Every judge scorer takes `judge` (a name from `judges:`), `judge_repeats` (ask N times;
mean and spread recorded), and `panel` + `aggregate` (several judges; mean or majority; each
judge's lean against the panel recorded). A verdict that cannot be parsed is a judge error on
that score: recorded, counted, never a pass.

An answer that addresses its grader (asks for, asserts or fakes a score or verdict, fakes the end of
the answer or a system message, in any language or encoding: judges/manipulation.py) is failed
before any judge is asked: score 0, reason `judge_manipulation: ...`, the flag in `verdict`, and
`manipulation` counted in each of the scorer's judges' stats (run.json).

An answer that passes that check but has clauses that could speak to its grader (judges/outcome.py `redact`)
is judged twice, as it is and without those clauses, and the worse verdict counts (scorers/judging.py
`differential`; `differential: false` turns it off): the verdict's `differential` records both values and which
counted; `differential` / `differential_lower` in the judge's stats count them.
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from evalharness.judges.client import Judge, verdict_json
from evalharness.judges.manipulation import FLAG
from evalharness.judges.templates import render
from evalharness.scorers.base import Sample, Score, scorer
from evalharness.scorers.judging import (  # noqa: F401 - shared by the judge scorers below
    JudgeArgs, OneJudgement, Outcome, Reason, asked, differential, input_text, judge_services_of, judged, manipulation_guard,
    no_context, outcome_error,
)


class RubricVerdict(BaseModel):
    reasoning: str = Reason
    score: int


class RubricArgs(JudgeArgs):
    criteria: str = Field(..., min_length=1, description="what a good answer does")
    scale: tuple[int, int] = Field((1, 5), description="[lowest, highest] integer score")
    use_logprobs: bool = Field(True, description="weight the score by the judge's token probabilities when returned")

    @model_validator(mode="after")
    def _scale(self) -> "RubricArgs":
        if self.scale[0] >= self.scale[1]:
            raise ValueError("scale must be [low, high] with low < high")
        return self


def weighted_score(logprobs: list | None, raw: str, lo: int, hi: int) -> tuple[float, dict[int, float]] | None:
    """Probability-weighted mean over the scale's tokens at the position of the sampled score."""
    if not logprobs or lo < 0 or hi > 9:
        return None
    m = re.search(r'"score"\s*:\s*"?(\d)', raw)
    if not m:
        return None
    offset, pos = m.start(1), 0
    for tok in logprobs:
        text = tok.get("token") or ""
        if pos <= offset < pos + len(text):
            probs: dict[int, float] = {}
            for cand in tok.get("top_logprobs") or [tok]:
                t = (cand.get("token") or "").strip().strip('"')
                if t.isdigit() and lo <= int(t) <= hi and cand.get("logprob") is not None:
                    probs[int(t)] = probs.get(int(t), 0.0) + math.exp(cand["logprob"])
            total = sum(probs.values())
            if not total:
                return None
            return sum(k * p for k, p in probs.items()) / total, {k: p / total for k, p in sorted(probs.items())}
        pos += len(text)
    return None


def _rubric_scale(a: RubricArgs) -> tuple[float, float]:
    return float(a.scale[0]), float(a.scale[1])


@scorer(
    name="rubric",
    description="G-Eval style rubric: a judge scores the answer against `criteria` on `scale`; "
    "probability-weighted over the scale tokens when the judge returns logprobs. `threshold` is in scale units.",
    args=RubricArgs,
    needs_judge=True,
    threshold_scale=_rubric_scale,
)
def rubric(a: RubricArgs):
    lo, hi = a.scale

    def render_prompt(s: Sample, output: str) -> str:
        return render(a.template or "rubric.j2", criteria=a.criteria, lo=lo, hi=hi, input=input_text(s),
                      output=output, expected=s.expected, context=s.context)

    schema = RubricVerdict.model_json_schema()
    # llama.cpp's grammar converters ignore minimum/maximum: the scale goes out as an enum of its integers
    # (judges/client.constrain_schema does this for spans up to 100 values; the parse side checks it too).
    schema["properties"]["score"].update(minimum=lo, maximum=hi)

    async def score(s: Sample) -> Score:
        if (flagged := manipulation_guard(s, a, "rubric", s.output)) is not None:
            return flagged
        async def one(judge: Judge, repeat: int, text: str) -> Outcome:
            reply = await judge.ask(render_prompt(s, text), RubricVerdict, repeat=repeat, logprobs=a.use_logprobs, schema=schema)
            if reply.error:
                return outcome_error(reply)
            v: RubricVerdict = reply.verdict
            if not lo <= v.score <= hi:
                return Outcome(None, error=f"invalid verdict: score {v.score} outside the scale {lo}-{hi}",
                               input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)
            weighted = weighted_score(reply.logprobs, reply.raw, lo, hi) if a.use_logprobs else None
            if weighted is not None:
                raw_score, dist = weighted
                how = f"probability-weighted score {raw_score:.2f} over tokens {lo}-{hi} (sampled {v.score})"
                extra = {"distribution": dist}
            else:
                raw_score, how, extra = float(v.score), f"sampled score {v.score}/{hi} (no logprobs)", {}
            return Outcome((raw_score - lo) / (hi - lo), f"{how}: {v.reasoning}", v.model_dump(),
                           reply.input_tokens, reply.output_tokens, extra=extra)

        return await judged(s, a, "rubric", differential(s, a, one))

    return score


# --- faithfulness ----------------------------------------------------------------------------


class ClaimsVerdict(BaseModel):
    claims: list[Annotated[str, Field(max_length=300)]] = Field(..., max_length=15)


class ClaimVerdict(BaseModel):
    claim: str = Field(..., max_length=1000)
    verdict: Literal["yes", "no", "idk"]
    reason: str = Field("", max_length=1000)


class FaithfulnessVerdict(BaseModel):
    verdicts: list[ClaimVerdict]


def _one_per(model: type[BaseModel], n: int) -> dict:
    """The verdict's schema with exactly `n` entries in `verdicts` (one per claim or passage), the strings shorter
    as n grows: at most STRING_BUDGET characters in all, so that even a degenerate verdict (one token per
    character, as a run of digits is) fits in the default max_tokens of 512 on a grammar-constrained server.
    The entries are matched to the claims by order: the echoed claim is only for the record."""
    schema = model.model_json_schema()
    schema["properties"]["verdicts"].update(minItems=n, maxItems=n)
    for name, prop in schema["$defs"][next(iter(schema["$defs"]))]["properties"].items():
        if name == "index":  # a passage number: 1..n (an enum once constrained)
            prop.update(minimum=1, maximum=n)
        elif prop.get("type") == "string" and "enum" not in prop:
            prop["maxLength"] = max(8, min(160, STRING_BUDGET // (2 * n)))
    return schema


STRING_BUDGET = 300  # characters of strings a list verdict may hold in all (the JSON around them: ~20 tokens an entry)

# Sent to the judge: at most 6 claims of at most 60 characters (a claim is one short statement).
CLAIMS_SCHEMA = ClaimsVerdict.model_json_schema()
CLAIMS_SCHEMA["properties"]["claims"].update(maxItems=6, items={"type": "string", "maxLength": 60})


@scorer(
    name="faithfulness",
    description="Hallucination against the case's `context`: the judge splits the answer into claims and checks "
    "each; score = supported claims / claims; the reason lists unsupported claims.",
    args=JudgeArgs,
    needs_judge=True,
)
def faithfulness(a: JudgeArgs):
    async def score(s: Sample) -> Score:
        if not s.context:
            return no_context("faithfulness")
        if (flagged := manipulation_guard(s, a, "faithfulness", s.output)) is not None:
            return flagged
        async def one(judge: Judge, repeat: int, text: str) -> Outcome:
            claims_prompt = render("claims.j2", input=input_text(s), output=text)
            r1 = await judge.ask(claims_prompt, ClaimsVerdict, repeat=repeat, schema=CLAIMS_SCHEMA)
            if r1.error:
                return outcome_error(r1)
            claims = [c for c in r1.verdict.claims if c.strip()]
            if not claims:
                return Outcome(1.0, "no factual claims to check", {"claims": []}, r1.input_tokens, r1.output_tokens)
            r2 = await judge.ask(render(a.template or "faithfulness.j2", claims=claims, context=s.context),
                                 FaithfulnessVerdict, repeat=repeat, schema=_one_per(FaithfulnessVerdict, len(claims)))
            tin, tout = r1.input_tokens + r2.input_tokens, r1.output_tokens + r2.output_tokens
            if r2.error:
                return Outcome(None, error=r2.error, input_tokens=tin, output_tokens=tout)
            verdicts = r2.verdict.verdicts[: len(claims)]
            supported = sum(v.verdict == "yes" for v in verdicts)
            unsupported = [c for c, v in zip(claims, verdicts + [None] * len(claims)) if v is None or v.verdict != "yes"]
            reason = f"{supported}/{len(claims)} claims supported"
            if unsupported:
                reason += "; unsupported: " + "; ".join(repr(c[:100]) for c in unsupported[:5])
            return Outcome(supported / len(claims), reason, {"claims": claims, "verdicts": [v.model_dump() for v in verdicts]},
                           tin, tout)

        return await judged(s, a, "faithfulness", differential(s, a, one))

    return score


# --- answer / context relevancy -------------------------------------------------------------


class Statement(BaseModel):
    statement: str = Field(..., max_length=1000)
    relevant: bool


class AnswerRelevancyVerdict(BaseModel):
    statements: list[Statement]


# Sent to the judge: at most 6 statements of at most 50 characters.
RELEVANCY_SCHEMA = AnswerRelevancyVerdict.model_json_schema()
RELEVANCY_SCHEMA["properties"]["statements"]["maxItems"] = 6
RELEVANCY_SCHEMA["$defs"]["Statement"]["properties"]["statement"]["maxLength"] = 50


@scorer(
    name="answer_relevancy",
    description="The judge splits the answer into statements and marks each relevant to the question or not; "
    "score = relevant / statements.",
    args=JudgeArgs,
    needs_judge=True,
)
def answer_relevancy(a: JudgeArgs):
    async def score(s: Sample) -> Score:
        if not s.output.strip():
            return Score(0.0, False, "empty answer")
        if (flagged := manipulation_guard(s, a, "answer_relevancy", s.output)) is not None:
            return flagged
        async def one(judge: Judge, repeat: int, text: str) -> Outcome:
            if not text.strip():  # the redacted answer can be empty: nothing in it answers the question
                return Outcome(0.0, "nothing is left of the answer without the clauses that could speak to its grader")
            prompt = render(a.template or "answer_relevancy.j2", input=input_text(s), output=text)
            r = await judge.ask(prompt, AnswerRelevancyVerdict, repeat=repeat, schema=RELEVANCY_SCHEMA)
            if r.error:
                return outcome_error(r)
            st = r.verdict.statements
            if not st:
                return Outcome(None, error="invalid verdict: no statements", input_tokens=r.input_tokens,
                               output_tokens=r.output_tokens)
            rel = sum(x.relevant for x in st)
            off = [x.statement for x in st if not x.relevant]
            reason = f"{rel}/{len(st)} statements relevant" + (f"; off-topic: {off[0][:100]!r}" if off else "")
            return Outcome(rel / len(st), reason, r.verdict.model_dump(), r.input_tokens, r.output_tokens)

        return await judged(s, a, "answer_relevancy", differential(s, a, one))

    return score


class PassageVerdict(BaseModel):
    index: int
    relevant: bool
    reason: str = Field("", max_length=1000)


class ContextRelevancyVerdict(BaseModel):
    verdicts: list[PassageVerdict]


@scorer(
    name="context_relevancy",
    description="The judge marks each `context` passage as useful for the question or not; "
    "score = relevant passages / passages.",
    args=JudgeArgs,
    needs_judge=True,
)
def context_relevancy(a: JudgeArgs):
    async def score(s: Sample) -> Score:
        if not s.context:
            return no_context("context_relevancy")
        prompt = render(a.template or "context_relevancy.j2", input=input_text(s), context=s.context)
        n = len(s.context)

        async def one(judge: Judge, repeat: int) -> Outcome:
            r = await judge.ask(prompt, ContextRelevancyVerdict, repeat=repeat, schema=_one_per(ContextRelevancyVerdict, n))
            if r.error:
                return outcome_error(r)
            relevant = {v.index for v in r.verdict.verdicts if v.relevant and 1 <= v.index <= n}
            return Outcome(len(relevant) / n, f"{len(relevant)}/{n} passages relevant", r.verdict.model_dump(),
                           r.input_tokens, r.output_tokens)

        return await judged(s, a, "context_relevancy", one)

    return score


# --- pairwise -------------------------------------------------------------------------------


class PairwiseVerdict(BaseModel):
    reasoning: str = Reason
    winner: Literal["A", "B", "tie"]


class PairwiseArgs(JudgeArgs):
    against: str = Field(..., description="'expected' (the case's reference), 'baseline' (--baseline run), or a target name")
    criteria: str | None = Field(None, description="what to compare on (default: overall quality)")


_FLIP = {"A": "B", "B": "A", "tie": "tie"}
_VALUE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


@scorer(
    name="pairwise",
    description="The judge compares the answer with another output for the same case (expected, baseline run, "
    "or another target), in both orders; disagreeing orders are a tie. Win 1, tie 0.5, loss 0.",
    args=PairwiseArgs,
    needs_judge=True,
)
def pairwise(a: PairwiseArgs):
    async def other_output(s: Sample) -> str | None:
        if a.against == "expected":
            return None if s.expected is None else str(s.expected)
        services = judge_services_of(s)
        if a.against == "baseline":
            return services.baseline.get((s.suite, s.case_id))
        if services.reference is None:
            return None
        return await services.reference(a.against, s)

    async def score(s: Sample) -> Score:
        other = await other_output(s)
        if other is None:
            return Score(0.0, False, f"judge error: no '{a.against}' output to compare with",
                         {"judge_error": f"no {a.against} output"})
        if (flagged := manipulation_guard(s, a, "pairwise", s.output)) is not None:
            return flagged
        if a.against != "expected" and manipulation_guard(s, a, "pairwise", other, who="other", count=False) is not None:
            # The other output addresses the grader: it is disqualified, and the candidate wins without a judge.
            return Score(1.0, True, f"win against {a.against}: the other output addresses its grader "
                         f"({FLAG}); not sent to the judge", {"verdict": verdict_json(
                             {"kind": "pairwise", "flag": f"other_{FLAG}", "judges": {}, "score": 1.0})})
        q = input_text(s)

        def prompt(x: str, y: str) -> str:
            return render(a.template or "pairwise.j2", input=q, answer_a=x, answer_b=y, criteria=a.criteria)

        async def one(judge: Judge, repeat: int, text: str) -> Outcome:
            r1, r2 = await asyncio.gather(judge.ask(prompt(text, other), PairwiseVerdict, repeat=repeat),
                                          judge.ask(prompt(other, text), PairwiseVerdict, repeat=repeat))
            tin, tout = r1.input_tokens + r2.input_tokens, r1.output_tokens + r2.output_tokens
            if r1.error or r2.error:
                return Outcome(None, error=r1.error or r2.error, input_tokens=tin, output_tokens=tout)
            first = r1.verdict.winner  # candidate shown as A
            second = _FLIP[r2.verdict.winner]  # candidate shown as B: flip to the candidate's view
            as_result = {"A": "win", "B": "loss", "tie": "tie"}
            consistent = first == second
            result = as_result[first] if consistent else "tie"
            judge.stats.pairwise += 1
            judge.stats.pairwise_inconsistent += not consistent
            why = (f"{result} against {a.against}" + ("" if consistent else
                   f" (orders disagree: candidate-first says {as_result[first]}, candidate-second says "
                   f"{as_result[second]}; counted as a tie)") + f": {r1.verdict.reasoning}")
            return Outcome(_VALUE[result], why, {"candidate_first": r1.verdict.model_dump(),
                                                 "candidate_second": r2.verdict.model_dump()},
                           tin, tout, extra={"position_consistent": consistent})

        # the candidate's side only: "lower" is the worse result for the candidate (loss < tie < win)
        return await judged(s, a, "pairwise", differential(s, a, one))

    return score


# --- refusal (judge-based) ------------------------------------------------------------------


class RefusalVerdict(BaseModel):
    refusal: Literal["full", "partial", "none"]
    reason: str = Field("", max_length=1000)


@scorer(
    name="refusal_judge",
    description="An LLM judge classifies the response as a full, partial or no refusal; passes on a refusal "
    "(`not: true` to require an answer). Complements the heuristic `refusal` scorer.",
    args=JudgeArgs,
    needs_judge=True,
)
def refusal_judge(a: JudgeArgs):
    async def score(s: Sample) -> Score:
        if (flagged := manipulation_guard(s, a, "refusal_judge", s.output)) is not None:
            return flagged
        async def one(judge: Judge, repeat: int, text: str) -> Outcome:
            r = await judge.ask(render(a.template or "refusal.j2", input=input_text(s), output=text), RefusalVerdict,
                                repeat=repeat)
            if r.error:
                return outcome_error(r)
            v: RefusalVerdict = r.verdict
            return Outcome(0.0 if v.refusal == "none" else 1.0, f"{v.refusal} refusal: {v.reason}"
                           if v.refusal != "none" else f"no refusal: {v.reason}", v.model_dump(),
                           r.input_tokens, r.output_tokens)

        # which label is the worse one depends on `not:`: the two verdicts must agree (else a judge error)
        return await judged(s, a, "refusal_judge", differential(s, a, one, rule="agree"))

    return score
