"""The results schema shared by the runner, the gate, the reports and the UI.

responses.parquet, one row per (suite, case, target, repeat):

- `input`: the case's user input as text: `input:` as written (or rendered from a dataset row), or for a
  `messages:` case the content of its last `user` message (null when it has none). `expected`: the
  case's `expected:` as text: a string as is, any other value as compact JSON, null when there is none.
  Both come from untrusted suites: each is at most MAX_TEXT_CHARS characters (a longer one is cut and
  ends with TRUNCATED_MARK). `messages` keeps the full request.
- `suite_index`, `case_index`, `target_index`: where the row sits in the run: the suite's position among
  the run's suites (the loader's order: suite files by path), the case's among the suite's cases the run
  ran (YAML / dataset order), the target's among the run's targets. Both files are sorted by (suite_index, case_index,
  target_index, repeat) when a run finishes (and by `merge` and `rescore`, which number suites and
  cases from the suite files they load), not in completion order; scores follow their response, in
  the order of the case's scorers. Null in runs written before schema version 3 (those rows sort last).
- token columns are int64, null when the endpoint reported none. The schema carries pandas metadata,
  so `pd.read_parquet` and `to_pandas()` give them (and the order columns) as nullable `Int64` /
  `Int32`, never float.
"""

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
            ("input", pa.string()),  # the last user message's text
            ("expected", pa.string()),  # a string as is, other values as compact JSON; null when none
            ("messages", pa.string()),  # JSON
            ("output", pa.string()),
            ("tool_calls", pa.string()),  # JSON, null when none
            ("finish_reason", pa.string()),
            ("latency_ms", pa.float64()),
            ("ttft_ms", pa.float64()),
            ("input_tokens", pa.int64()),
            ("output_tokens", pa.int64()),
            ("tokens_source", pa.string()),  # endpoint, tokenizer, endpoint+tokenizer; null: no counts
            ("error", pa.string()),
            ("cached", pa.bool_()),
            ("tags", pa.list_(pa.string())),
            ("suite_index", pa.int32()),  # the row's place in the run (ORDER_COLUMNS)
            ("case_index", pa.int32()),
            ("target_index", pa.int32()),
        ]
    )
    RESPONSES = RESPONSES.with_metadata(_pandas_metadata(RESPONSES))

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
    SCORES = SCORES.with_metadata(_pandas_metadata(SCORES))

    return {"RESPONSES": RESPONSES, "SCORES": SCORES}


def _pandas_metadata(schema) -> dict[bytes, bytes]:
    """pandas metadata naming the nullable integer columns (tokens, order) as `Int64` / `Int32`, so that
    pandas never turns them into float64 because one value is null. pandas itself is not imported."""
    import json

    import pyarrow as pa

    cols = [{"name": f.name, "field_name": f.name, "pandas_type": str(f.type),
             "numpy_type": "Int64" if f.type == pa.int64() else "Int32", "metadata": None}
            for f in schema if f.name in NULLABLE_INTEGERS]
    meta = {"index_columns": [], "column_indexes": [], "columns": cols,
            "creator": {"library": "evalharness"}, "pandas_version": "2.0.0"}
    return {b"pandas": json.dumps(meta).encode()}


def __getattr__(name: str) -> Any:
    if name in ("RESPONSES", "SCORES"):
        built = _build()
        globals().update(built)
        return built[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


JUDGE_COLUMNS = ("verdict", "judge_model", "judge_input_tokens", "judge_output_tokens", "judge_error")

SCHEMA_VERSION = 3
"""Version of the two tables above, written to run.json as `schema_version`. 1: before the judge columns;
2: before `input`, `expected`, `tokens_source` and the order columns (rows in completion order)."""
ORDER_COLUMNS = ("suite_index", "case_index", "target_index", "repeat")
"""The sort key of both files (scores take their response's place)."""
NULLABLE_INTEGERS = ("input_tokens", "output_tokens", "judge_input_tokens", "judge_output_tokens",
                     "suite_index", "case_index", "target_index")
MAX_TEXT_CHARS = 1 << 20
"""At most this many characters of `input` and `expected` (the bound of a dataset cell, suite/datasets.py)."""
TRUNCATED_MARK = "…[truncated]"
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


def bounded(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - len(TRUNCATED_MARK)] + TRUNCATED_MARK


def input_text(input: Any, messages: Any) -> str | None:
    """The `input` column: `input` when it is text, else the content of the last user message (text parts
    joined when the content is a list of parts). Null when there is none."""
    if isinstance(input, str):
        return bounded(input)
    for m in reversed(messages if isinstance(messages, list) else []):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                content = "".join(p.get("text") or "" for p in content
                                  if isinstance(p, dict) and isinstance(p.get("text"), str))
            return bounded(content) if isinstance(content, str) else None
    return None


def expected_text(value: Any) -> str | None:
    """The `expected` column: a string as is, any other value as compact JSON (keys in their order, dates
    and other non-JSON values as their text, NaN as null); None stays null."""
    if value is None:
        return None
    if isinstance(value, str):
        return bounded(value)
    import orjson

    try:
        return bounded(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode())
    except (TypeError, orjson.JSONEncodeError):  # deeper than orjson goes, an int over 64 bits, ...
        import json

        try:
            return bounded(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))
        except (TypeError, ValueError, RecursionError):
            return bounded(f"<{type(value).__name__} that is not JSON>")
