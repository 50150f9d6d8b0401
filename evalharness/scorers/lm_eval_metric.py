"""`lm_eval_match`: one response scored exactly as lm-eval 0.4.13 scores a `generate_until` document.

Nothing is re-implemented: the scorer builds the task's filter pipeline with lm-eval's own
`lm_eval.filters.build_filter_ensemble` (the registered filters: `regex` with any pattern, `group_select`
and `fallback`, `take_first`, `lowercase`, `map`, `multi_choice_regex`, ...), runs it on the response, and
calls lm-eval's registered metric function (`lm_eval.api.registry.get_metric`) the way
`ConfigurableTask.process_results` does for `generate_until`: the gold cast to the filtered answer's
type, and with several targets (`multiple_target`) exact_match over all of them, correct when any is.

Only metrics that lm-eval computes per document and aggregates by the mean can be one score per
response: `exact_match` (with all its options, any `regexes_to_ignore`). Corpus-level metrics (`bleu`,
`chrf`, `ter`, `f1`, `mcc`) and the loglikelihood ones are refused at binding, so is the `custom` filter
(it calls Python code). The arguments are data only, validated and bounded: suites are untrusted.

lm-eval is imported when the scorer is bound (a suite naming it); without it, a configuration error
says `pip install -e '.[lmeval]'`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer
from evalharness.scorers.bind import ScorerConfigError

INSTALL = "pip install -e '.[lmeval]'"
MAX_STEPS = 16
MAX_KWARGS_JSON = 20_000
MAX_TARGETS = 1_000
MAX_TEXT = 100_000
PER_DOC_METRICS = frozenset({"exact_match"})
CORPUS_METRICS = frozenset({"bleu", "chrf", "chrf++", "ter", "f1", "mcc", "brier_score"})
REFUSED_FILTERS = {"custom": "it calls a Python function (`filter_fn`), which a suite cannot carry"}


class FilterStep(ScorerArgs):
    function: str = Field(..., min_length=1, max_length=64, description="a filter registered in lm-eval (regex, take_first, ...)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="the filter's arguments, as in the task YAML")

    @field_validator("kwargs")
    @classmethod
    def _bounded(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(v))
        except (TypeError, ValueError) as e:
            raise ValueError(f"kwargs must be JSON data: {e}") from None
        if size > MAX_KWARGS_JSON or len(v) > 16:
            raise ValueError(f"kwargs: at most 16 keys and {MAX_KWARGS_JSON} characters of JSON")
        return v


class LmEvalMatchArgs(ScorerArgs):
    filter_name: str = Field("none", max_length=200, description="the filter pipeline's name (shown in reasons)")
    filter: list[FilterStep] = Field(default_factory=lambda: [FilterStep(function="take_first")],
                                     min_length=1, max_length=MAX_STEPS,
                                     description="lm-eval's filter pipeline, in order; it must end with take_first")
    metric: str = Field("exact_match", max_length=64, description="a per-document lm-eval metric (exact_match)")
    regexes_to_ignore: list[str] | None = Field(None, max_length=64, description="exact_match: removed from both sides")
    ignore_case: bool = False
    ignore_punctuation: bool = False
    ignore_numbers: bool = False
    target: str | list[str] | None = Field(None, description="the gold answer(s); default: the case's `expected`")
    multiple_target: bool | None = Field(None, description="lm-eval's multiple_target (the task's targets are lists); "
                                         "default: whether the target is a list")
    choices: list[str] | None = Field(None, max_length=1_000,
                                      description="the document's `choices` (read by the multi_choice_regex filter)")

    @field_validator("regexes_to_ignore")
    @classmethod
    def _regexes(cls, v: list[str] | None) -> list[str] | None:
        for rx in v or ():
            if len(rx) > 2_000:
                raise ValueError("regexes_to_ignore: a pattern longer than 2000 characters")
            try:
                re.compile(rx)
            except re.error as e:
                raise ValueError(f"regexes_to_ignore: invalid regex {rx!r}: {e}") from None
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v: str | list[str] | None) -> str | list[str] | None:
        items = v if isinstance(v, list) else [v] if v is not None else []
        if len(items) > MAX_TARGETS or any(len(t) > MAX_TEXT for t in items):
            raise ValueError(f"target: at most {MAX_TARGETS} targets of {MAX_TEXT} characters")
        return v

    @model_validator(mode="after")
    def _checks(self) -> "LmEvalMatchArgs":
        if self.metric not in PER_DOC_METRICS:
            why = ("a corpus-level metric (lm-eval aggregates it over all documents), not one score per response"
                   if self.metric in CORPUS_METRICS else "not a per-document generate_until metric of lm-eval")
            raise ValueError(f"metric {self.metric!r}: {why}; supported: {', '.join(sorted(PER_DOC_METRICS))}")
        for step in self.filter:
            if step.function in REFUSED_FILTERS:
                raise ValueError(f"filter function {step.function!r} is refused: {REFUSED_FILTERS[step.function]}")
        if self.filter[-1].function != "take_first":
            raise ValueError("the filter pipeline must end with take_first (lm-eval scores one string per document)")
        return self

    def metric_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"ignore_case": self.ignore_case, "ignore_punctuation": self.ignore_punctuation,
                              "ignore_numbers": self.ignore_numbers}
        if self.regexes_to_ignore is not None:
            kw["regexes_to_ignore"] = list(self.regexes_to_ignore)
        return kw


def _lm_eval() -> tuple[Any, Any]:
    try:
        from lm_eval.api.registry import get_metric
        from lm_eval.filters import build_filter_ensemble
    except ImportError as e:
        raise ScorerConfigError("type", f"lm_eval_match needs lm-eval ({e}): {INSTALL}") from None
    return build_filter_ensemble, get_metric


@functools.lru_cache(maxsize=256)
def _pipeline(name: str, steps_json: str) -> Any:
    """lm-eval's FilterEnsemble for the steps; every step is instantiated once here, so an unknown
    filter or a bad argument is a configuration error at binding, not a crash while scoring."""
    build, _ = _lm_eval()
    steps = json.loads(steps_json)
    from lm_eval.api.registry import filter_registry

    for i, (fn, kwargs) in enumerate(steps):
        if fn not in filter_registry:
            raise ScorerConfigError(f"filter.{i}.function", f"unknown lm-eval filter {fn!r} (known: "
                                    f"{', '.join(sorted(k for k in filter_registry if k not in REFUSED_FILTERS))})")
        try:
            filter_registry.get(fn)(**kwargs)
        except Exception as e:  # noqa: BLE001 - lm-eval's constructors raise anything on bad arguments
            raise ScorerConfigError(f"filter.{i}", f"lm-eval filter {fn!r} rejects {kwargs!r}: "
                                    f"{type(e).__name__}: {e}") from None
    return build(name, [[fn, kwargs] for fn, kwargs in steps])


def _filtered(pipeline: Any, output: str, doc: dict) -> Any:
    """What lm-eval's FilterEnsemble.apply leaves in `filtered_resps` for one document's one response."""
    resps: Any = [[output]]
    for f in pipeline.filters:
        resps = f().apply(resps, [doc])
    return list(resps)[0]


def process_results(metric_fn: Any, metric: str, kwargs: dict, gold: Any, result: Any, multiple_target: bool) -> float:
    """ConfigurableTask.process_results for generate_until (lm_eval/api/task.py, 0.4.13), one metric."""
    if multiple_target:
        gold = gold if isinstance(gold, list) else [gold]
        scores = metric_fn(references=gold, predictions=[result for _ in gold], **kwargs)[metric]
        return 1.0 if scores > 0.0 else 0.0
    if type(gold) is not type(result) and not isinstance(result, list):
        gold = type(result)(gold)
    value = metric_fn(references=[gold], predictions=[result], **kwargs)
    return float(value[metric] if isinstance(value, dict) else value)


class NotMappable(ValueError):
    """A task config or document the bridge cannot score as lm-eval does; the message says why."""


EM_OPTIONS = ("regexes_to_ignore", "ignore_case", "ignore_punctuation", "ignore_numbers")
DEFAULT_FILTERS = [{"name": "none", "filter": [{"function": "take_first"}]}]


def scorer_specs(config: Any, chosen: str | None) -> list[dict]:
    """The `lm_eval_match` scorers for a generate_until task's config (lm-eval's TaskConfig), one per
    (metric, filter pipeline) as lm-eval reports them (`metric,filter`); the `chosen` filter (default the
    first) with the first metric decides, the others are metric_only. As in lm-eval, a metric or a filter
    name listed twice is one, at its first place, with its last entry; an empty list scores nothing and is
    refused. NotMappable for what cannot be scored per response as lm-eval does."""
    metrics = config.metric_list if config.metric_list is not None else [{"metric": "exact_match"}]
    pipelines = config.filter_list if config.filter_list is not None else DEFAULT_FILTERS
    if not metrics or not pipelines:
        raise NotMappable("an empty metric_list or filter_list: lm-eval scores nothing")
    pipelines = list({str(p.get("name")): p for p in pipelines}.values())
    names = [str(p.get("name")) for p in pipelines]
    if chosen is not None and chosen not in names:
        raise NotMappable(f"filter {chosen!r} is not in the task's filter_list ({', '.join(names)})")
    chosen = chosen if chosen is not None else names[0]
    out = []
    for m_i, m in enumerate({str(m.get("metric")): m for m in metrics}.values()):
        name = m.get("metric")
        if name != "exact_match":
            raise NotMappable(f"metric {name!r}: only exact_match (per document, mean) can be scored per response; "
                              "corpus-level metrics (bleu, chrf, ter, f1, mcc) cannot")
        if m.get("hf_evaluate") or m.get("aggregation", "mean") != "mean":
            raise NotMappable("exact_match: hf_evaluate and aggregations other than mean are not supported")
        extra = set(m) - {"metric", "aggregation", "higher_is_better", *EM_OPTIONS}
        if extra:
            raise NotMappable(f"exact_match options {sorted(extra)}: lm-eval's exact_match does not take them")
        options = {k: m[k] for k in EM_OPTIONS if m.get(k) is not None}
        if isinstance(options.get("regexes_to_ignore"), str):
            raise NotMappable("exact_match: regexes_to_ignore must be a list")
        for pipe, pname in zip(pipelines, names):
            steps = []
            for step in pipe.get("filter") or []:
                if not isinstance(step, dict) or not isinstance(step.get("function"), str):
                    raise NotMappable(f"filter {pname!r}: each step needs a `function` name")
                if step["function"] in REFUSED_FILTERS:
                    raise NotMappable(f"filter {pname!r}: the `{step['function']}` filter "
                                      f"{REFUSED_FILTERS[step['function']].removeprefix('it ')}")
                if step["function"] in ("majority_vote", "take_first_k") and (config.repeats or 1) > 1:
                    raise NotMappable(f"filter {pname!r}: {step['function']} combines the task's {config.repeats} "
                                      "repeats; the bridge sends one request per document")
                steps.append({"function": step["function"], "kwargs": {k: v for k, v in step.items() if k != "function"}})
            out.append({"type": "lm_eval_match", "name": f"{name},{pname}", "filter_name": pname, "filter": steps,
                        "metric": name, **options, "metric_only": not (m_i == 0 and pname == chosen)})
    return out


def lm_eval_gold(task: Any, doc: dict) -> tuple[str | list[str], bool]:
    """lm-eval's gold for a `generate_until` document and whether it is a multiple target, as
    ConfigurableTask.process_results (0.4.13) computes it: with doc_to_choice the target indexes the choices;
    else with multiple_target (decided by the FIRST document's target being a list) `list(gold)`, so a
    plain string target of a later document becomes its characters, as in lm-eval; else the gold as text.
    NotMappable when lm-eval itself would fail on the document, or the gold cannot be one of texts."""
    gold = task.doc_to_target(doc)
    multiple = bool(task.multiple_target)
    if task.config.doc_to_choice is not None:
        choices = task.doc_to_choice(doc)
        if not isinstance(choices, list) or not isinstance(gold, int) or not -len(choices) <= gold < len(choices):
            raise NotMappable(f"doc_to_target gave {gold!r}: with doc_to_choice it must be the index of one of the "
                              f"{len(choices) if isinstance(choices, list) else 0} choices (lm-eval takes choices[target])")
        gold = choices[gold]
        return ([str(gold)], True) if multiple else (str(gold), False)
    if not multiple:
        return str(gold), False
    if not isinstance(gold, (str, list, tuple)):
        raise NotMappable(f"doc_to_target gave {gold!r} for a multiple-target task (the first document's target is a "
                          "list): lm-eval fails on it")
    if gold and not any(isinstance(g, str) for g in gold):  # numpy keeps them numbers: never equal to the text
        raise NotMappable(f"doc_to_target gave {gold!r}: multiple targets must be texts (lm-eval compares numbers to "
                          "the response as numbers, never equal)")
    return [str(g) for g in gold], True  # with one text among them, numpy compares them all as text


@scorer(name="lm_eval_match",
        description="Scores the response exactly as lm-eval does: the task's filter pipeline and metric (exact_match "
                    "with its options), run by lm-eval's own code.",
        args=LmEvalMatchArgs)
def lm_eval_match(a: LmEvalMatchArgs):
    _, get_metric = _lm_eval()
    steps = json.dumps([[s.function, s.kwargs] for s in a.filter])
    pipeline = _pipeline(a.filter_name, steps)
    metric_fn = get_metric(a.metric)
    kwargs = a.metric_kwargs()
    doc = {"choices": list(a.choices)} if a.choices is not None else {}
    label = f"{a.metric},{a.filter_name}"

    def score(s: Sample) -> Score:
        gold = a.target if a.target is not None else s.expected
        if gold is None:
            return Score(0.0, False, f"{label}: no target (set `target` or the case's `expected`)")
        if isinstance(gold, (int, float)) and not isinstance(gold, bool):
            gold = str(gold)
        if not isinstance(gold, (str, list)) or isinstance(gold, list) and not all(isinstance(g, str) for g in gold):
            return Score(0.0, False, f"{label}: the target must be text or a list of texts")
        multiple = a.multiple_target if a.multiple_target is not None else isinstance(gold, list)
        if isinstance(gold, list) and not multiple:
            return Score(0.0, False, f"{label}: a list target needs multiple_target")
        try:
            result = _filtered(pipeline, s.output or "", doc)
            value = process_results(metric_fn, a.metric, kwargs, gold, result, multiple)
        except Exception as e:  # noqa: BLE001 - lm-eval's code on untrusted output: a failed score, never a crash
            return Score(0.0, False, f"{label}: lm-eval raised {type(e).__name__}: {str(e)[:200]}")
        shown = json.dumps(result, ensure_ascii=False, default=str)[:120]
        return Score(value, value >= 1.0, f"{label}: filtered {shown} vs {json.dumps(gold, ensure_ascii=False)[:120]}",
                     {"filtered": result if isinstance(result, str) else shown, "filter": a.filter_name})

    return score
