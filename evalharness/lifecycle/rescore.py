"""`evalharness rescore`: score a run's stored responses again (new or changed scorers) without
calling the model.

It writes a new run folder: the stored responses copied in Arrow (only their run id changes), new
scores, and the gates of the suites given (default: the suites the run recorded). Scoring is `run`'s
own path (engine/scoring.py): deterministic scorers inline (synchronously, one response after another,
no event loop when a suite has nothing else), judge scorers in the same scoring stage as `run`, each
judge limited by its own concurrency. Score rows are gathered as columns and written once: a rescore
is not resumable (run it again), so it needs no part files.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from evalharness.engine.loop import run as run_loop
from evalharness.conclude import RunOutcome, conclude
from evalharness.lifecycle.configure import (
    check_baseline_target, event_loop_name, load_baseline, resolve_baseline, resolve_judges,
)
from evalharness.lifecycle.endpoints import judge_services, start_judges
from evalharness.lifecycle.execute import scorer_configs
from evalharness.lifecycle.options import RunOptions
from evalharness.targets.kinds import Launcher

# The stored columns a Sample is built from.
STORED = ("response_id", "suite", "case_id", "target", "messages", "output", "tool_calls", "finish_reason",
          "latency_ms", "output_tokens", "error")
ARROW_EVERY = 50_000  # score rows converted to Arrow at a time (bounds the Python objects held)


class ScoreColumns:
    """Score rows as columns, converted to Arrow every ARROW_EVERY rows."""

    def __init__(self, run_id: str):
        from evalharness.results.schema import JUDGE_COLUMNS, SCORES

        self.run_id = run_id
        self.schema = SCORES
        self.judge_columns = JUDGE_COLUMNS
        self._reset()
        self.tables: list = []

    def _reset(self) -> None:
        self.keys: dict[str, list] = {k: [] for k in ("response_id", "suite", "case_id", "target")}
        self.cols: dict[str, list] = {k: [] for k in ("scorer", "score", "passed", "reason", "metric_only")}
        self.judged: dict[int, dict] = {}  # row -> metadata, for the (few) scores that carry judge columns

    def add(self, response_id: str, suite: str, case_id: str, target: str, scored: list) -> None:
        k = len(scored)
        keys, c = self.keys, self.cols
        base = len(c["scorer"])
        keys["response_id"] += [response_id] * k
        keys["suite"] += [suite] * k
        keys["case_id"] += [case_id] * k
        keys["target"] += [target] * k
        for j, (b, sc) in enumerate(scored):
            c["scorer"].append(b.name)
            c["score"].append(sc.value)
            c["passed"].append(sc.passed)
            c["reason"].append(sc.reason)
            c["metric_only"].append(b.metric_only)
            if sc.metadata:
                self.judged[base + j] = sc.metadata
        if base + k >= ARROW_EVERY:
            self._to_arrow()

    def _to_arrow(self) -> None:
        import pyarrow as pa

        n = len(self.cols["scorer"])
        if not n:
            return
        values = {**self.keys, **self.cols}
        for name in self.judge_columns:
            col = [None] * n
            for row, meta in self.judged.items():
                col[row] = meta.get(name)
            values[name] = col
        arrays = [pa.array([self.run_id] * n, pa.string()) if f.name == "run_id" else pa.array(values[f.name], f.type)
                  for f in self.schema]
        self.tables.append(pa.Table.from_arrays(arrays, schema=self.schema))
        self._reset()

    def table(self):
        import pyarrow as pa

        self._to_arrow()
        return pa.concat_tables(self.tables) if self.tables else self.schema.empty_table()


def _loads(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return None
    import orjson

    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        import json

        return json.loads(value)


def rescore_run(run_dir: Path, paths: list[str] | None, out: str, opts: RunOptions | None = None) -> RunOutcome:
    from dataclasses import replace

    import pyarrow.parquet as pq

    from evalharness.results.manifest import new_run_id, read_manifest, utcnow, write_manifest
    from evalharness.results.nopandas import skip_pandas_probe
    from evalharness.results.run import reading_schema
    from evalharness.results.schema import RESPONSES_FILE, SCHEMA_VERSION
    from evalharness.suite.loader import load_suites

    event_loop_name()  # judge scorers run on it: a bad EVALHARNESS_EVENT_LOOP fails before the new folder exists
    skip_pandas_probe()
    old = read_manifest(run_dir)
    paths = paths or [s["path"] for s in old.get("suites", [])]
    opts = opts or RunOptions(paths=list(paths), out=out)
    suites = load_suites(paths, root=opts.suite_root, trust_endpoints=opts.trust_suite_endpoints)
    judge_configs = resolve_judges(opts, suites)
    opts.baseline = resolve_baseline(opts.baseline, out)
    load_baseline(opts.baseline)  # a baseline that is not a finished run is a configuration error, found now
    check_baseline_target(opts)
    # Read with the current schema (an older run's missing columns are null), in the new suites' order.
    stored = pq.read_table(run_dir / RESPONSES_FILE,
                           schema=reading_schema(RESPONSES_FILE, pq.read_schema(run_dir / RESPONSES_FILE)))
    stored = _in_run_order(stored, suites, [t.get("name") for t in old.get("targets") or [] if isinstance(t, dict)])
    run_id = new_run_id()
    new_dir = Path(out) / run_id
    new_dir.mkdir(parents=True)
    # The original run's judges and their call counts are not this run's: the gate must not read them.
    manifest = {**{k: v for k, v in old.items() if k != "judges"}, "run_id": run_id, "started_at": utcnow(),
                "status": "running", "rescored_from": old["run_id"], "schema_version": SCHEMA_VERSION,
                "suites": [{"name": s.name, "category": s.category, "path": str(s.path.resolve()), "content_hash": s.content_hash,
                            "cases": len(s.cases), "scorers": scorer_configs(s)} for s in suites]}
    write_manifest(new_dir, manifest)
    n_total = stored.num_rows
    n_scored = _score_stored(stored, suites, judge_configs, opts, new_dir, run_id)
    manifest["rescore"] = {"responses": n_total, "skipped_not_in_suites": n_total - n_scored}
    # As in `run`: the cases (100k: ~240 MB) and the stored columns are not needed by the gate, so they
    # are released before it reads the new files back (100k responses: peak 612 -> 500 MB).
    suites = [replace(s, cases=()) for s in suites]
    del stored
    return conclude(new_dir, suites, manifest, None, [], baseline_run=opts.baseline,
                    baseline_target=opts.baseline_target, junit=opts.junit, summary_md=opts.summary_md)


def _in_run_order(stored, suites, targets: list[str]):
    """The stored responses numbered and sorted by the suites given (results/writer.renumber, in_order);
    `expected` is the new suites' (what the new scores compare with), `input` stays what was asked (filled
    from the suites for a run written before those columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalharness.results.schema import expected_text, input_text
    from evalharness.results.writer import in_order, renumber

    stored = renumber(stored, [(s.name, [lc.case.id for lc in s.cases]) for s in suites], targets)
    cases = {(s.name, lc.case.id): lc.case for s in suites for lc in s.cases}
    texts: dict[tuple, tuple] = {}
    for k in zip(stored["suite"].to_pylist(), stored["case_id"].to_pylist()):
        if k in cases and k not in texts:
            c = cases[k]
            msgs = None if c.messages is None else [m.model_dump() for m in c.messages]
            texts[k] = (input_text(c.input, msgs), expected_text(c.expected))
    keys = list(zip(stored["suite"].to_pylist(), stored["case_id"].to_pylist()))
    found = pa.array([k in texts for k in keys], pa.bool_())
    new_input = pa.array([texts[k][0] if k in texts else None for k in keys], pa.string())
    new_expected = pa.array([texts[k][1] if k in texts else None for k in keys], pa.string())
    i, e = stored.schema.get_field_index("input"), stored.schema.get_field_index("expected")
    stored = stored.set_column(i, "input", pc.coalesce(stored["input"], new_input))
    stored = stored.set_column(e, "expected", pc.if_else(found, new_expected, stored["expected"]))
    return in_order(stored)[0]


