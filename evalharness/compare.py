"""Compare two runs: paired pass-rate deltas with a bootstrap CI, exact McNemar on the flips.

Cases are paired by suite, case id and target. When each run has a single target (a model swap),
targets are paired whatever their names. A regression fails only when it is significant
(McNemar p < significance) and larger than `max_regression`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalharness.gate import response_verdicts
from evalharness.results.schema import RESPONSES_FILE, SCORES_FILE
from evalharness.stats import mcnemar_exact, paired_bootstrap_ci


def case_table(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cases, per-scorer): one row per suite x target x case (passed over all repeats, mean score,
    first output, tags), and one per suite x target x case x scorer."""
    r = pd.read_parquet(run_dir / RESPONSES_FILE)
    s = pd.read_parquet(run_dir / SCORES_FILE)
    v = response_verdicts(r, s).sort_values("repeat")
    cases = v.groupby(["suite", "target", "case_id"], sort=True).agg(
        passed=("passed", "all"), score=("score", "mean"), output=("output", "first"),
        tags=("tags", lambda t: sorted({x for ts in t for x in ts}))).reset_index()
    per_scorer = s.groupby(["suite", "target", "case_id", "scorer"], sort=True).agg(passed=("passed", "all")).reset_index()
    return cases, per_scorer


@dataclass
class SuiteDelta:
    suite: str
    target: str
    scope: str  # "overall", "tag:NAME" or "scorer:NAME"
    n: int
    pass_a: float
    pass_b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    regressed: list[str] = field(default_factory=list)  # pass -> fail
    improved: list[str] = field(default_factory=list)  # fail -> pass
    significant_regression: bool = False


def _delta(suite, target, scope, df, significance, max_regression, seed) -> SuiteDelta:
    pa, pb = df["passed_a"].astype(float).tolist(), df["passed_b"].astype(float).tolist()
    delta, lo, hi = paired_bootstrap_ci(pa, pb, seed=seed)
    regressed = df.loc[df.passed_a & ~df.passed_b, "case_id"].tolist()
    improved = df.loc[~df.passed_a & df.passed_b, "case_id"].tolist()
    p = mcnemar_exact(len(regressed), len(improved))
    sd = SuiteDelta(suite, target, scope, len(df), sum(pa) / len(pa), sum(pb) / len(pb), delta, lo, hi, p,
                    regressed, improved)
    sd.significant_regression = delta < -max_regression and p < significance
    return sd


def compare_runs(run_a: Path, run_b: Path, *, significance: float = 0.05, max_regression: float = 0.0,
                 seed: int = 0, breakdown: bool = True) -> tuple[list[SuiteDelta], pd.DataFrame]:
    """Deltas per suite x target ("overall"), and with `breakdown` also per tag and per scorer."""
    (a, sa), (b, sb) = case_table(run_a), case_table(run_b)
    if a["target"].nunique() == 1 and b["target"].nunique() == 1:
        b = b.assign(target=a["target"].iloc[0])
        sb = sb.assign(target=a["target"].iloc[0])
    keys = ["suite", "target", "case_id"]
    pairs = a.merge(b.drop(columns=["tags"]), on=keys, suffixes=("_a", "_b"))
    out = []
    args = (significance, max_regression, seed)
    for (suite, target), df in pairs.groupby(["suite", "target"], sort=True):
        out.append(_delta(suite, target, "overall", df, *args))
        if not breakdown:
            continue
        for tag in sorted({t for ts in df["tags"] for t in ts}):
            out.append(_delta(suite, target, f"tag:{tag}", df[df["tags"].map(lambda ts, t=tag: t in ts)], *args))
        sp = sa[(sa.suite == suite) & (sa.target == target)].merge(
            sb[(sb.suite == suite) & (sb.target == target)], on=keys + ["scorer"], suffixes=("_a", "_b"))
        for scorer_name, sdf in sp.groupby("scorer", sort=True):
            out.append(_delta(suite, target, f"scorer:{scorer_name}", sdf, *args))
    return out, pairs
