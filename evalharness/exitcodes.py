"""What each exit code means, and what happens to an unexpected error.

0 every gate passed · 1 a gate failed (and nothing else) · 2 invalid suite, configuration or usage ·
3 infrastructure: a target or judge over its error rate, a server that died, or an unexpected error
(one line on stderr, the traceback in a log file) · 130 interrupted.
"""

from __future__ import annotations

import enum
import sys
import traceback
from pathlib import Path

ERROR_LOG = "error.log"  # inside a run folder


class ExitCode(enum.IntEnum):
    OK = 0
    GATE = 1
    CONFIG = 2
    INFRA = 3
    INTERRUPTED = 130


class RunFailed(Exception):
    """An unexpected error inside a run whose folder exists. run.json says `status: failed`, the
    traceback is in `log` (None when even that could not be written), and the run can be resumed."""

    def __init__(self, run_dir: Path, log: Path | None):
        self.run_dir, self.log = run_dir, log
        super().__init__(f"run {run_dir} failed")


def one_line(err: BaseException, limit: int = 300) -> str:
    """`Type: first line of the message`, bounded: what a CI log shows of an unexpected error."""
    from evalharness.redact import redact

    text = redact(str(err)).strip().splitlines()
    msg = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return msg if len(msg) <= limit else msg[: limit - 1] + "…"


def write_traceback(err: BaseException, path: Path) -> Path | None:
    """The full traceback in `path`; None when it cannot be written (a full disk, a read-only folder)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8", errors="backslashreplace") as f:
            from evalharness.redact import redact

            f.write(redact("".join(traceback.format_exception(err))))
        return path
    except OSError:
        return None


def crash_log_path() -> Path:
    """Where a command's unexpected error goes when there is no run folder: the cache's `logs/`."""
    from datetime import datetime, timezone

    from evalharness.engine.cache import default_cache_dir

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S.%fZ")
    return default_cache_dir() / "logs" / f"crash-{stamp}.log"


def report_unexpected(err: BaseException) -> int:
    """One clear line on stderr, the traceback in a log file, exit 3 (never 1: that means a gate)."""
    if isinstance(err, RunFailed):
        cause, log = err.__cause__ or err, err.log
        hint = f"; finish it with `evalharness run --resume {err.run_dir}`"
    else:
        cause, hint = err, ""
        log = write_traceback(err, crash_log_path())
        if log is None:
            import tempfile

            log = write_traceback(err, Path(tempfile.gettempdir()) / crash_log_path().name)
    where = f"traceback in {log}" if log else "the traceback could not be written"
    try:
        print(f"evalharness: unexpected error: {one_line(cause)} ({where}{hint})", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    return ExitCode.INFRA
