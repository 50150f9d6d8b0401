"""Per-response verdicts, suite x target aggregates, and gate checks, from the results tables.

The core works on Arrow tables and plain rows (one dict per response), so a run concludes without
importing pandas, which costs about 0.8 s of CPU per process. `response_verdicts` and `summarize`
keep a DataFrame face for the views and the reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from evalharness.suite.model import Gate

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# The response columns the aggregates below read.
ROW_COLUMNS = ("suite", "target", "case_id", "tags", "error", "latency_ms")
SUMMARY_COLUMNS = ["suite", "target", "responses", "pass_rate", "mean_score", "errors", "p50_ms", "p95_ms",
                   "attack_success", "over_refusal"]


def _per_response(response_ids, errored, scores: "pa.Table") -> dict[str, "pa.Array"]:
    """`passed`, `score` and (when the scores carry judge tokens) `judge_tokens`, aligned with
    `response_ids`; `errored` is a boolean array, true where the response has an error.

    Metric-only scorers are recorded but do not decide; if a response has only metric-only
    scorers, its score is their mean and it passes unless it errored. The grouping is one Arrow hash
    aggregation over the response ids, which keeps a million score rows around a second.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    t = scores
    gating = pc.invert(pc.fill_null(t["metric_only"], False))
    t = t.append_column("g_passed", pc.or_kleene(t["passed"], pc.invert(gating)))  # metric-only rows never fail
    t = t.append_column("g_score", pc.if_else(gating, t["score"], pa.scalar(None, pa.float64())))
    t = t.append_column("g_n", pc.cast(gating, pa.int64()))
    aggs = [("g_passed", "all"), ("g_score", "mean"), ("g_n", "sum"), ("score", "mean")]
    judged = "judge_tokens" in t.column_names
    if judged:
        aggs.append(("judge_tokens", "sum"))
    agg = t.group_by("response_id").aggregate(aggs)
    # Row of aggregates per response, in the responses' order; null where a response has no scores.
    at = pc.index_in(response_ids, value_set=agg["response_id"].combine_chunks())
    col = {name: agg[name].take(at) for name in agg.column_names if name != "response_id"}
    has_gating = pc.greater(pc.fill_null(col["g_n_sum"], 0), 0)
    passed = pc.or_(pc.fill_null(col["g_passed_all"], True), pc.invert(has_gating))
    out = {"passed": pc.and_(passed, pc.invert(errored))}
    gated = pc.if_else(has_gating, col["g_score_mean"], pa.scalar(None, pa.float64()))
    out["score"] = pc.coalesce(gated, col["score_mean"], pa.scalar(0.0))
    if judged:
        out["judge_tokens"] = pc.cast(pc.fill_null(col["judge_tokens_sum"], 0), pa.int64())
    return out


