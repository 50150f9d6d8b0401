"""The results schema shared by the runner, the gate, the reports and the UI."""

from __future__ import annotations

from typing import Any

# RESPONSES and SCORES (the pyarrow schemas) are built on first use, so code that needs only the
# names and constants below (run.json, the runner) does not import pyarrow before the first request.


def _build() -> dict[str, Any]:
    import pyarrow as pa

    RESPONSES = pa.schema(
        [
            ("run_id", pa.string()),
            ("response_id", pa.string()),
            ("suite", pa.string()),
            ("category", pa.string()),
            ("case_id", pa.string()),
            ("target", pa.string()),
            ("model", pa.string()),
            ("repeat", pa.int32()),
            ("messages", pa.string()),  # JSON
            ("output", pa.string()),
            ("tool_calls", pa.string()),  # JSON, null when none
            ("finish_reason", pa.string()),
            ("latency_ms", pa.float64()),
            ("ttft_ms", pa.float64()),
            ("input_tokens", pa.int64()),
            ("output_tokens", pa.int64()),
            ("error", pa.string()),
            ("cached", pa.bool_()),
            ("tags", pa.list_(pa.string())),
        ]
    )

    SCORES = pa.schema(
        [
            ("run_id", pa.string()),
            ("response_id", pa.string()),
            ("suite", pa.string()),
            ("case_id", pa.string()),
            ("target", pa.string()),
            ("scorer", pa.string()),
            ("score", pa.float64()),
            ("passed", pa.bool_()),
            ("reason", pa.string()),
            ("metric_only", pa.bool_()),
            # LLM judges (null for deterministic scorers)
            ("verdict", pa.string()),  # JSON: every judge's verdicts, values, spread, lean
            ("judge_model", pa.string()),
            ("judge_input_tokens", pa.int64()),
            ("judge_output_tokens", pa.int64()),
            ("judge_error", pa.string()),
        ]
    )

    return {"RESPONSES": RESPONSES, "SCORES": SCORES}


def __getattr__(name: str) -> Any:
    if name in ("RESPONSES", "SCORES"):
        built = _build()
        globals().update(built)
        return built[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


JUDGE_COLUMNS = ("verdict", "judge_model", "judge_input_tokens", "judge_output_tokens", "judge_error")

SCHEMA_VERSION = 2
"""Version of the two tables above, written to run.json as `schema_version`. 1: before the judge columns."""
REQUIRED_RESPONSES = ("response_id", "suite", "case_id", "target", "output", "error", "latency_ms")
REQUIRED_SCORES = ("response_id", "scorer", "score", "passed", "metric_only")

RESPONSES_FILE = "responses.parquet"
SCORES_FILE = "scores.parquet"
MANIFEST_FILE = "run.json"

MANIPULATION_FLAG = "judge_manipulation"
"""The reason prefix (and `verdict.flag`) of a judge score failed before judging: the answer addressed its grader."""


def manipulation_count(scores: Any) -> int:
    """Score rows (a pyarrow table of scores.parquet) failed with the `judge_manipulation` flag."""
    import pyarrow.compute as pc

    if scores.num_rows == 0 or "reason" not in scores.column_names:
        return 0
    hits = pc.starts_with(scores["reason"].fill_null(""), MANIPULATION_FLAG + ": ")
    return int(pc.sum(pc.cast(hits, "int64")).as_py() or 0)
