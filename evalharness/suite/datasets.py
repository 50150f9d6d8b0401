"""Read dataset rows (JSONL, CSV, Parquet) with the line/row each came from."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from evalharness.suite.errors import Problem

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str], list[Problem]]:
    """Return ([(line, row)], column names, problems). Line is 1-based (Parquet: row number)."""
    fmt = FORMATS.get(path.suffix.lower())
    file = str(path)
    if fmt is None:
        return [], [], [Problem(file, None, "", f"unsupported dataset format '{path.suffix}' (use .jsonl, .csv or .parquet)")]
    if not path.is_file():
        return [], [], [Problem(file, None, "", "dataset file not found")]
    if fmt == "jsonl":
        return _jsonl(path)
    if fmt == "csv":
        return _csv(path)
    return _parquet(path)


def _jsonl(path: Path):
    import orjson

    rows, problems, cols = [], [], {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:  # NaN literals, integers beyond 64 bits, and the error text
                    obj = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(Problem(str(path), n, "", f"invalid JSON: {e.msg} (column {e.colno})"))
                continue
            if not isinstance(obj, dict):
                problems.append(Problem(str(path), n, "", "each line must be a JSON object"))
                continue
            cols.update(dict.fromkeys(obj))
            rows.append((n, obj))
    return rows, list(cols), problems


def _csv(path: Path):
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        cols = list(reader.fieldnames or [])
        for row in reader:
            rows.append((reader.line_num, {k: v for k, v in row.items() if k is not None}))
    return rows, cols, []


def _parquet(path: Path):
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a bad file
        return [], [], [Problem(str(path), None, "", f"cannot read Parquet: {e}")]
    return list(enumerate(table.to_pylist(), 1)), table.column_names, []
