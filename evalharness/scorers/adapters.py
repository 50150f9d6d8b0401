"""`type: ragas:<metric>` and `type: deepeval:<metric>`: those libraries' LLM metrics, judged by the
run's judge endpoint.

The libraries are optional extras and are imported only when a suite names one of their metrics.
Their LLM is an adapter over `judges.client.Judge`: every structured request goes out as
`response_format` with the library's own pydantic schema, through the run's response cache, and its
tokens are counted per judge. A library failure (an unparsable verdict, a missing input) is a judge
error on that score: recorded, never a pass.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import os
import re
from functools import lru_cache
from typing import Any

from pydantic import Field

from evalharness.scorers.base import Sample, Score, ScorerArgs, ScorerInfo

LIBRARIES = {"ragas": "ragas", "deepeval": "deepeval"}
# Their telemetry stays off: evalharness sends nothing anywhere but the configured endpoints.
QUIET_ENV = {"DEEPEVAL_TELEMETRY_OPT_OUT": "1", "DEEPEVAL_UPDATE_WARNING_OPT_IN": "0", "RAGAS_DO_NOT_TRACK": "true",
             "DEEPEVAL_DISABLE_DOTENV": "1", "ERROR_REPORTING": "NO"}


class AdapterError(ValueError):
    """A `ragas:`/`deepeval:` type that cannot be used (extra missing, unknown metric)."""


class AdapterArgs(ScorerArgs):
    judge: str = Field("default", description="which judge (a name under `judges:`) serves as the library's LLM")
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the metric's constructor")
    pass_at: float = Field(0.5, ge=0, le=1, description="score needed to pass when no `threshold` is set")
    manipulation_check: bool = Field(True, description="fail (score 0, `judge_manipulation`) an answer that addresses "
                                     "its grader, before the library's judge sees it")


def _guard(s: Sample, a: AdapterArgs, kind: str) -> Score | None:
    """The same check as the built-in judge scorers: an answer that addresses its grader never reaches the judge."""
    from evalharness.scorers.judging import manipulation_guard

    return manipulation_guard(s, a, kind, s.output)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _quiet() -> None:
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)


@lru_cache(maxsize=None)
def metric_classes(library: str) -> dict[str, type]:
    """snake_case metric name -> class, for the installed library."""
    _quiet()
    if library == "ragas":
        from ragas.metrics import collections as mod
        from ragas.metrics.collections.base import BaseMetric

        names = [n for n in getattr(mod, "__all__", dir(mod)) if n != "BaseMetric"]
        classes = {n: getattr(mod, n) for n in names}
        return {_snake(n): c for n, c in classes.items() if isinstance(c, type) and issubclass(c, BaseMetric)}
    import deepeval.metrics as mod
    from deepeval.metrics import BaseMetric

    out = {}
    for n in getattr(mod, "__all__", dir(mod)):
        c = getattr(mod, n, None)
        if isinstance(c, type) and issubclass(c, BaseMetric) and c is not BaseMetric:
            out[_snake(n[:-len("Metric")] if n.endswith("Metric") else n)] = c
    return out


def adapter_info(type_name: str) -> ScorerInfo:
    """The ScorerInfo for `library:metric`. Raises AdapterError with what to do."""
    library, _, metric = type_name.partition(":")
    if library not in LIBRARIES:
        raise AdapterError(f"unknown scorer library '{library}' in '{type_name}': use ragas:<metric> or deepeval:<metric>")
    if importlib.util.find_spec(LIBRARIES[library]) is None:
        raise AdapterError(f"'{type_name}' needs the {library} library, which is not installed: "
                           f"pip install -e '.[{library}]'")
    try:
        classes = metric_classes(library)
    except Exception as e:  # noqa: BLE001 - a broken install is a configuration problem, not a crash
        raise AdapterError(f"'{type_name}': {library} is installed but does not import "
                           f"({type(e).__name__}: {e}); reinstall it with pip install -e '.[{library}]'") from None
    if metric not in classes:
        close = difflib.get_close_matches(metric, sorted(classes), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(f'{library}:{c}' for c in close)}?)" if close else ""
        raise AdapterError(f"{library} has no metric '{metric}'{hint}")
    cls = classes[metric]
    if library == "ragas" and "embeddings" in inspect.signature(cls.__init__).parameters:
        raise AdapterError(f"{type_name} needs an embeddings model as well as an LLM; evalharness only passes "
                           "the judge LLM. Use a metric that needs an LLM only, or evalharness's own "
                           "answer_relevancy")
    factory = _ragas_factory(cls) if library == "ragas" else _deepeval_factory(cls)
    return ScorerInfo(type_name, f"{library} metric {cls.__name__}, judged by the run's judge endpoint",
                      AdapterArgs, factory, needs_judge=True)


class _Usage:
    """Tokens and errors of one scoring call, shared by the adapter LLM it made."""

    def __init__(self) -> None:
        self.input_tokens = self.output_tokens = self.calls = 0
        self.errors: list[str] = []

    def add(self, reply) -> None:
        self.calls += 1
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        if reply.error:
            self.errors.append(reply.error)


async def _ask(judge, usage: _Usage, prompt: Any, schema: type | None):
    prompt = prompt if isinstance(prompt, str) else str(prompt)
    if schema is None:
        reply = await judge.ask_text(prompt)
        usage.add(reply)
        if reply.error:
            raise RuntimeError(reply.error)
        return reply.raw
    reply = await judge.ask(prompt, schema)
    usage.add(reply)
    if reply.error:
        raise RuntimeError(reply.error)
    return reply.verdict


def _user_input(s: Sample) -> str:
    from evalharness.scorers.judging import input_text

    return str(input_text(s))


def _result(s: Sample, a: AdapterArgs, judge, usage: _Usage, value: Any, reason: str, library: str) -> Score:
    from evalharness.judges.client import verdict_json

    meta = {"judge_model": judge.model, "judge_input_tokens": usage.input_tokens,
            "judge_output_tokens": usage.output_tokens}
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if value != value:  # NaN: the library produced no score
        err = usage.errors[0] if usage.errors else f"{library} returned no score"
        judge.stats.errors += 1
        meta.update(judge_error=err, verdict=verdict_json({"library": library, "calls": usage.calls, "reason": reason}))
        return Score(0.0, False, f"judge error: {err}", meta)
    meta["verdict"] = verdict_json({"library": library, "score": value, "calls": usage.calls, "reason": reason})
    return Score(value, value >= a.pass_at, f"{library}: {value:.3f}" + (f": {reason}" if reason else ""), meta)


def _error(judge, usage: _Usage, library: str, e: Exception) -> Score:
    err = usage.errors[0] if usage.errors else f"{library}: {type(e).__name__}: {e}"
    judge.stats.errors += 1
    return Score(0.0, False, f"judge error: {err}",
                 {"judge_model": getattr(judge, "model", None), "judge_error": err[:500],
                  "judge_input_tokens": usage.input_tokens, "judge_output_tokens": usage.output_tokens})


# --- ragas ---------------------------------------------------------------------------------------


def _ragas_llm(judge, usage: _Usage):
    from ragas.llms.base import InstructorBaseRagasLLM

    class JudgeLLM(InstructorBaseRagasLLM):
        def generate(self, prompt, response_model):  # the adapter is only driven through agenerate
            raise RuntimeError("evalharness drives ragas metrics asynchronously")

        async def agenerate(self, prompt, response_model):
            return await _ask(judge, usage, prompt, response_model)

    return JudgeLLM()


RAGAS_INPUTS = {
    "user_input": lambda s: _user_input(s) or None,
    "response": lambda s: s.output or None,
    "retrieved_contexts": lambda s: list(s.context) if s.context else None,
    "reference": lambda s: None if s.expected is None else str(s.expected),
    "reference_contexts": lambda s: list(s.context) if s.context else None,
}


def _ragas_factory(cls):
    def factory(a: AdapterArgs):
        params = inspect.signature(cls.ascore).parameters
        wanted = [p for p in params if p != "self"]

        async def score(s: Sample) -> Score:
            from evalharness.scorers.judging import judge_services_of

            flagged = _guard(s, a, f"ragas:{cls.__name__}")
            if flagged is not None:
                return flagged
            judge = judge_services_of(s).judge(a.judge)
            usage = _Usage()
            kwargs = {}
            for p in wanted:
                if p in RAGAS_INPUTS:
                    v = RAGAS_INPUTS[p](s)
                    if v is None and params[p].default is inspect.Parameter.empty:
                        return _error(judge, usage, "ragas", ValueError(
                            f"{cls.__name__} needs `{p}` ({_NEED.get(p, p)}) on the case"))
                    if v is not None:
                        kwargs[p] = v
            try:
                metric = cls(llm=_ragas_llm(judge, usage), **a.params)
                result = await metric.ascore(**kwargs)
            except Exception as e:  # noqa: BLE001 - the library's failure is this score's judge error
                return _error(judge, usage, "ragas", e)
            return _result(s, a, judge, usage, getattr(result, "value", result), getattr(result, "reason", "") or "",
                           "ragas")

        return score

    return factory


_NEED = {"retrieved_contexts": "context", "reference": "expected", "reference_contexts": "context",
         "user_input": "an input message", "response": "an output"}


# --- deepeval ------------------------------------------------------------------------------------


def _deepeval_llm(judge, usage: _Usage):
    from deepeval.models import DeepEvalBaseLLM

    class JudgeLLM(DeepEvalBaseLLM):
        def __init__(self):
            super().__init__(model=judge.model)

        def load_model(self):
            return self

        def get_model_name(self):
            return f"evalharness judge ({judge.model})"

        def generate(self, prompt, schema=None, **_):
            raise RuntimeError("evalharness drives deepeval metrics asynchronously")

        async def a_generate(self, prompt, schema=None, **_):
            return await _ask(judge, usage, prompt, schema)

        def supports_structured_outputs(self):
            return True

    return JudgeLLM()


def _deepeval_factory(cls):
    def factory(a: AdapterArgs):
        async def score(s: Sample) -> Score:
            from deepeval.test_case import LLMTestCase

            from evalharness.scorers.judging import judge_services_of

            flagged = _guard(s, a, f"deepeval:{cls.__name__}")
            if flagged is not None:
                return flagged
            judge = judge_services_of(s).judge(a.judge)
            usage = _Usage()
            try:
                case = LLMTestCase(
                    input=_user_input(s), actual_output=s.output or "",
                    expected_output=None if s.expected is None else str(s.expected),
                    retrieval_context=list(s.context) if s.context else None,
                    context=list(s.context) if s.context else None)
                kwargs = {"model": _deepeval_llm(judge, usage), "async_mode": True, **a.params}
                accepted = inspect.signature(cls.__init__).parameters
                kwargs = {k: v for k, v in kwargs.items() if k in accepted or k in a.params}
                metric = cls(**kwargs)
                await metric.a_measure(case, _show_indicator=False)
            except Exception as e:  # noqa: BLE001
                return _error(judge, usage, "deepeval", e)
            return _result(s, a, judge, usage, metric.score, getattr(metric, "reason", "") or "", "deepeval")

        return score

    return factory
