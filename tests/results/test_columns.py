"""`input` and `expected` columns, integer token columns in pandas, and runs written before them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalharness import api
from evalharness.errors import ConfigError
from evalharness.results.schema import (
    MAX_TEXT_CHARS, NULLABLE_INTEGERS, SCHEMA_VERSION, TRUNCATED_MARK, expected_text, input_text,
)
from tests.conftest import ServerProc, write

SUITE = """name: cols
category: accuracy
scorers: [{type: contains, value: o}]
cases:
  - {id: plain, input: 'what is 2+2?', expected: '4', output: ok}
  - id: chat
    messages:
      - {role: system, content: be brief}
      - {role: user, content: first question}
      - {role: assistant, content: an answer}
      - {role: user, content: the follow-up}
    expected: {answer: 4, units: [kg, "ü"]}
    output: ok
  - {id: listed, input: q, expected: [1, 2.5, null, true], output: ok}
  - {id: number, input: q, expected: 7, output: ok}
  - {id: none, input: q, output: ok}
  - {id: dated, input: q, expected: 2024-01-02, output: ok}
"""


def test_input_and_expected_columns(tmp_path):
    res = api.run(write(tmp_path / "s.yaml", SUITE), targets=["recorded"], out=tmp_path / "r", cache=False)
    df = api.load_run(res.run_dir).responses_df()
    got = dict(zip(df["case_id"], zip(df["input"], df["expected"])))
    assert got["plain"] == ("what is 2+2?", "4")
    assert got["chat"] == ("the follow-up", '{"answer":4,"units":["kg","ü"]}')
    assert got["listed"] == ("q", "[1,2.5,null,true]")
    assert got["number"] == ("q", "7")
    assert pd.isna(got["none"][1])
    assert got["dated"] == ("q", '"2024-01-02"')  # YAML reads a date: its text, as JSON
    assert list(df["case_id"]) == ["plain", "chat", "listed", "number", "none", "dated"]


def test_long_input_is_bounded(tmp_path):
    long = "x" * (MAX_TEXT_CHARS + 10)
    s = write(tmp_path / "s.yaml", "name: big\ncategory: accuracy\nscorers: [{type: contains, value: o}]\n"
              f"cases:\n  - {{id: a, input: '{long}', expected: '{long}', output: ok}}\n")
    res = api.run(s, targets=["recorded"], out=tmp_path / "r", cache=False)
    row = api.load_run(res.run_dir).responses(["input", "expected", "messages"]).to_pylist()[0]
    for col in ("input", "expected"):
        assert len(row[col]) == MAX_TEXT_CHARS and row[col].endswith(TRUNCATED_MARK)
    assert long in row["messages"]  # the request itself is stored whole


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
                    max_leaves=20))
def test_expected_text_of_any_value(value):
    out = expected_text(value)
    if value is None:
        assert out is None
    elif isinstance(value, str):
        assert out == value
    else:
        assert isinstance(out, str) and len(out) <= MAX_TEXT_CHARS
        back = json.loads(out)  # compact JSON (NaN / infinity become null)
        if finite(value):
            assert back == value


def finite(v) -> bool:
    """No NaN or infinity anywhere inside (JSON has neither: they are stored as null)."""
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list):
        return all(finite(x) for x in v)
    if isinstance(v, dict):
        return all(finite(x) for x in v.values())
    return True


def test_expected_text_of_values_json_cannot_hold():
    deep: list = []
    for _ in range(3000):
        deep = [deep]
    assert expected_text(deep) == "<list that is not JSON>"
    assert expected_text({1: "a"}) == '{"1":"a"}'
    assert expected_text({(2, 3): "b"}) == "<dict that is not JSON>"
    assert expected_text(b"raw") == '"b\'raw\'"'


@given(st.lists(st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "tool"]),
                                       "content": st.none() | st.text()}), max_size=5))
def test_input_text_is_the_last_user_message(messages):
    users = [m for m in messages if m["role"] == "user"]
    assert input_text(None, messages) == (users[-1]["content"] if users else None)
    assert input_text("given", messages) == "given"


def test_input_text_of_content_parts_and_junk():
    parts = [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"text": "b"}, 3]}]
    assert input_text(None, parts) == "ab"
    for junk in (None, "x", 5, [1, "a", None], [{"role": "user", "content": 5}]):
        assert input_text(None, junk) is None


def test_token_columns_are_integers_in_pandas_with_nulls(tmp_path):
    s = write(tmp_path / "s.yaml", "name: tk\ncategory: accuracy\nscorers: [{type: contains, value: o}]\n"
              "cases:\n  - {id: ok, input: 'REPLY=ok'}\n  - {id: bad, input: 'FAULT:500'}\n")
    server = ServerProc()
    try:
        res = api.run(s, targets=[api.Endpoint(server.base_url, "m")], out=tmp_path / "r",
                      transport=api.Transport(max_retries=0), cache=False)
    finally:
        server.stop()
    run = api.load_run(res.run_dir)
    for df in (run.responses_df(), pd.read_parquet(res.run_dir / "responses.parquet"),
               pq.read_table(res.run_dir / "responses.parquet").to_pandas()):
        assert str(df["input_tokens"].dtype) == "Int64" and str(df["output_tokens"].dtype) == "Int64"
        by = df.set_index("case_id")
        assert by.loc["ok", "input_tokens"] > 0 and pd.isna(by.loc["bad", "input_tokens"])  # error: no usage
        assert str(df["case_index"].dtype) == "Int32" and list(df["case_index"]) == [0, 1]
    assert str(run.scores_df()["judge_input_tokens"].dtype) == "Int64"
    assert str(run.responses_df()["repeat"].dtype) == "int32"  # never null: a plain integer column


def _as_old_run(run_dir: Path) -> None:
    """Rewrite a run as schema version 2 wrote it: no new columns, no pandas metadata."""
    new = {"input", "expected", "tokens_source", "suite_index", "case_index", "target_index"}
    for name in ("responses.parquet", "scores.parquet"):
        t = pq.read_table(run_dir / name)
        t = t.select([c for c in t.column_names if c not in new]).replace_schema_metadata(None)
        pq.write_table(t, run_dir / name)
    m = json.loads((run_dir / "run.json").read_text())
    m["schema_version"] = 2
    (run_dir / "run.json").write_text(json.dumps(m))


def test_runs_written_before_the_new_columns_still_load(tmp_path):
    from evalharness.views.tables import load_verdicts

    res = api.run(write(tmp_path / "s" / "s.yaml", SUITE), targets=["recorded"], out=tmp_path / "r", cache=False)
    _as_old_run(res.run_dir)
    assert "input_tokens" in pq.read_table(res.run_dir / "responses.parquet").column_names
    run = api.load_run(res.run_dir)
    df = run.responses_df()
    assert df["input"].isna().all() and df["suite_index"].isna().all()
    for col in NULLABLE_INTEGERS:
        if col in df.columns:
            assert str(df[col].dtype) in ("Int64", "Int32"), col
    assert run.responses(["case_id", "expected"])["expected"].null_count == 6
    verdicts, _ = load_verdicts([res.run_dir])
    assert len(verdicts) == 6
    # rescore reads it, numbers and orders it, and fills `input` and `expected` from the suite
    again = api.rescore(res.run_dir, out=tmp_path / "rs", cache=False)
    new = api.load_run(again.run_dir)
    assert new.manifest.schema_version == SCHEMA_VERSION
    got = new.responses_df().set_index("case_id")
    assert got.loc["chat", "input"] == "the follow-up" and got.loc["plain", "expected"] == "4"
    assert list(got["case_index"]) == list(range(6))


def test_a_newer_runs_unknown_columns_are_kept_and_unknown_names_are_a_clear_error(tmp_path):
    res = api.run(write(tmp_path / "s.yaml", SUITE), targets=["recorded"], out=tmp_path / "r", cache=False)
    path = res.run_dir / "responses.parquet"
    t = pq.read_table(path)
    pq.write_table(t.append_column("from_the_future", pa.array(["x"] * t.num_rows)), path)
    run = api.load_run(res.run_dir)
    assert run.responses_df()["from_the_future"].tolist() == ["x"] * 6
    with pytest.raises(ConfigError, match="no column 'nope'"):
        run.responses(["case_id", "nope"])
