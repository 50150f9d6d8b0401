"""UI responsiveness on a large reports directory: 200 runs, 1,000,000 score rows.

    python benchmarks/ui_load.py [--runs 200] [--responses 2500] [--keep DIR]

Generates runs with the real results schemas (responses.parquet, scores.parquet, run.json with its
suite x target summary, as the engine writes them), then drives the real app with Streamlit's AppTest
and prints wall times: the first page load (catalog of every run), each page for one run, a filter
change, and the leaderboard and trends over all 200 runs. Each step runs in a fresh AppTest, so the
first figure includes loading; the "again" figures are Streamlit's cache at work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalharness.gate import response_verdicts, summary_rows  # noqa: E402
from evalharness.results.schema import RESPONSES, SCHEMA_VERSION, SCORES  # noqa: E402

SUITES = [("qa", "accuracy"), ("rag", "hallucination"), ("harm", "safety"), ("tools", "tool_calling"),
          ("reg", "regression")]
TARGETS = ["gemma-270m", "qwen-1.5b", "llama-8b"]


def make_run(reports: Path, i: int, n_resp: int, rng: np.random.Generator) -> int:
    run_id = f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}T02-00-00Z-{i:06x}"
    d = reports / run_id
    d.mkdir(parents=True)
    k = np.arange(n_resp)
    target = np.array(TARGETS)[k % len(TARGETS)]
    suite_ix = (k // len(TARGETS)) % len(SUITES)
    suite = np.array([s for s, _ in SUITES])[suite_ix]
    category = np.array([c for _, c in SUITES])[suite_ix]
    case = np.char.add("case-", (k // (len(TARGETS) * len(SUITES))).astype(str))
    rid = np.char.add(f"{run_id}:", k.astype(str))
    skill = np.where(target == "gemma-270m", 0.35, np.where(target == "qwen-1.5b", 0.7, 0.9)) + 0.001 * (i % 20)
    latency = rng.gamma(2.0, np.where(target == "gemma-270m", 40, np.where(target == "qwen-1.5b", 120, 400)))
    outputs = [f"answer {x} from {t}" for x, t in zip(k, target)]
    responses = pa.table({
        "run_id": [run_id] * n_resp, "response_id": rid, "suite": suite, "category": category, "case_id": case,
        "target": target, "model": target, "repeat": np.zeros(n_resp, dtype=np.int32),
        "messages": [json.dumps([{"role": "user", "content": f"question {x}"}]) for x in k], "output": outputs,
        "tool_calls": [None] * n_resp, "finish_reason": ["stop"] * n_resp, "latency_ms": latency,
        "ttft_ms": [None] * n_resp, "input_tokens": rng.integers(20, 400, n_resp),
        "output_tokens": rng.integers(5, 200, n_resp), "error": [None] * n_resp, "cached": np.zeros(n_resp, bool),
        "tags": [["smoke"] if x % 7 == 0 else [] for x in k],
    }, schema=RESPONSES)
    passed = rng.random((2, n_resp)) < skill
    sc = {
        "run_id": [run_id] * (2 * n_resp), "response_id": np.concatenate([rid, rid]),
        "suite": np.concatenate([suite, suite]), "case_id": np.concatenate([case, case]),
        "target": np.concatenate([target, target]), "scorer": ["contains"] * n_resp + ["rubric"] * n_resp,
        "score": np.concatenate([passed[0], passed[1]]).astype(float), "passed": np.concatenate([passed[0], passed[1]]),
        "reason": ["ok"] * (2 * n_resp), "metric_only": np.zeros(2 * n_resp, bool),
        "verdict": [None] * n_resp + ['{"score": 4}'] * n_resp, "judge_model": [None] * n_resp + ["judge"] * n_resp,
        "judge_input_tokens": [None] * n_resp + [300] * n_resp, "judge_output_tokens": [None] * n_resp + [20] * n_resp,
        "judge_error": [None] * (2 * n_resp),
    }
    scores = pa.table(sc, schema=SCORES)
    pq.write_table(responses, d / "responses.parquet")
    pq.write_table(scores, d / "scores.parquet")
    summary = summary_rows(response_verdicts(responses.to_pandas(), scores.to_pandas()))
    manifest = {"run_id": run_id, "started_at": f"{run_id[:10]}T02:00:00+00:00", "status": "complete",
                "schema_version": SCHEMA_VERSION, "git_sha": f"{i:040x}",
                "suites": [{"name": s, "category": c} for s, c in SUITES],
                "targets": [{"name": t, "model": t} for t in TARGETS],
                "counts": {"responses": n_resp, "errors": 0}, "gate": {"passed": i % 3 != 0, "checks": [{}]},
                "summary": summary}
    (d / "run.json").write_text(json.dumps(manifest))
    return len(scores)


def timed(label: str, fn) -> float:
    t = time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    print(f"{label:<58} {dt:7.2f} s")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--responses", type=int, default=2500, help="responses per run (2 score rows each)")
    ap.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    a = ap.parse_args()
    reports = a.keep or Path(tempfile.mkdtemp(prefix="eh-ui-bench-")) / "reports"
    rng = np.random.default_rng(7)
    t = time.perf_counter()
    if not reports.exists() or not any(reports.iterdir()):
        rows = sum(make_run(reports, i, a.responses, rng) for i in range(a.runs))
        print(f"generated {a.runs} runs, {rows:,} score rows in {time.perf_counter() - t:.1f} s "
              f"({sum(f.stat().st_size for f in reports.rglob('*.parquet')) / 1e6:.0f} MB of Parquet)")
    from streamlit.testing.v1 import AppTest

    os.environ["EVALHARNESS_REPORTS"] = str(reports)
    app = str(ROOT / "app" / "main.py")
    at = AppTest.from_file(app, default_timeout=600)
    timed("first page load (Runs: catalog of every run)", at.run)
    assert not at.exception, at.exception
    timed("rerun of the same page (cached catalog)", at.run)
    for page in ("Leaderboard", "Right-size", "Side by side", "Trends"):
        timed(f"{page}, newest run selected (first time)", lambda p=page: at.sidebar.radio(key="page").set_value(p).run())
        assert not at.exception, (page, at.exception)
    at.sidebar.radio(key="page").set_value("Side by side").run()
    timed("side by side: filter change (failed only)", lambda: at.checkbox(key="sbs_failed").check().run())
    timed("side by side: filter change (text search)", lambda: at.text_input(key="sbs_search").input("answer 17").run())
    timed("side by side: next case", lambda: at.button(key="sbs_next").click().run())
    at.sidebar.radio(key="page").set_value("Leaderboard").run()
    all_runs = list(at.sidebar.multiselect(key="runs").options)
    timed(f"leaderboard over all {len(all_runs)} runs (first time)",
          lambda: at.sidebar.multiselect(key="runs").set_value(all_runs).run())
    assert not at.exception, at.exception
    timed("leaderboard over all runs: filter change (columns = suite)",
          lambda: at.radio(key="lb_by").set_value("suite").run())
    timed("leaderboard over all runs: again (cached)", at.run)
    if not a.keep:
        shutil.rmtree(reports.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
