"""Read dataset rows (JSONL, CSV, Parquet) with the line/row each came from.

A dataset comes from a pull request. Everything that can go wrong reading it is a Problem (at the row's
line when there is one), never an exception, and its size is bounded: the file, each row, each cell.
"""

from __future__ import annotations

import csv
import json
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from evalharness.suite.errors import Problem
from evalharness.suite.render import size

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

# The file (Parquet: also its uncompressed size). Rows are held in memory as Python objects, several
# times the size of the file; an evaluation set bigger than this belongs in several suites.
MAX_DATASET_BYTES = 512 * 1024 * 1024
# One row, in characters of its cells (a JSONL line is also cut at this many bytes before it is parsed):
# room for a dozen full-size cells.
MAX_ROW_CHARS = 16 * 1024 * 1024
# One cell, with everything nested in it: as long as a rendered prompt may be (render.MAX_RENDER_CHARS),
# about 250,000 tokens, more than any model's context window. Python's csv module stops at 131,072.
MAX_CELL_CHARS = 1 << 20

Rows = list[tuple[int, dict[str, Any]]]


def read_rows(path: Path) -> tuple[Rows, list[str], list[Problem]]:
    """Return ([(line, row)], column names, problems). Line is 1-based (Parquet: row number)."""
    fmt = FORMATS.get(path.suffix.lower())
    file = str(path)
    if fmt is None:
        return [], [], [Problem(file, None, "", f"unsupported dataset format '{path.suffix}' (use .jsonl, .csv or .parquet)")]
    if not path.is_file():
        return [], [], [Problem(file, None, "", "dataset file not found")]
    try:
        if path.stat().st_size > MAX_DATASET_BYTES:
            return [], [], [Problem(file, None, "", f"file is over {MAX_DATASET_BYTES} bytes")]
        if fmt == "jsonl":
            return _jsonl(path)
        if fmt == "csv":
            return _csv(path)
    except OSError as e:  # permission denied, removed meanwhile, an I/O error
        return [], [], [Problem(file, None, "", f"cannot read: {e.strerror or e}")]
    return _parquet(path)


def _row_problems(file: str, n: int, row: dict[str, Any]) -> list[Problem]:
    out = []
    total = 0
    for col, value in row.items():
        chars = size(value, MAX_CELL_CHARS)
        if chars > MAX_CELL_CHARS:
            out.append(Problem(file, n, str(col), f"cell over {MAX_CELL_CHARS} characters"))
        total += chars
    if total > MAX_ROW_CHARS and not out:
        out.append(Problem(file, n, "", f"row over {MAX_ROW_CHARS} characters"))
    return out


def _jsonl(path: Path):
    file = str(path)
    rows, problems, cols = [], [], {}
    with path.open("rb") as f:
        for n, line in enumerate(iter(partial(f.readline, MAX_ROW_CHARS + 1), b""), 1):
            if len(line) > MAX_ROW_CHARS and not line.endswith(b"\n"):
                problems.append(Problem(file, n, "", f"line over {MAX_ROW_CHARS} bytes"))
                _skip_line(f)
                continue
            if not line.strip():
                continue
            obj, error = _parse_json(line)
            if error is None and not isinstance(obj, dict):
                error = "each line must be a JSON object"
            if error is not None:
                problems.append(Problem(file, n, "", error))
                continue
            # `size` counts a JSON value at most 2 per byte of its text, so a line of up to MAX_CELL_CHARS / 2
            # bytes cannot hold an oversized cell.
            bad = _row_problems(file, n, obj) if len(line) > MAX_CELL_CHARS // 2 else []
            if bad:
                problems.extend(bad)
                continue
            cols.update(dict.fromkeys(obj))
            rows.append((n, obj))
    return rows, list(cols), problems


def _skip_line(f: BinaryIO) -> None:
    while (chunk := f.readline(1 << 20)) and not chunk.endswith(b"\n"):
        pass


