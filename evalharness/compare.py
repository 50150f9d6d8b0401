"""Compare two runs: paired pass-rate deltas with a bootstrap CI, exact McNemar on the flips.

Cases are paired by suite and case id, targets by one rule (`pair_targets`), which `compare`, the
run gate, the Markdown summary and the UI all use. A regression fails only when it is significant
(McNemar p < significance) and larger than `max_regression`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalharness.gate import response_verdicts
from evalharness.results.schema import RESPONSES_FILE, SCORES_FILE
from evalharness.stats import mcnemar_exact, paired_bootstrap_ci


class PairingError(ValueError):
    """`--baseline-target` names no target of the baseline run."""


def pair_targets(baseline: list[str], candidate: list[str], explicit: str | None = None) -> dict[str, str]:
    """Candidate target -> the baseline target it is compared with. The one rule:
    1. `explicit` (`--baseline-target NAME`): every candidate target pairs with it;
    2. a target of the same name;
    3. when the baseline has exactly one target (a model swap), every candidate target pairs with it.
    A candidate target that none of these pairs is left out of the mapping (the gate says so)."""
    if explicit is not None:
        if explicit not in baseline:
            raise PairingError(f"--baseline-target '{explicit}' is not a target of the baseline run "
                               f"(its targets: {', '.join(sorted(baseline)) or 'none'})")
        return {c: explicit for c in candidate}
    out = {}
    for c in candidate:
        if c in baseline:
            out[c] = c
        elif len(set(baseline)) == 1:
            out[c] = baseline[0]
    return out


def run_targets(run_dir: Path) -> list[str]:
    """The targets that answered in a finished run (from its responses)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    col = pq.read_table(run_dir / RESPONSES_FILE, columns=["target"])["target"]
    return sorted(pc.unique(col).to_pylist())


def run_suites(run_dir: Path) -> list[str]:
    """The suites that have responses in a finished run."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    col = pq.read_table(run_dir / RESPONSES_FILE, columns=["suite"])["suite"]
    return sorted(pc.unique(col).to_pylist())


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
    target: str  # the candidate's target
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
    baseline_target: str = ""  # the baseline's target it was paired with (pair_targets)
    baseline_run: str = ""  # the baseline run's folder name

    @property
    def against(self) -> str:
        """`A@RUN`: what the candidate was compared with, for gate lines and tables."""
        return f"{self.baseline_target}@{self.baseline_run}"


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


def _as_candidate(base: pd.DataFrame, pairing: dict[str, str]) -> pd.DataFrame:
    """The baseline's rows relabelled with the candidate targets they pair with (a baseline target
    paired with several candidate targets is repeated for each), plus `baseline_target`."""
    parts = [base[base["target"] == b].assign(target=c, baseline_target=b) for c, b in pairing.items()]
    if not parts:
        return base.iloc[0:0].assign(baseline_target=pd.Series(dtype=object))
    return pd.concat(parts, ignore_index=True)


def compare_runs(run_a: Path, run_b: Path, *, significance: float = 0.05, max_regression: float = 0.0,
                 seed: int = 0, breakdown: bool = True, baseline_target: str | None = None
                 ) -> tuple[list[SuiteDelta], pd.DataFrame]:
    """Deltas per suite x candidate target ("overall"), and with `breakdown` also per tag and per
    scorer. `run_a` is the baseline; its targets are paired with `run_b`'s by `pair_targets`."""
    (a, sa), (b, sb) = case_table(run_a), case_table(run_b)
    pairing = pair_targets(sorted(a["target"].unique()), sorted(b["target"].unique()), baseline_target)
    a, sa = _as_candidate(a, pairing), _as_candidate(sa, pairing)
    keys = ["suite", "target", "case_id"]
    pairs = a.merge(b.drop(columns=["tags"]), on=keys, suffixes=("_a", "_b"))
    out = []
    args = (significance, max_regression, seed)
    for (suite, target), df in pairs.groupby(["suite", "target"], sort=True):
        deltas = [_delta(suite, target, "overall", df, *args)]
        if breakdown:
            for tag in sorted({t for ts in df["tags"] for t in ts}):
                deltas.append(_delta(suite, target, f"tag:{tag}", df[df["tags"].map(lambda ts, t=tag: t in ts)], *args))
            sp = sa[(sa.suite == suite) & (sa.target == target)].merge(
                sb[(sb.suite == suite) & (sb.target == target)], on=keys + ["scorer"], suffixes=("_a", "_b"))
            for scorer_name, sdf in sp.groupby("scorer", sort=True):
                deltas.append(_delta(suite, target, f"scorer:{scorer_name}", sdf, *args))
        for d in deltas:
            d.baseline_target, d.baseline_run = pairing[target], run_a.name
        out += deltas
    return out, pairs


@dataclass
class Baseline:
    """What the gate needs to decide `max_regression`: the baseline run, how its targets pair with
    the candidate's (`pair_targets`), and the overall deltas."""

    run: str
    targets: list[str]
    pairing: dict[str, str]
    deltas: list[SuiteDelta]

    def why_unpaired(self, suite: str, target: str) -> str:
        """Why (suite, target) has no delta: the reason a regression check evaluated nothing."""
        if target not in self.pairing:
            return (f"no target of baseline {self.run} pairs with '{target}' (baseline targets: "
                    f"{', '.join(self.targets) or 'none'}; choose one with --baseline-target)")
        return (f"baseline {self.run} has no case of suite '{suite}' in common with this run "
                f"[{target} vs {self.pairing[target]}]")


def compare_with_baseline(baseline_dir: Path, run_dir: Path, baseline_target: str | None = None) -> Baseline:
    """The run gate's comparison: overall deltas only (no per-tag or per-scorer breakdown)."""
    deltas, _ = compare_runs(baseline_dir, run_dir, breakdown=False, baseline_target=baseline_target)
    base_targets = run_targets(baseline_dir)
    pairing = pair_targets(base_targets, run_targets(run_dir), baseline_target)
    return Baseline(baseline_dir.name, base_targets, pairing, deltas)
