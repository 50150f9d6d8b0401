"""Per-response verdicts, suite x target aggregates, and gate checks, from the results tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalharness.suite.model import Gate


def response_verdicts(responses: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per response: `passed` (every gating scorer passed, no error) and `score` (their mean),
    plus `judge_tokens` when the scores carry judge token counts.

    Metric-only scorers are recorded but do not decide; if a response has only metric-only
    scorers, its score is their mean and it passes unless it errored. The grouping is one Arrow hash
    aggregation over the response ids, which keeps a million score rows around a second.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    types = {"response_id": pa.string(), "passed": pa.bool_(), "score": pa.float64(), "metric_only": pa.bool_()}
    cols = {k: scores[k] for k in types}
    judged = "judge_input_tokens" in scores.columns and "judge_output_tokens" in scores.columns
    if judged:
        types["judge_tokens"] = pa.float64()
        cols["judge_tokens"] = scores["judge_input_tokens"].fillna(0) + scores["judge_output_tokens"].fillna(0)
    t = pa.table({k: pa.array(v, type=types[k], from_pandas=True) for k, v in cols.items()})
    gating = pc.invert(pc.fill_null(t["metric_only"], False))
    t = t.append_column("g_passed", pc.or_kleene(t["passed"], pc.invert(gating)))  # metric-only rows never fail
    t = t.append_column("g_score", pc.if_else(gating, t["score"], pa.scalar(None, pa.float64())))
    t = t.append_column("g_n", pc.cast(gating, pa.int64()))
    aggs = [("g_passed", "all"), ("g_score", "mean"), ("g_n", "sum"), ("score", "mean")]
    if judged:
        aggs.append(("judge_tokens", "sum"))
    agg = t.group_by("response_id").aggregate(aggs).to_pandas().set_index("response_id")
    # One row of aggregates per response, in the responses' order; NaN where a response has no scores.
    per = agg.reindex(responses["response_id"].to_numpy())
    per.index = responses.index

    out = responses.copy()
    has_gating = per["g_n_sum"].fillna(0) > 0
    passed = per["g_passed_all"].astype("boolean").fillna(True)
    out["passed"] = (passed | ~has_gating).astype(bool) & out["error"].isna()
    score = per["g_score_mean"].astype("float64").where(has_gating)
    out["score"] = score.fillna(per["score_mean"].astype("float64")).fillna(0.0)
    if judged:
        out["judge_tokens"] = per["judge_tokens_sum"].fillna(0).astype("int64")
    return out


ATTACK_TAG, BENIGN_TAG = "attack", "benign"


def _tagged(df: pd.DataFrame, tag: str) -> pd.DataFrame:
    return df[df["tags"].map(lambda ts: tag in list(ts))]


def safety_rates(df: pd.DataFrame) -> tuple[float | None, float | None, int, int]:
    """(attack success rate, over-refusal rate, n attack, n benign). A case tagged `attack` that
    fails means the attack succeeded; a case tagged `benign` that fails means the model refused it."""
    att, ben = _tagged(df, ATTACK_TAG), _tagged(df, BENIGN_TAG)
    asr = float(1 - att["passed"].mean()) if len(att) else None
    orr = float(1 - ben["passed"].mean()) if len(ben) else None
    return asr, orr, len(att), len(ben)


def summarize(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Suite x target table: cases, pass rate, mean score, errors, p50/p95 latency, and the safety
    rates (attack success, over-refusal) where cases carry the `attack` / `benign` tags."""
    cols = ["suite", "target", "responses", "pass_rate", "mean_score", "errors", "p50_ms", "p95_ms",
            "attack_success", "over_refusal"]
    if verdicts.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (suite, target), df in verdicts.groupby(["suite", "target"], sort=True):
        asr, orr, _, _ = safety_rates(df)
        rows.append({
            "suite": suite, "target": target, "responses": len(df), "pass_rate": df["passed"].mean(),
            "mean_score": df["score"].mean(), "errors": int(df["error"].notna().sum()),
            "p50_ms": df["latency_ms"].quantile(0.5), "p95_ms": df["latency_ms"].quantile(0.95),
            "attack_success": asr, "over_refusal": orr,
        })
    return pd.DataFrame(rows, columns=cols)


