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


def case_table(run_dir: Path) -> pd.DataFrame:
    """One row per suite x target x case: passed (all repeats), score (mean), output (first repeat)."""
    r = pd.read_parquet(run_dir / RESPONSES_FILE)
    s = pd.read_parquet(run_dir / SCORES_FILE)
    v = response_verdicts(r, s).sort_values("repeat")
    return v.groupby(["suite", "target", "case_id"], sort=True).agg(
        passed=("passed", "all"), score=("score", "mean"), output=("output", "first")).reset_index()


@dataclass
class SuiteDelta:
    suite: str
    target: str
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


def compare_runs(run_a: Path, run_b: Path, *, significance: float = 0.05, max_regression: float = 0.0,
                 seed: int = 0) -> tuple[list[SuiteDelta], pd.DataFrame]:
    a, b = case_table(run_a), case_table(run_b)
    if a["target"].nunique() == 1 and b["target"].nunique() == 1:
        b = b.assign(target=a["target"].iloc[0])
    pairs = a.merge(b, on=["suite", "target", "case_id"], suffixes=("_a", "_b"))
    out = []
    for (suite, target), df in pairs.groupby(["suite", "target"], sort=True):
        pa, pb = df["passed_a"].astype(float).tolist(), df["passed_b"].astype(float).tolist()
        delta, lo, hi = paired_bootstrap_ci(pa, pb, seed=seed)
        regressed = df.loc[df.passed_a & ~df.passed_b, "case_id"].tolist()
        improved = df.loc[~df.passed_a & df.passed_b, "case_id"].tolist()
        p = mcnemar_exact(len(regressed), len(improved))
        sd = SuiteDelta(suite, target, len(df), sum(pa) / len(pa), sum(pb) / len(pb), delta, lo, hi, p, regressed, improved)
        sd.significant_regression = delta < -max_regression and p < significance
        out.append(sd)
    return out, pairs
