"""Load the results of selected runs and aggregate them: leaderboard, cost and speed, trends.

Every number comes from `responses.parquet` and `scores.parquet` through `gate.response_verdicts`, the
same verdict the gate uses, so the UI and the CLI never disagree.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from evalharness.results.schema import RESPONSES, RESPONSES_FILE, SCORES, SCORES_FILE

VERDICT_RESPONSE_COLUMNS = ["run_id", "response_id", "suite", "category", "case_id", "target", "model", "repeat",
                            "latency_ms", "input_tokens", "output_tokens", "error", "tags"]
VERDICT_SCORE_COLUMNS = ["response_id", "scorer", "score", "passed", "reason", "metric_only",
                         "judge_input_tokens", "judge_output_tokens", "judge_error"]


def read_columns(path: Path, columns: list[str], schema) -> pd.DataFrame:
    """Read only `columns`; a column an older schema lacks comes back as nulls of the current type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    table = pq.read_table(path, columns=[c for c in columns if c in present])
    for c in columns:
        if c not in present:
            table = table.append_column(c, pa.nulls(len(table), schema.field(c).type))
    return table.select(columns).to_pandas()


def label_targets(df: pd.DataFrame, n_runs: int) -> pd.DataFrame:
    """`who`: the column a row belongs to. With several runs the same target name may appear in each, so
    the run id is added ("small @ 2026-11-22T03-51-22Z-ab12cd")."""
    df = df.copy()
    df["who"] = df["target"] if n_runs <= 1 else df["target"] + " @ " + df["run_id"]
    return df


def load_verdicts(run_dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(verdicts: one row per response with `passed`, `score`, `judge_tokens`, `who`; scores)."""
    from evalharness.gate import response_verdicts

    rs, ss = [], []
    for d in run_dirs:
        rs.append(read_columns(Path(d) / RESPONSES_FILE, VERDICT_RESPONSE_COLUMNS, RESPONSES))
        ss.append(read_columns(Path(d) / SCORES_FILE, VERDICT_SCORE_COLUMNS, SCORES))
    responses = pd.concat(rs, ignore_index=True) if rs else pd.DataFrame(columns=VERDICT_RESPONSE_COLUMNS)
    scores = pd.concat(ss, ignore_index=True) if ss else pd.DataFrame(columns=VERDICT_SCORE_COLUMNS)
    verdicts = response_verdicts(responses, scores)
    jt = (scores["judge_input_tokens"].fillna(0) + scores["judge_output_tokens"].fillna(0)).groupby(
        scores["response_id"]).sum()
    verdicts["judge_tokens"] = verdicts["response_id"].map(jt).fillna(0).astype("int64")
    return label_targets(verdicts, len(run_dirs)), scores


def rate_cell(passes: int, n: int) -> dict:
    from evalharness.stats import wilson

    lo, hi = wilson(passes, n) if n else (float("nan"), float("nan"))
    return {"pass_rate": passes / n if n else float("nan"), "ci_low": lo, "ci_high": hi, "n": n}


def leaderboard(verdicts: pd.DataFrame, by: str = "category") -> pd.DataFrame:
    """Long form: who x `by` (category, suite) with pass rate, its 95% Wilson CI, mean score and n,
    plus `best`: the highest pass rate in that column (ties are all best)."""
    cols = ["who", by, "pass_rate", "ci_low", "ci_high", "mean_score", "n", "best"]
    if verdicts.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (who, key), df in verdicts.groupby(["who", by], sort=True):
        rows.append({"who": who, by: key, **rate_cell(int(df["passed"].sum()), len(df)),
                     "mean_score": float(df["score"].mean())})
    out = pd.DataFrame(rows)
    top = out.groupby(by)["pass_rate"].transform("max")
    out["best"] = out["pass_rate"] >= top - 1e-12
    return out[cols]


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
    rows = []
    for who, df in verdicts.groupby("who", sort=True):
        inp, outp = df["input_tokens"].astype("float64"), df["output_tokens"].astype("float64")
        rows.append({
            "who": who, "model": ", ".join(sorted({str(m) for m in df["model"].dropna()})),
            "responses": len(df), "errors": int(df["error"].notna().sum()),
            "p50_ms": df["latency_ms"].quantile(0.5), "p95_ms": df["latency_ms"].quantile(0.95),
            "input_tokens_per_case": inp.mean(), "output_tokens_per_case": outp.mean(),
            "tokens_per_case": (inp.fillna(0) + outp.fillna(0)).mean() if inp.notna().any() or outp.notna().any()
            else float("nan"),
            "judge_tokens": int(df["judge_tokens"].sum()),
        })
    return pd.DataFrame(rows, columns=cols)


def _clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def summary_records(summary: pd.DataFrame) -> list[dict]:
    """The suite x target summary as JSON-safe records (stored in run.json for the Trends page)."""
    return [{k: _clean(v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in summary.to_dict(orient="records")]


def run_summary(run_dir: Path, manifest: dict | None = None) -> list[dict]:
    """Suite x target pass rates of one run: from run.json when the run stored them, else from Parquet."""
    from evalharness.gate import response_verdicts, summarize

    if manifest is None:
        manifest = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    if isinstance(manifest.get("summary"), list):
        return manifest["summary"]
    r = read_columns(Path(run_dir) / RESPONSES_FILE, VERDICT_RESPONSE_COLUMNS, RESPONSES)
    s = read_columns(Path(run_dir) / SCORES_FILE, VERDICT_SCORE_COLUMNS, SCORES)
    return summary_records(summarize(response_verdicts(r, s)))


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