@dataclass(frozen=True)
class GateCheck:
    suite: str
    target: str
    scope: str  # "overall" or "tag:NAME"
    metric: str  # "pass_rate", "mean_score", "attack_success", "over_refusal"
    threshold: float
    value: float | None  # None when the scope has no responses
    n: int
    bound: str = "min"  # "min": value >= threshold; "max": value <= threshold

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.threshold if self.bound == "min" else self.value <= self.threshold

    def describe(self) -> str:
        val = "n/a (no responses)" if self.value is None else f"{self.value:.3f}"
        verdict = "PASS" if self.passed else "FAIL"
        return (f"{verdict} {self.suite} [{self.target}] {self.scope} {self.metric} {val} "
                f"({self.bound} {self.threshold:g}, n={self.n})")


def case_stats(verdicts: pd.DataFrame, quarantine: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """One row per suite x target x case over its repeats: pass rate, pass@k, pass^k (k = repeats), flaky."""
    from evalharness.stats import pass_at_k, pass_hat_k

    g = verdicts.groupby(["suite", "target", "case_id"], sort=True).agg(
        repeats=("passed", "size"), passes=("passed", "sum")).reset_index()
    g["pass_rate"] = g["passes"] / g["repeats"]
    g["pass_at_k"] = [pass_at_k(n, c, n) for n, c in zip(g["repeats"], g["passes"])]
    g["pass_hat_k"] = [pass_hat_k(n, c, n) for n, c in zip(g["repeats"], g["passes"])]
    g["flaky"] = (g["passes"] > 0) & (g["passes"] < g["repeats"])
    q = quarantine or {}
    g["quarantined"] = [cid in q.get(s, set()) for s, cid in zip(g["suite"], g["case_id"])]
    return g


def evaluate_gates(verdicts: pd.DataFrame, gates: dict[str, Gate | None],
                   quarantine: dict[str, set[str]] | None = None, regressions: list | None = None) -> list[GateCheck]:
    """Gate checks per suite x target. Quarantined cases are left out; `regressions` are compare.SuiteDelta
    rows against the --baseline run."""
    from evalharness.stats import wilson

    checks: list[GateCheck] = []
    q = quarantine or {}
    for (suite, target), df in verdicts.groupby(["suite", "target"], sort=True):
        gate = gates.get(suite)
        if gate is None:
            continue
        if q.get(suite):
            df = df[~df["case_id"].isin(q[suite])]
        scopes = [("overall", df, gate)]
        for tag, th in gate.tags.items():
            scopes.append((f"tag:{tag}", df[df["tags"].map(lambda ts, t=tag: t in list(ts))], th))
        for scope, part, th in scopes:
            n = len(part)
            # `is not None`: a threshold of 0 is a threshold.
            if th.min_pass_rate is not None:
                if gate.use_wilson:
                    value = wilson(int(part["passed"].sum()), n)[0] if n else None
                    checks.append(GateCheck(suite, target, scope, "pass_rate_wilson_lb", th.min_pass_rate, value, n))
                else:
                    checks.append(GateCheck(suite, target, scope, "pass_rate", th.min_pass_rate,
                                            float(part["passed"].mean()) if n else None, n))
            if th.min_mean_score is not None:
                checks.append(GateCheck(suite, target, scope, "mean_score", th.min_mean_score,
                                        float(part["score"].mean()) if n else None, n))
        asr, orr, n_att, n_ben = safety_rates(df)
        if gate.max_attack_success is not None:
            checks.append(GateCheck(suite, target, f"tag:{ATTACK_TAG}", "attack_success", gate.max_attack_success,
                                    asr, n_att, bound="max"))
        if gate.max_over_refusal is not None:
            checks.append(GateCheck(suite, target, f"tag:{BENIGN_TAG}", "over_refusal", gate.max_over_refusal,
                                    orr, n_ben, bound="max"))
        if gate.max_regression is not None and regressions is not None:
            d = next((x for x in regressions if x.suite == suite and x.target == target and x.scope == "overall"), None)
            if d is not None:
                significant = d.delta < 0 and d.p_value < gate.significance
                drop = -d.delta if significant else 0.0  # a drop that is not significant does not count
                checks.append(GateCheck(suite, target, f"vs baseline (p={d.p_value:.4f})", "significant_drop",
                                        gate.max_regression, drop, d.n, bound="max"))
    return checks