def _score_stored(stored, suites, judge_configs, opts, new_dir: Path, run_id: str) -> int:
    """Copy the stored responses that belong to the suites into new_dir (new run id) and write their
    new scores there. Returns how many responses were scored."""
    import pyarrow as pa

    from evalharness.engine.progress import make_progress
    from evalharness.engine.scoring import plan, score_inline
    from evalharness.results.schema import RESPONSES_FILE, SCORES_FILE
    from evalharness.results.writer import write_atomic
    from evalharness.scorers.base import Sample

    lookup = {(s.name, lc.case.id): (s, lc) for s in suites for lc in s.cases}
    # What the scorers read, as native values (None stays None), column by column.
    cols = {c: stored[c].to_pylist() for c in STORED}
    keep = [k in lookup for k in zip(cols["suite"], cols["case_id"])]
    # Responses whose case is not in the suites given are left out of the new run (and counted).
    kept = stored.filter(pa.array(keep, pa.bool_()))
    kept = kept.set_column(kept.schema.get_field_index("run_id"), "run_id", pa.array([run_id] * kept.num_rows, pa.string()))
    write_atomic(kept, new_dir / RESPONSES_FILE)
    del kept
    todo = [i for i, k in enumerate(keep) if k]
    scores = ScoreColumns(run_id)

    c_suite, c_case, c_error, c_output = cols["suite"], cols["case_id"], cols["error"], cols["output"]
    c_messages, c_calls, c_finish = cols["messages"], cols["tool_calls"], cols["finish_reason"]
    c_latency, c_tokens, c_rid, c_target = cols["latency_ms"], cols["output_tokens"], cols["response_id"], cols["target"]

    def sample(i: int, services) -> tuple[Sample, str | None]:
        suite, lc = lookup[(c_suite[i], c_case[i])]
        case = lc.case
        error = c_error[i]
        return Sample(
            case_id=case.id, output=c_output[i] or "", expected=case.expected, context=case.context,
            messages=_loads(c_messages[i]), tool_calls=_loads(c_calls[i]),
            tools=case.tools if case.tools is not None else suite.suite.tools,
            expected_tool_calls=None if case.expected_tool_calls is None
            else [c.model_dump() for c in case.expected_tool_calls],
            finish_reason=c_finish[i], latency_ms=c_latency[i], output_tokens=c_tokens[i],
            metadata=case.metadata, suite=suite.name, services=services,
        ), error if isinstance(error, str) else None

    def scorers_of(i: int):
        return lookup[(c_suite[i], c_case[i])][1].scorers

    def store(i: int, scored: list) -> None:
        scores.add(c_rid[i], c_suite[i], c_case[i], c_target[i], scored)

    label = f"rescore {run_id}"
    if not judge_configs and not any(plan(lc.scorers).staged for s in suites for lc in s.cases):
        # Only inline scorers: the columnar fast path, synchronous (the same score_inline as `run`).
        with make_progress(len(todo), label) as progress:
            for k, i in enumerate(todo):
                smp, error = sample(i, None)
                store(i, score_inline(plan(scorers_of(i)), smp, error))
                if k % 1000 == 999:
                    progress.advance(n=1000)
            progress.advance(n=len(todo) % 1000)
    else:
        _score_with_judges(opts, judge_configs, new_dir, todo, sample, scorers_of, store, label)
    write_atomic(scores.table(), new_dir / SCORES_FILE)
    return len(todo)