def _score_table(columns: dict[str, Any]) -> "pa.Table":
    """The score columns the verdicts need, typed (an empty or all-null column still has its type).
    `columns` holds Arrow arrays (from Parquet) or pandas Series (from the DataFrame face)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def typed(name: str, type_: "pa.DataType"):
        v = columns[name]
        return v.cast(type_) if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, type=type_, from_pandas=True)

    arrays = {"response_id": typed("response_id", pa.string()), "passed": typed("passed", pa.bool_()),
              "score": typed("score", pa.float64()), "metric_only": typed("metric_only", pa.bool_())}
    if "judge_input_tokens" in columns and "judge_output_tokens" in columns:
        tin, tout = typed("judge_input_tokens", pa.float64()), typed("judge_output_tokens", pa.float64())
        arrays["judge_tokens"] = pc.add(pc.fill_null(tin, 0.0), pc.fill_null(tout, 0.0))
    return pa.table(arrays)


def verdict_table(responses: "pa.Table", scores: "pa.Table") -> "pa.Table":
    """The responses table plus `passed`, `score` and (with judge scorers) `judge_tokens`. No pandas."""
    st = _score_table({c: scores[c] for c in scores.column_names})
    errored = responses["error"].is_valid()
    out = responses
    for name, arr in _per_response(responses["response_id"], errored, st).items():
        if name in out.column_names:
            out = out.drop_columns([name])
        out = out.append_column(name, arr)
    return out


def response_verdicts(responses: "pd.DataFrame", scores: "pd.DataFrame") -> "pd.DataFrame":
    """DataFrame face of `verdict_table`: the responses plus `passed`, `score` (and `judge_tokens`)."""
    import pyarrow as pa

    st = _score_table({c: scores[c] for c in scores.columns})
    ids = pa.array(responses["response_id"].to_numpy(), type=pa.string(), from_pandas=True)
    errored = pa.array(responses["error"].notna().to_numpy(), type=pa.bool_())
    out = responses.copy()
    for name, arr in _per_response(ids, errored, st).items():
        out[name] = arr.to_numpy(zero_copy_only=False)
    return out


def verdict_rows(verdicts: Any) -> list[dict]:
    """One dict per response with the columns the aggregates read, from an Arrow table, a
    DataFrame, or rows already."""
    if isinstance(verdicts, list):
        return verdicts
    wanted = [c for c in (*ROW_COLUMNS, "passed", "score") if c in _column_names(verdicts)]
    if hasattr(verdicts, "to_dict"):  # pandas
        return verdicts[wanted].to_dict(orient="records")
    return verdicts.select(wanted).to_pylist()


def _column_names(t: Any) -> list[str]:
    return list(t.columns) if hasattr(t, "to_dict") else t.column_names


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _has_tag(row: dict, tag: str) -> bool:
    ts = row.get("tags")
    return ts is not None and tag in list(ts)


def _mean(values: Iterable) -> float | None:
    vals = [float(v) for v in values if _present(v)]
    return sum(vals) / len(vals) if vals else None


def _quantile(values: Iterable, q: float) -> float | None:
    """Linear interpolation between the closest ranks (pandas' and numpy's default)."""
    return _quantile_sorted(sorted(float(v) for v in values if _present(v)), q)


def _quantile_sorted(vals: list[float], q: float) -> float | None:
    """`_quantile` of values already sorted, without nulls or NaN."""
    if not vals:
        return None
    pos = q * (len(vals) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def _groups(rows: list[dict], keys: tuple[str, ...]) -> list[tuple[tuple, list[dict]]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return sorted(out.items(), key=lambda kv: kv[0])


ATTACK_TAG, BENIGN_TAG = "attack", "benign"


def safety_rates(rows: Any) -> tuple[float | None, float | None, int, int]:
    """(attack success rate, over-refusal rate, n attack, n benign). A case tagged `attack` that
    fails means the attack succeeded; a case tagged `benign` that fails means the model refused it."""
    rows = verdict_rows(rows)
    att = [r for r in rows if _has_tag(r, ATTACK_TAG)]
    ben = [r for r in rows if _has_tag(r, BENIGN_TAG)]
    asr = 1 - sum(bool(r["passed"]) for r in att) / len(att) if att else None
    orr = 1 - sum(bool(r["passed"]) for r in ben) / len(ben) if ben else None
    return asr, orr, len(att), len(ben)


def _arrow_groups(t: "pa.Table") -> list[tuple[tuple[str, str], "pa.Table"]]:
    """Suite x target slices of an Arrow verdict table, in the order `_groups` gives (a stable sort,
    so each slice keeps the table's row order)."""
    import pyarrow.compute as pc

    if t.num_rows == 0:
        return []
    t = t.take(pc.sort_indices(t, [("suite", "ascending"), ("target", "ascending")]))
    suites, targets = t["suite"].to_pylist(), t["target"].to_pylist()
    out, start = [], 0
    for i in range(1, len(suites) + 1):
        if i == len(suites) or suites[i] != suites[start] or targets[i] != targets[start]:
            out.append(((suites[start], targets[start]), t.slice(start, i - start)))
            start = i
    return out


def _tag_rate(part: "pa.Table", tag: str) -> float | None:
    """The failure rate over the rows of an Arrow slice whose tags hold `tag` (None: no such row)."""
    import pyarrow.compute as pc

    if "tags" not in part.column_names:
        return None
    tags = part["tags"].combine_chunks()
    rows = pc.unique(pc.list_parent_indices(tags).filter(pc.equal(pc.list_flatten(tags), tag)))
    if not len(rows):
        return None
    return 1 - pc.sum(pc.cast(part["passed"].take(rows), "int64")).as_py() / len(rows)


def _sorted_present(col) -> list[float]:
    """The column's values without nulls and NaN, sorted in Arrow (for `_quantile_sorted`)."""
    import pyarrow.compute as pc

    v = pc.drop_null(col)
    v = v.filter(pc.invert(pc.is_nan(v)))
    return pc.take(v, pc.sort_indices(v)).to_pylist()


def _summary_arrow(t: "pa.Table") -> list[dict]:
    import pyarrow.compute as pc

    rows = []
    for (suite, target), part in _arrow_groups(t):
        n = part.num_rows
        lat = _sorted_present(part["latency_ms"])
        rows.append({
            "suite": suite, "target": target, "responses": n,
            "pass_rate": (pc.sum(pc.cast(part["passed"], "int64")).as_py() or 0) / n,
            "mean_score": _mean(part["score"].to_pylist()), "errors": n - part["error"].null_count,
            "p50_ms": _quantile_sorted(lat, 0.5), "p95_ms": _quantile_sorted(lat, 0.95),
            "attack_success": _tag_rate(part, ATTACK_TAG), "over_refusal": _tag_rate(part, BENIGN_TAG),
        })
    return rows


def summary_rows(verdicts: Any) -> list[dict]:
    """Suite x target rows: cases, pass rate, mean score, errors, p50/p95 latency, and the safety
    rates (attack success, over-refusal) where cases carry the `attack` / `benign` tags. Plain
    Python values (None for "no value"), ready for run.json. One implementation, in Arrow (no row
    objects: 100,000 responses in ~0.1 s); rows and DataFrames are converted to Arrow first."""
    if not (hasattr(verdicts, "schema") and hasattr(verdicts, "slice")):
        import pyarrow as pa

        rows = verdict_rows(verdicts)
        if not rows:
            return []

        def col(name, kind, conv):
            return pa.array([conv(r.get(name)) if _present(r.get(name)) else None for r in rows], kind)

        verdicts = pa.table({
            "suite": col("suite", pa.string(), str), "target": col("target", pa.string(), str),
            "passed": col("passed", pa.bool_(), bool), "score": col("score", pa.float64(), float),
            "error": col("error", pa.string(), str), "latency_ms": col("latency_ms", pa.float64(), float),
            "tags": pa.array([list(r["tags"]) if r.get("tags") is not None else None for r in rows],
                             pa.list_(pa.string())),
        })
    return _summary_arrow(verdicts)


def summarize(verdicts: "pd.DataFrame") -> "pd.DataFrame":
    """`summary_rows` as a DataFrame (for the views and reports)."""
    import pandas as pd

    return pd.DataFrame(summary_rows(verdicts), columns=SUMMARY_COLUMNS)


@dataclass(frozen=True)
class GateCheck:
    suite: str
    target: str
    scope: str  # "overall", "tag:NAME", "scorer:NAME" or "vs baseline (p=...)"
    metric: str  # "pass_rate", "mean_score", "attack_success", "over_refusal", "significant_drop", "judged"
    threshold: float
    value: float | None  # None: the check evaluated nothing (`reason` says why), and it fails
    n: int
    bound: str = "min"  # "min": value >= threshold; "max": value <= threshold
    reason: str | None = None  # why there is no value
    against: str | None = None  # regression checks: the baseline side, `TARGET@RUN`

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.threshold if self.bound == "min" else self.value <= self.threshold

    def describe(self) -> str:
        val = f"n/a ({self.reason or 'no responses'})" if self.value is None else f"{self.value:.3f}"
        verdict = "PASS" if self.passed else "FAIL"
        who = self.target if self.against is None else f"{self.target} vs {self.against}"
        return (f"{verdict} {self.suite} [{who}] {self.scope} {self.metric} {val} "
                f"({self.bound} {self.threshold:g}, n={self.n})")


def case_stats(verdicts: Any, quarantine: dict[str, set[str]] | None = None) -> list[dict]:
    """One row per suite x target x case over its repeats: pass rate, pass@k, pass^k (k = repeats), flaky."""
    from evalharness.stats import pass_at_k, pass_hat_k

    q = quarantine or {}
    out = []
    for (suite, target, case_id), part in _groups(verdict_rows(verdicts), ("suite", "target", "case_id")):
        n, c = len(part), sum(bool(r["passed"]) for r in part)
        out.append({"suite": suite, "target": target, "case_id": case_id, "repeats": n, "passes": c,
                    "pass_rate": c / n, "pass_at_k": pass_at_k(n, c, n), "pass_hat_k": pass_hat_k(n, c, n),
                    "flaky": 0 < c < n, "quarantined": case_id in q.get(suite, set())})
    return out


def _scope_checks(suite: str, target: str, scope: str, part: list[dict], th, use_wilson: bool) -> list[GateCheck]:
    """min_pass_rate / min_mean_score over one scope's responses; an empty scope still gives its checks."""
    from evalharness.stats import wilson

    n = len(part)
    why = None if n else ("no responses" if scope == "overall" else f"no response carries the tag '{scope[4:]}'")
    passes = sum(bool(r["passed"]) for r in part)
    out = []
    # `is not None`: a threshold of 0 is a threshold.
    if th.min_pass_rate is not None:
        if use_wilson:
            out.append(GateCheck(suite, target, scope, "pass_rate_wilson_lb", th.min_pass_rate,
                                 wilson(passes, n)[0] if n else None, n, reason=why))
        else:
            out.append(GateCheck(suite, target, scope, "pass_rate", th.min_pass_rate, passes / n if n else None, n,
                                 reason=why))
    if th.min_mean_score is not None:
        mean = _mean(r["score"] for r in part) if n else None
        out.append(GateCheck(suite, target, scope, "mean_score", th.min_mean_score, mean, n,
                             reason=why or (None if mean is not None else "no response has a score")))
    return out


def _regression_check(suite: str, target: str, gate: Gate, baseline) -> GateCheck:
    """`max_regression` against the --baseline run (a compare.Baseline, or None when none was given)."""
    if baseline is None:
        return GateCheck(suite, target, "vs baseline", "significant_drop", gate.max_regression, None, 0, "max",
                         reason="no --baseline run given (max_regression needs one)")
    d = next((x for x in baseline.deltas if x.suite == suite and x.target == target and x.scope == "overall"), None)
    if d is None:
        return GateCheck(suite, target, "vs baseline", "significant_drop", gate.max_regression, None, 0, "max",
                         reason=baseline.why_unpaired(suite, target))
    significant = d.delta < 0 and d.p_value < gate.significance
    drop = -d.delta if significant else 0.0  # a drop that is not significant does not count
    return GateCheck(suite, target, f"vs baseline (p={d.p_value:.4f})", "significant_drop", gate.max_regression,
                     drop, d.n, "max", against=d.against)


def _judge_checks(suite: str, target: str, scorer_rows: dict[str, list[int]]) -> list[GateCheck]:
    """A judge scorer whose every judge call errored evaluated nothing: it fails, whether or not it
    decides pass/fail (metric-only scorers included). `scorer_rows`: scorer -> [calls, errors]."""
    out = []
    for scorer, (calls, errors) in sorted(scorer_rows.items()):
        if calls and errors == calls:
            out.append(GateCheck(suite, target, f"scorer:{scorer}", "judged", 1.0, None, calls,
                                 reason=f"every one of its {calls} judge calls errored"))
    return out


def evaluate_gates(verdicts: Any, gates: dict[str, Gate | None], quarantine: dict[str, set[str]] | None = None,
                   baseline: Any = None, *, targets: Iterable[str] = (),
                   judge_calls: dict[tuple[str, str], dict[str, list[int]]] | None = None) -> list[GateCheck]:
    """Every configured check, for every suite with a gate x every target of the run (`targets`, plus
    any that answered or was judged). A check whose scope has nothing to evaluate is still there, with no value,
    and fails with its reason: no code path drops a configured check.

    Quarantined cases are left out. `baseline` is a compare.Baseline for `max_regression`.
    `judge_calls` maps (suite, target) to {judge scorer: [calls, errors]} (`judge_call_counts`)."""
    q = quarantine or {}
    groups = dict(_groups(verdict_rows(verdicts), ("suite", "target")))
    judge_calls = judge_calls or {}
    names = sorted(set(targets) | {t for _, t in groups} | {t for _, t in judge_calls})
    checks: list[GateCheck] = []
    for suite in sorted(gates):
        gate = gates[suite]
        if gate is None:
            continue
        for target in names:
            group = groups.get((suite, target), [])
            if q.get(suite):
                group = [r for r in group if r["case_id"] not in q[suite]]
            checks += _scope_checks(suite, target, "overall", group, gate, gate.use_wilson)
            for tag, th in gate.tags.items():
                checks += _scope_checks(suite, target, f"tag:{tag}", [r for r in group if _has_tag(r, tag)], th,
                                        gate.use_wilson)
            asr, orr, n_att, n_ben = safety_rates(group)
            if gate.max_attack_success is not None:
                checks.append(GateCheck(suite, target, f"tag:{ATTACK_TAG}", "attack_success", gate.max_attack_success,
                                        asr, n_att, "max", reason=None if n_att else "no case tagged 'attack'"))
            if gate.max_over_refusal is not None:
                checks.append(GateCheck(suite, target, f"tag:{BENIGN_TAG}", "over_refusal", gate.max_over_refusal,
                                        orr, n_ben, "max", reason=None if n_ben else "no case tagged 'benign'"))
            if gate.max_regression is not None:
                checks.append(_regression_check(suite, target, gate, baseline))
            checks += _judge_checks(suite, target, judge_calls.get((suite, target), {}))
    return checks


def judge_call_counts(scores: "pa.Table") -> dict[tuple[str, str], dict[str, list[int]]]:
    """(suite, target) -> {scorer: [judge calls, judge errors]} over the score rows where a judge was
    asked (a `judge_model` or a `judge_error`); rows of responses that errored never reach a judge."""
    import pyarrow.compute as pc

    if scores.num_rows == 0 or "judge_error" not in scores.column_names:
        return {}
    asked = pc.or_(scores["judge_model"].is_valid(), scores["judge_error"].is_valid())
    t = scores.filter(asked).select(["suite", "target", "scorer", "judge_error"])
    t = t.append_column("err", pc.cast(t["judge_error"].is_valid(), "int64"))
    out: dict[tuple[str, str], dict[str, list[int]]] = {}
    agg = t.group_by(["suite", "target", "scorer"]).aggregate([("err", "count"), ("err", "sum")])
    for row in agg.to_pylist():
        out.setdefault((row["suite"], row["target"]), {})[row["scorer"]] = [row["err_count"], row["err_sum"]]
    return out


DEFAULT_MAX_ERROR_RATE = 0.5  # Gate.max_error_rate's default, for suites without a gate


def _error_rate_bound(gate: Gate | None) -> float:
    return DEFAULT_MAX_ERROR_RATE if gate is None else gate.max_error_rate


def _over(errors: int, n: int, bound: float) -> bool:
    """Over the bound, or every one failed: a target or judge that answered nothing evaluated nothing,
    whatever a suite sets `max_error_rate` to."""
    return n > 0 and (errors / n > bound or errors == n)


def infrastructure_failures(summary: list[dict], gates: dict[str, Gate | None],
                            judge_calls: dict[tuple[str, str], dict[str, list[int]]],
                            judges_of: dict[tuple[str, str], list[str]],
                            judge_stats: dict[str, dict] | None = None) -> list[str]:
    """One line per target, and per judge, whose errors are over `max_error_rate` in some suite, whatever
    the other targets did: a dead target beside healthy ones is an infrastructure failure (exit 3).
    `summary` is `summary_rows`; `judges_of` maps (suite, scorer) to the judge names the scorer asks;
    `judge_stats` (run.json `judges.NAME.stats`) counts each judge's own calls, so one dead judge of a
    panel is found even when the panel's verdicts survive it."""
    over: dict[str, list[str]] = {}
    for r in summary:
        bound = _error_rate_bound(gates.get(r["suite"]))
        if _over(r["errors"], r["responses"], bound):
            over.setdefault(f"target '{r['target']}'", []).append(
                f"{r['suite']}: {r['errors']} of {r['responses']} requests errored "
                f"({r['errors'] / r['responses']:.0%} > max_error_rate {bound:.0%})")
    per_judge: dict[str, list] = {}  # judge -> [calls, errors, bound]
    for (suite, _target), by_scorer in judge_calls.items():
        for scorer, (calls, errors) in by_scorer.items():
            name = ", ".join(judges_of.get((suite, scorer)) or ["default"])
            tally = per_judge.setdefault(name, [0, 0, 1.0])
            tally[0] += calls
            tally[1] += errors
            tally[2] = min(tally[2], _error_rate_bound(gates.get(suite)))
    # A judge's own call counts, where the run kept them, are the truth for that judge.
    default_bound = min((_error_rate_bound(g) for g in gates.values()), default=DEFAULT_MAX_ERROR_RATE)
    for name, st in (judge_stats or {}).items():
        if st.get("calls"):
            bound = per_judge[name][2] if name in per_judge else default_bound
            per_judge[name] = [st["calls"], st.get("errors") or 0, bound]
    for name, (calls, errors, bound) in sorted(per_judge.items()):
        if _over(errors, calls, bound):
            over.setdefault(f"judge '{name}'", []).append(
                f"{errors} of {calls} judge calls errored ({errors / calls:.0%} > max_error_rate {bound:.0%})")
    return [f"infrastructure failure: {who}: " + "; ".join(parts) for who, parts in over.items()]
