"""The guard's decision log: Parquet parts under `log_dir`, written by a background thread.

Rows are buffered and written at most `max_age_s` after they were added (a thread wakes on its own,
not when the next request arrives), at once when `batch_rows` are waiting, on SIGTERM (the server
calls `flush_soon`) and on shutdown (`close`). Each part is written to a temporary file and renamed,
so a reader never sees half a file and a killed process loses at most the last `max_age_s` of rows.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from evalharness.redact import redact
from evalharness.results.writer import _write_atomic

LOG_SCHEMA = pa.schema([
    ("time", pa.timestamp("ms", tz="UTC")), ("request_id", pa.string()), ("request_hash", pa.string()),
    ("stage", pa.string()), ("rail", pa.string()), ("action", pa.string()), ("outcome", pa.string()),
    ("detail", pa.string()), ("prompt", pa.string()),
])
_FIELDS = tuple(LOG_SCHEMA.names)


class DecisionLog:
    def __init__(self, directory: Path, batch_rows: int = 500, max_age_s: float = 0.8):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.batch_rows, self.max_age_s = batch_rows, max_age_s
        self.rows: list[dict] = []
        self._prefix = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self._n = 0
        self._lock = threading.Lock()  # the buffer
        self._write_lock = threading.Lock()  # one writer at a time (the thread, close)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="guard-decision-log", daemon=True)
        self._thread.start()

    def add(self, **row: Any) -> None:
        row.setdefault("time", int(time.time() * 1000))
        if row.get("detail") is not None:
            row["detail"] = redact(str(row["detail"]))[:2000]
        with self._lock:
            self.rows.append({k: row.get(k) for k in _FIELDS})
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
                _write_atomic(pa.Table.from_pylist(rows, schema=LOG_SCHEMA),
                              self.dir / f"decisions-{self._prefix}-{self._n:06d}.parquet")
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
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()