def _parse_json(line: bytes) -> tuple[Any, str | None]:
    """The value of one JSONL line, or why it has none."""
    try:
        return orjson.loads(line), None
    except orjson.JSONDecodeError:
        pass  # NaN literals, integers beyond 64 bits, escaped lone surrogates; or an error, said by json
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"not UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1})"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, f"invalid JSON: {e.msg} (column {e.colno})"
    except ValueError as e:  # an integer of over 4,300 digits
        return None, f"invalid JSON: {e}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"


def _csv(path: Path):
    file = str(path)
    rows, problems = [], []
    cols: list[str] = []
    # Undecodable bytes become lone surrogates (U+DC80-U+DCFF), reported per row with their line.
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(_bounded_lines(f))
        limit = csv.field_size_limit(MAX_CELL_CHARS)  # a process-wide setting: put back below
        try:
            cols = list(reader.fieldnames or [])
            bad = [Problem(file, 1, "", f"column name not UTF-8 (byte 0x{b:02x})") for b in map(_bad_byte, cols) if b]
            if bad:
                return [], cols, bad
            for row in reader:  # each cell is bounded by the field size limit
                n = reader.line_num
                row = {k: v for k, v in row.items() if k is not None}
                bad = [Problem(file, n, k, f"not UTF-8 (byte 0x{b:02x})") for k, v in row.items()
                       if isinstance(v, str) and (b := _bad_byte(v))]
                if not bad and sum(len(v) for v in row.values() if v) > MAX_ROW_CHARS:
                    bad = [Problem(file, n, "", f"row over {MAX_ROW_CHARS} characters")]
                if bad:
                    problems.extend(bad)
                else:
                    rows.append((n, row))
        # Reading stops at either: the rest of the file cannot be framed reliably. The line is where the record
        # began: line_num counts the lines of the records read whole.
        except _LongLine:
            problems.append(Problem(file, reader.line_num + 1, "", f"line over {MAX_ROW_CHARS} characters"))
        except csv.Error as e:
            msg = f"cell over {MAX_CELL_CHARS} characters" if "field larger than field limit" in str(e) else f"invalid CSV: {e}"
            problems.append(Problem(file, reader.line_num + 1, "", msg))
        finally:
            csv.field_size_limit(limit)
    return rows, cols, problems


class _LongLine(Exception):
    pass


def _bounded_lines(f):
    """The lines of a text file, read at most MAX_ROW_CHARS characters at a time; _LongLine for a longer one."""
    for line in iter(partial(f.readline, MAX_ROW_CHARS + 1), ""):
        if len(line) > MAX_ROW_CHARS and not line.endswith(("\n", "\r")):
            raise _LongLine
        yield line


def _bad_byte(s: str) -> int | None:
    """The first byte that was not UTF-8 in text decoded with errors="surrogateescape"."""
    if s.isascii():
        return None
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        return ord(s[e.start]) - 0xDC00
    return None


# Parquet rows are converted to Python a batch at a time, each checked before the next is read.
_PARQUET_BATCH = 1024


def _parquet(path: Path):
    import pyarrow.parquet as pq

    file = str(path)
    rows: Rows = []
    problems: list[Problem] = []
    try:
        pf = pq.ParquetFile(path)
        meta = pf.metadata
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if unpacked > MAX_DATASET_BYTES:
            return [], [], [Problem(file, None, "", f"over {MAX_DATASET_BYTES} bytes uncompressed")]
        columns = pf.schema_arrow.names
        n = 0
        for batch in pf.iter_batches(batch_size=_PARQUET_BATCH):
            for row in batch.to_pylist():
                n += 1
                bad = _row_problems(file, n, row)
                if bad:
                    problems.extend(bad)
                else:
                    rows.append((n, row))
    except Exception as e:  # pyarrow raises many types (ArrowInvalid, OSError, NotImplementedError...)
        return [], [], [Problem(file, None, "", f"cannot read Parquet: {e}")]
    return rows, columns, problems
