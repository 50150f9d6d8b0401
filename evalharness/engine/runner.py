"""The run loop: cases x targets x repeats -> responses -> scores -> RunWriter, in two stages.

Generation: each target gets `concurrency` worker coroutines that pull from one shared iterator (so
memory stays flat however many cases there are), and one pooled HTTP client. A worker scores its
response's deterministic scorers inline and hands the response to the scoring stage
(engine/scoring.py), then goes on generating. Scoring: judge scorers run there, each judge limited by
its own concurrency (its client's semaphore), at most `score_pending` responses held at once (a full
stage makes the workers wait). The writer gets each response row with all its score rows, once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterator

from evalharness.engine.agent import run_agent
from evalharness.engine.cache import ResponseCache, cached_complete
from evalharness.engine.client import ChatClient, Completion, dumps
from evalharness.engine.scoring import JudgeMeter, ScoringStage, pending_limit, plan, score_inline
from evalharness.engine.tokens import TokenCounter, fill, load_counter
from evalharness.results.schema import JUDGE_COLUMNS, expected_text, input_text
from evalharness.scorers.base import Sample
from evalharness.suite.loader import LoadedCase, LoadedSuite
from evalharness.targets.config import RECORDED, TargetConfig


@dataclass
class TargetRuntime:
    config: TargetConfig
    client: ChatClient | None  # None for the `recorded` target
    served_model: str | None = None
    cache_id: str | None = None  # base_url, or the served model for servers on a random port
    judge_config: Any = None  # set for judge endpoints

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def model(self) -> str:
        return self.config.model or self.served_model or self.config.name


@dataclass(frozen=True, slots=True)
class WorkItem:
    suite: LoadedSuite
    lcase: LoadedCase
    repeat: int
    suite_index: int = 0  # the row's place in the run (results/schema.py ORDER_COLUMNS)
    case_index: int = 0


@dataclass
class Totals:
    requests: int = 0
    errors: int = 0
    cached: int = 0
    skipped: int = 0
    by_error: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0  # the request phase: workers started -> last response scored
    scoring_limit: int = 0  # responses the scoring stage could hold at once
    scoring_max_pending: int = 0  # ... and the most it held (never above the limit)
    staged: int = 0  # responses scored in the scoring stage (they had judge or async scorers)

    @property
    def requests_per_s(self) -> float | None:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else None


def response_id(run_id: str, suite: str, case_id: str, target: str, repeat: int) -> str:
    return hashlib.sha1(f"{run_id}\x1f{suite}\x1f{case_id}\x1f{target}\x1f{repeat}".encode()).hexdigest()[:20]


def build_messages(suite: LoadedSuite, lcase: LoadedCase) -> list[dict[str, Any]]:
    case = lcase.case
    if case.messages is not None:
        msgs = [m.model_dump(exclude_none=True) for m in case.messages]
    else:
        msgs = [{"role": "user", "content": case.input}]
    system = suite.suite.defaults.system
    if system and msgs[0]["role"] != "system":
        msgs.insert(0, {"role": "system", "content": system})
    return msgs


def case_tools(suite: LoadedSuite, lcase: LoadedCase) -> tuple[list[dict] | None, Any]:
    """The case's tools and tool_choice, falling back to the suite's."""
    case, su = lcase.case, suite.suite
    tools = case.tools if case.tools is not None else su.tools
    choice = case.tool_choice if case.tool_choice is not None else su.tool_choice
    return tools, choice


def build_body(target: TargetRuntime, suite: LoadedSuite, lcase: LoadedCase, messages: list[dict]) -> dict[str, Any]:
    params = {**target.config.params, **suite.suite.defaults.params, **lcase.case.params}
    body = {"model": target.model, "messages": messages, **params}
    tools, choice = case_tools(suite, lcase)
    if tools is not None:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    return body


def recorded_completion(lcase: LoadedCase) -> Completion:
    case = lcase.case
    if case.output is None and case.tool_calls is None:
        return Completion(error="recorded target: case has no recorded `output` or `tool_calls`", latency_ms=None)
    return Completion(output=case.output or "", tool_calls=case.tool_calls, finish_reason="recorded")


class Runner:
    def __init__(
        self,
        run_id: str,
        suites: list[LoadedSuite],
        targets: list[TargetRuntime],
        writer,
        *,
        repeats: int = 1,
        cache: ResponseCache | None = None,
        progress=None,
        done: set[str] | None = None,
        services=None,
        score_pending: int | None = None,
    ):
        self.run_id = run_id
        self.suites = suites
        self.targets = targets
        self.writer = writer
        self.repeats = repeats
        self.cache = cache
        self.progress = progress
        self.done = done or set()
        self.services = services
        self.score_pending = score_pending  # None: engine/scoring.pending_limit(services)
        self.totals = Totals()
        self.counters: dict[str, TokenCounter] = {}  # target -> its `tokenizer:` (counts the endpoint omits)
        self._target_index = {t.name: i for i, t in enumerate(targets)}
        self._texts: dict[int, tuple] = {}  # id(LoadedCase) -> (the case, input, expected)

    def total(self) -> int:
        return sum(len(s.cases) for s in self.suites) * self.repeats * len(self.targets)

    def _items(self, target: TargetRuntime) -> Iterator[WorkItem]:
        for si, suite in enumerate(self.suites):
            for ci, lcase in enumerate(suite.cases):
                for r in range(self.repeats):
                    rid = response_id(self.run_id, suite.name, lcase.case.id, target.name, r)
                    if rid in self.done:
                        self.totals.skipped += 1
                        if self.progress:
                            self.progress.advance(error=False)
                        continue
                    yield WorkItem(suite, lcase, r, si, ci)

    async def run(self) -> Totals:
        import time

        if self.services is not None and self.progress is not None and hasattr(self.progress, "judge_calls"):
            JudgeMeter(self.progress.judge_calls).attach(self.services)
        limit = self.score_pending or pending_limit(self.services)
        for t in self.targets:  # before any request: a tokenizer that cannot load is a ConfigError
            if t.client is not None and getattr(t.config, "tokenizer", None):
                self.counters[t.name] = load_counter(t.config.tokenizer, t.name)
        t0 = time.perf_counter()
        stage = ScoringStage(limit)
        self.totals.scoring_limit = limit
        try:
            async with stage:
                for t in self.targets:
                    it = self._items(t)
                    n = 1 if t.client is None else t.config.concurrency
                    for _ in range(n):
                        stage.spawn(self._worker(t, it, stage))
        finally:
            self.totals.elapsed_s += time.perf_counter() - t0
            self.totals.scoring_max_pending = max(self.totals.scoring_max_pending, stage.max_pending)
            self.totals.staged += stage.submitted
        return self.totals

    async def _worker(self, target: TargetRuntime, items: Iterator[WorkItem], stage) -> None:
        for item in items:
            await self._one(target, item, stage)

    async def _complete(self, target: TargetRuntime, body: dict[str, Any], repeat: int) -> Completion:
        return await cached_complete(self.cache, target.cache_id or target.config.base_url or "", target.client,
                                     body, repeat)

    async def reference_output(self, target_name: str, sample: Sample) -> str | None:
        """Another target's answer to the same request (for pairwise `against: <target>`); cached."""
        t = next((t for t in self.targets if t.name == target_name), None)
        if t is None or t.client is None or sample.request is None:
            return None
        body = {**t.config.params, **sample.request, "model": t.model}
        c = await self._complete(t, body, 0)
        return None if c.error else c.output

    async def _one(self, target: TargetRuntime, item: WorkItem, stage) -> None:
        suite, lcase, repeat = item.suite, item.lcase, item.repeat
        case = lcase.case
        messages = build_messages(suite, lcase)
        sent = len(messages)
        if target.client is None:
            comp = recorded_completion(lcase)
            tools = case_tools(suite, lcase)[0]
            request = {"messages": messages}
        else:
            body = build_body(target, suite, lcase, messages)
            tools = body.get("tools")
            request = {k: v for k, v in body.items() if k != "model"}
            if case.agentic:
                comp, messages = await run_agent(lambda b: self._complete(target, b, repeat), body,
                                                 case.tool_results, case.max_turns)
            else:
                comp = await self._complete(target, body, repeat)
        transcript = messages if case.agentic or target.client is None else [
            *messages, {"role": "assistant", "content": comp.output, "tool_calls": comp.tool_calls}]
        in_tokens, out_tokens, tokens_source = await fill(self.counters.get(target.name), comp, transcript, sent, tools)
        t = self.totals
        t.requests += 1
        t.cached += comp.cached
        if comp.error is not None:
            t.errors += 1
            kind = comp.error.split(":", 1)[0]
            t.by_error[kind] = t.by_error.get(kind, 0) + 1

        sample = Sample(
            case_id=case.id, output=comp.output, expected=case.expected, context=case.context,
            messages=messages, tool_calls=comp.tool_calls, tools=tools, finish_reason=comp.finish_reason,
            expected_tool_calls=None if case.expected_tool_calls is None
            else [c.model_dump() for c in case.expected_tool_calls],
            latency_ms=comp.latency_ms, output_tokens=out_tokens, metadata=case.metadata,
            suite=suite.name, services=self.services, request=request,
        )
        rid = response_id(self.run_id, suite.name, case.id, target.name, repeat)
        texts = self._texts.get(id(lcase))
        if texts is None or texts[0] is not lcase:  # once per case, not per target and repeat
            msgs = None if case.messages is None else [m.model_dump() for m in case.messages]
            texts = self._texts[id(lcase)] = (lcase, input_text(case.input, msgs), expected_text(case.expected))
        row = {
            "run_id": self.run_id, "response_id": rid, "suite": suite.name, "category": suite.category,
            "case_id": case.id, "target": target.name,
            "model": RECORDED if target.client is None else target.model,
            "repeat": repeat, "input": texts[1], "expected": texts[2],
            "messages": dumps(messages).decode(), "output": comp.output,
            "tool_calls": dumps(comp.tool_calls).decode() if comp.tool_calls else None,
            "finish_reason": comp.finish_reason, "latency_ms": comp.latency_ms, "ttft_ms": comp.ttft_ms,
            "input_tokens": in_tokens, "output_tokens": out_tokens, "tokens_source": tokens_source, "error": comp.error,
            "cached": comp.cached, "tags": list(dict.fromkeys(suite.suite.tags + case.tags)),
            "suite_index": item.suite_index, "case_index": item.case_index,
            "target_index": self._target_index[target.name],
        }
        error = comp.error is not None

        def done(scored: list) -> None:
            # The row and all its scores reach the writer together, once (resume relies on it).
            score_rows = [
                {
                    "run_id": self.run_id, "response_id": rid, "suite": suite.name, "case_id": case.id,
                    "target": target.name, "scorer": b.name, "score": s.value, "passed": s.passed,
                    "reason": s.reason, "metric_only": b.metric_only,
                    **{k: s.metadata.get(k) for k in JUDGE_COLUMNS},
                }
                for b, s in scored
            ]
            self.writer.add(row, score_rows)
            if self.progress:
                self.progress.advance(error=error)

        # Deterministic scorers now; the rest (judges) in the scoring stage, while this worker goes on.
        await stage.submit(sample, score_inline(plan(lcase.scorers), sample, comp.error), done)
