"""`evalharness calibrate`: judge the recorded outputs and compare each judge scorer with the cases' labels."""

from __future__ import annotations

from evalharness.conclude import RunOutcome
from evalharness.lifecycle.execute import execute
from evalharness.lifecycle.options import RunOptions


def calibrate_run(opts: RunOptions) -> tuple[RunOutcome, list[dict]]:
    """Judge the recorded outputs (target `recorded`) and compare each judge scorer with the cases' labels."""
    import pyarrow.parquet as pq

    from evalharness.judges.calibration import agreement, label_passes
    from evalharness.results.manifest import read_manifest, write_manifest
    from evalharness.results.schema import SCORES_FILE
    from evalharness.suite.loader import load_suites

    suites = load_suites(opts.paths, root=opts.suite_root, trust_endpoints=opts.trust_suite_endpoints)
    labels = {(s.name, lc.case.id): lc.case.label for s in suites for lc in s.cases if lc.case.label is not None}
    judge_scorers = {(s.name, b.name) for s in suites for lc in s.cases for b in lc.scorers if b.needs_judge}
    outcome = execute(opts)
    scores = pq.read_table(outcome.run_dir / SCORES_FILE).to_pandas()
    report = []
    for (suite, name), df in scores.groupby(["suite", "scorer"], sort=True):
        if (suite, name) not in judge_scorers:
            continue
        df = df[[(suite, c) in labels for c in df["case_id"]]]
        ok = df[df["judge_error"].isna()]
        human = [label_passes(labels[(suite, c)]) for c in ok["case_id"]]
        human_scores = [None if isinstance(labels[(suite, c)], (bool, str)) else float(labels[(suite, c)])
                        for c in ok["case_id"]]
        a = agreement(list(ok["passed"]), human, list(ok["score"]), human_scores)
        errors = df["judge_error"].dropna()
        # the first judge error, so a calibration with n = 0 says why (e.g. a verdict off the scale)
        report.append({"suite": suite, "scorer": name, "judge_errors": int(len(errors)),
                       "first_judge_error": str(errors.iloc[0])[:300] if len(errors) else None, **a})
    manifest = read_manifest(outcome.run_dir)
    manifest["calibration"] = report
    write_manifest(outcome.run_dir, manifest)
    return outcome, report
