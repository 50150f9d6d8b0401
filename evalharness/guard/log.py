"""The guard's decision log: Parquet parts under `log_dir`, written by a background thread.

Rows are buffered and written at most `max_age_s` after they were added (a thread wakes on its own,
not when the next request arrives), at once when `batch_rows` are waiting, on SIGTERM (the server
calls `flush_soon`) and on shutdown (`close`). Each part is written to a temporary file and renamed,
so a reader never sees half a file and a killed process loses at most the last `max_age_s` of rows.

On the request path `add` only appends a tuple to a list (the credential scrub of `detail` runs there
too, and only when there is a detail); building the Arrow table and writing it happen on the thread.
Every process (each `--workers` worker) writes parts of its own: `decisions-<time>-<tag><pid>-<n>.parquet`,
so parts never collide and a reader takes every `decisions-*.parquet` in the folder (`read_log`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa

from evalharness.redact import redact
from evalharness.results.writer import write_atomic

LOG_SCHEMA = pa.schema([
    ("time", pa.timestamp("ms", tz="UTC")), ("request_id", pa.string()), ("request_hash", pa.string()),
    ("stage", pa.string()), ("rail", pa.string()), ("action", pa.string()), ("outcome", pa.string()),
    ("detail", pa.string()), ("prompt", pa.string()),
])
_FIELDS = tuple(LOG_SCHEMA.names)
PART_GLOB = "decisions-*.parquet"


class DecisionLog:
    def __init__(self, directory: Path, batch_rows: int = 500, max_age_s: float = 0.8, tag: str = ""):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.batch_rows, self.max_age_s = batch_rows, max_age_s
        self.rows: list[tuple] = []  # (time ms, request_id, request_hash, stage, rail, action, outcome, detail, prompt)
        self._prefix = f"{time.strftime('%Y%m%dT%H%M%S')}-{tag}{os.getpid()}"
        self._n = 0
        self._lock = threading.Lock()  # the buffer
        self._write_lock = threading.Lock()  # one writer at a time (the thread, close)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="guard-decision-log", daemon=True)
        self._thread.start()

    def add(self, request_id: str | None, request_hash: str | None, stage: str, rail: str | None, action: str | None,
            outcome: str, detail: str | None = None, prompt: str | None = None) -> None:
        if detail is not None:
            detail = redact(str(detail))[:2000]
        row = (int(time.time() * 1000), request_id, request_hash, stage, rail, action, outcome, detail, prompt)
        with self._lock:
            self.rows.append(row)
            full = len(self.rows) >= self.batch_rows
        if full:
            self._wake.set()

    def flush_soon(self) -> None:
        """Ask the writer thread to write now (safe from a signal handler: takes no lock)."""
        self._wake.set()

    def flush(self) -> None:
        with self._write_lock:
            with self._lock:
                rows, self.rows = self.rows, []
            if not rows:
                return
            self._n += 1
            try:
                columns = list(zip(*rows))
                table = pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, LOG_SCHEMA)],
                                             schema=LOG_SCHEMA)
                write_atomic(table, self.dir / f"decisions-{self._prefix}-{self._n:06d}.parquet")
            except Exception as e:  # noqa: BLE001 - a full disk must not stop the guard; keep the rows
                with self._lock:
                    self.rows[:0] = rows
                if not self._warned:
                    print(f"guard: cannot write the decision log in {self.dir}: {type(e).__name__}: {e}",
                          file=sys.stderr, flush=True)
                    self._warned = True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.max_age_s)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Stops the thread and writes what is left. Safe to call more than once."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.flush()


def read_log(directory: str | Path):
    """Every row of a decision log folder, all parts (of every worker) together, oldest first."""
    import pyarrow.parquet as pq

    parts = sorted(Path(directory).glob(PART_GLOB))
    if not parts:
        return LOG_SCHEMA.empty_table().to_pandas()
    df = pa.concat_tables([pq.read_table(p, schema=LOG_SCHEMA) for p in parts]).to_pandas()
    return df.sort_values("time", kind="stable").reset_index(drop=True) if len(df) else df
