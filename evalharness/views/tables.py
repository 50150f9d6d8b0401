"""Load the results of selected runs and aggregate them: leaderboard, cost and speed, trends.

Every number comes from `responses.parquet` and `scores.parquet` through `gate.response_verdicts`, the
same verdict the gate uses, so the UI and the CLI never disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evalharness.results.schema import RESPONSES, RESPONSES_FILE, SCORES, SCORES_FILE

VERDICT_RESPONSE_COLUMNS = ["run_id", "response_id", "suite", "category", "case_id", "target", "model", "repeat",
                            "latency_ms", "input_tokens", "output_tokens", "error", "tags"]
VERDICT_SCORE_COLUMNS = ["response_id", "scorer", "score", "passed", "metric_only", "judge_input_tokens",
                         "judge_output_tokens"]


def label_targets(df: pd.DataFrame, n_runs: int) -> pd.DataFrame:
    """`who`: the column a row belongs to. With several runs the same target name may appear in each, so
    the run id is added ("small @ 2026-11-22T03-51-22Z-ab12cd")."""
    df = df.copy()
    df["who"] = df["target"] if n_runs <= 1 else df["target"] + " @ " + df["run_id"]
    return df


def read_many(run_dirs: list[Path], name: str, columns: list[str], schema) -> pd.DataFrame:
    """The same table from several runs in one multi-threaded Arrow scan; columns an older run lacks
    come back as nulls (the dataset's schema is the current one)."""
    import pyarrow.dataset as ds

    files = [str(Path(d) / name) for d in run_dirs]
    return ds.dataset(files, schema=schema, format="parquet").to_table(columns=columns).to_pandas()


def load_verdicts(run_dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(verdicts: one row per response with `passed`, `score`, `judge_tokens`, `who`; scores)."""
    from evalharness.gate import response_verdicts

    responses = read_many(run_dirs, RESPONSES_FILE, VERDICT_RESPONSE_COLUMNS, RESPONSES)
    scores = read_many(run_dirs, SCORES_FILE, VERDICT_SCORE_COLUMNS, SCORES)
    verdicts = response_verdicts(responses, scores)
    return label_targets(verdicts, len(run_dirs)), scores


def leaderboard(verdicts: pd.DataFrame, by: str = "category") -> pd.DataFrame:
    """Long form: who x `by` (category, suite) with pass rate, its 95% Wilson CI, mean score and n,
    plus `best`: the highest pass rate in that column (ties are all best)."""
    cols = ["who", by, "pass_rate", "ci_low", "ci_high", "mean_score", "n", "best"]
    if verdicts.empty:
        return pd.DataFrame(columns=cols)
    out = verdicts.groupby(["who", by], sort=True, observed=True).agg(
        passes=("passed", "sum"), n=("passed", "size"), mean_score=("score", "mean")).reset_index()
    out = pd.concat([out, wilson_frame(out["passes"], out["n"])], axis=1)
    top = out.groupby(by)["pass_rate"].transform("max")
    out["best"] = out["pass_rate"] >= top - 1e-12
    return out[cols]


def wilson_frame(passes: pd.Series, n: pd.Series, z: float = 1.959963984540054) -> pd.DataFrame:
    """Vectorised `stats.wilson` (the 95% Wilson score interval) with the pass rate."""
    import numpy as np

    n_ = n.astype("float64").where(n > 0)
    p = passes.astype("float64") / n_
    centre = (p + z * z / (2 * n_)) / (1 + z * z / n_)
    half = z * np.sqrt(p * (1 - p) / n_ + z * z / (4 * n_ * n_)) / (1 + z * z / n_)
    return pd.DataFrame({"pass_rate": p, "ci_low": (centre - half).clip(lower=0.0),
                         "ci_high": (centre + half).clip(upper=1.0)}, index=passes.index)


def fmt_cell(r) -> str:
    if not r.n:
        return "—"
    return f"{r.pass_rate:.0%} [{r.ci_low:.0%}–{r.ci_high:.0%}] · {r.mean_score:.2f} (n={r.n})"


def leaderboard_wide(long: pd.DataFrame, by: str = "category") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table of formatted cells, same-shape boolean table of best cells) for display."""
    if long.empty:
        return pd.DataFrame(), pd.DataFrame()
    long = long.assign(cell=[fmt_cell(r) for r in long.itertuples()])
    text = long.pivot(index="who", columns=by, values="cell").fillna("—")
    best = long.pivot(index="who", columns=by, values="best").reindex_like(text).fillna(False).astype(bool)
    return text, best


def cost_speed(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per target: responses, errors, p50/p95 latency, tokens per case, judge tokens."""
    cols = ["who", "model", "responses", "errors", "p50_ms", "p95_ms", "input_tokens_per_case",
            "output_tokens_per_case", "tokens_per_case", "judge_tokens"]
    if verdicts.empty:
        return pd.DataFrame(columns=cols)
    v = verdicts.assign(
        inp=verdicts["input_tokens"].astype("float64"), outp=verdicts["output_tokens"].astype("float64"),
        erred=verdicts["error"].notna(), model=verdicts["model"].astype(object).fillna("?").astype(str))
    v["tok"] = (v["inp"].fillna(0) + v["outp"].fillna(0)).where(v["inp"].notna() | v["outp"].notna())
    g = v.groupby("who", sort=True)
    out = pd.DataFrame({
        "model": g["model"].agg(lambda m: ", ".join(sorted(set(m)))), "responses": g.size(),
        "errors": g["erred"].sum(), "p50_ms": g["latency_ms"].quantile(0.5), "p95_ms": g["latency_ms"].quantile(0.95),
        "input_tokens_per_case": g["inp"].mean(), "output_tokens_per_case": g["outp"].mean(),
        "tokens_per_case": g["tok"].mean(), "judge_tokens": g["judge_tokens"].sum(),
    }).reset_index()
    return out[cols]


def run_summary(run_dir: Path, manifest: dict | None = None) -> list[dict]:
    """Suite x target pass rates of one run: from run.json when the run stored them, else from Parquet."""
    from evalharness.gate import response_verdicts, summary_rows

    if manifest is None:
        manifest = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    if isinstance(manifest.get("summary"), list):
        return manifest["summary"]
    r = read_many([run_dir], RESPONSES_FILE, VERDICT_RESPONSE_COLUMNS, RESPONSES)
    s = read_many([run_dir], SCORES_FILE, VERDICT_SCORE_COLUMNS, SCORES)
    return summary_rows(response_verdicts(r, s))


BASELINE_COLUMNS = ["suite", "target", "baseline", "n", "pass_before", "pass_now", "delta", "ci_low", "ci_high",
                    "p_value", "pass_to_fail", "fail_to_pass"]


def baseline_table(manifest: dict) -> pd.DataFrame:
    """The run's comparison with its --baseline as run.json stored it (paired by compare.pair_targets,
    the rule the gate used): one row per suite x target, the baseline side named `TARGET@RUN`."""
    base = manifest.get("baseline") or {}
    rows = [{"suite": d["suite"], "target": d["target"], "baseline": f"{d['baseline_target']}@{d['baseline_run']}",
             "n": d["n"], "pass_before": d["pass_a"], "pass_now": d["pass_b"], "delta": d["delta"],
             "ci_low": d["ci_low"], "ci_high": d["ci_high"], "p_value": d["p_value"],
             "pass_to_fail": len(d["regressed"]), "fail_to_pass": len(d["improved"])}
            for d in base.get("deltas") or [] if d.get("scope") == "overall"]
    return pd.DataFrame(rows, columns=BASELINE_COLUMNS)


def trends(runs: pd.DataFrame, summaries: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per run x suite x target: started_at, pass_rate, git_sha, model (for hover)."""
    rows = []
    for r in runs.itertuples():
        for s in summaries.get(r.path) or []:
            rows.append({"run_id": r.run_id, "started_at": r.started_at, "git_sha": (r.git_sha or "")[:12],
                         "models": r.models, "suite": s.get("suite"), "target": s.get("target"),
                         "pass_rate": s.get("pass_rate"), "responses": s.get("responses")})
    cols = ["run_id", "started_at", "git_sha", "models", "suite", "target", "pass_rate", "responses"]
    return pd.DataFrame(rows, columns=cols).sort_values("started_at") if rows else pd.DataFrame(columns=cols)
