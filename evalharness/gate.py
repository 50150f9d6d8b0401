"""Per-response verdicts, suite x target aggregates, and gate checks, from the results tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalharness.suite.model import Gate


def response_verdicts(responses: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per response: `passed` (every gating scorer passed, no error) and `score` (their mean).

    Metric-only scorers are recorded but do not decide; if a response has only metric-only
    scorers, its score is their mean and it passes unless it errored.
    """
    gating = scores[~scores["metric_only"]]
    agg = gating.groupby("response_id").agg(passed=("passed", "all"), score=("score", "mean"))
    metric = scores.groupby("response_id").agg(metric_score=("score", "mean"))
    out = responses.join(agg, on="response_id").join(metric, on="response_id")
    out["score"] = out["score"].fillna(out["metric_score"]).fillna(0.0)
    out["passed"] = out["passed"].fillna(True).astype(bool) & out["error"].isna()
    return out.drop(columns=["metric_score"])


def summarize(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Suite x target table: cases, pass rate, mean score, errors, p50/p95 latency."""
    if verdicts.empty:
        return pd.DataFrame(columns=["suite", "target", "responses", "pass_rate", "mean_score", "errors", "p50_ms", "p95_ms"])
    g = verdicts.groupby(["suite", "target"], sort=True)
    out = g.agg(
        responses=("response_id", "size"),
        pass_rate=("passed", "mean"),
        mean_score=("score", "mean"),
        errors=("error", lambda s: int(s.notna().sum())),
        p50_ms=("latency_ms", lambda s: s.quantile(0.5)),
        p95_ms=("latency_ms", lambda s: s.quantile(0.95)),
    )
    return out.reset_index()


@dataclass(frozen=True)
class GateCheck:
    suite: str
    target: str
    scope: str  # "overall" or "tag:NAME"
    metric: str  # "pass_rate" or "mean_score"
    threshold: float
    value: float | None  # None when the scope has no responses
    n: int

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.threshold

    def describe(self) -> str:
        val = "n/a (no responses)" if self.value is None else f"{self.value:.3f}"
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict} {self.suite} [{self.target}] {self.scope} {self.metric} {val} (min {self.threshold:g}, n={self.n})"


def evaluate_gates(verdicts: pd.DataFrame, gates: dict[str, Gate | None]) -> list[GateCheck]:
    checks: list[GateCheck] = []
    for (suite, target), df in verdicts.groupby(["suite", "target"], sort=True):
        gate = gates.get(suite)
        if gate is None:
            continue
        scopes = [("overall", df, gate)]
        for tag, th in gate.tags.items():
            scopes.append((f"tag:{tag}", df[df["tags"].map(lambda ts, t=tag: t in list(ts))], th))
        for scope, part, th in scopes:
            n = len(part)
            # `is not None`: a threshold of 0 is a threshold.
            if th.min_pass_rate is not None:
                checks.append(GateCheck(suite, target, scope, "pass_rate", th.min_pass_rate,
                                        float(part["passed"].mean()) if n else None, n))
            if th.min_mean_score is not None:
                checks.append(GateCheck(suite, target, scope, "mean_score", th.min_mean_score,
                                        float(part["score"].mean()) if n else None, n))
    return checks