def _score_with_judges(opts, judge_configs, new_dir, todo, sample, scorers_of, store, label) -> None:
    """Judge scorers: `run`'s scoring stage (engine/scoring.py), fed with the stored responses instead of
    a generation stage. Results are stored in the responses' order."""
    from functools import partial

    from evalharness.engine.progress import make_progress
    from evalharness.engine.scoring import JudgeMeter, ScoringStage, pending_limit, plan, score_inline

    cache = None
    if judge_configs and opts.cache:
        from evalharness.engine.cache import ResponseCache, default_cache_dir

        cache = ResponseCache(Path(opts.cache_dir) if opts.cache_dir else default_cache_dir())
    try:
        with contextlib.ExitStack() as stack:
            judge_rts = start_judges(judge_configs, Launcher(stack, new_dir)) if judge_configs else {}
            # No targets here: pairwise `against: <target>` has no reference output (a judge error).
            services = judge_services(judge_rts, cache, load_baseline(opts.baseline)) if judge_rts else None
            results: list = [None] * len(todo)

            async def go() -> None:
                try:
                    with make_progress(len(todo), label) as progress:
                        if services is not None:
                            JudgeMeter(progress.judge_calls).attach(services)

                        def done(k: int, scored: list) -> None:
                            results[k] = scored
                            progress.advance()

                        async with ScoringStage(pending_limit(services)) as stage:
                            for k, i in enumerate(todo):
                                smp, error = sample(i, services)
                                await stage.submit(smp, score_inline(plan(scorers_of(i)), smp, error),
                                                   partial(done, k))
                finally:
                    for rt in judge_rts.values():
                        await rt.client.aclose()

            run_loop(go())
            for k, i in enumerate(todo):
                store(i, results[k])
    finally:
        if cache:
            cache.close()
