"""`evalharness` command line: it parses arguments, calls evalharness.api (or the module that does the
work) and prints. Heavy modules are imported inside commands, so --help is instant. The commands live
in cli/runs.py, cli/results.py, cli/suites.py and cli/serving.py."""

from __future__ import annotations

import os
import sys

from evalharness.cli import imports, results, runs, serving, suites  # noqa: F401 - each registers its commands
from evalharness.cli.common import app  # noqa: F401 - the Typer app (tests and embedders call it)


def _click_kind(e: Exception) -> str | None:
    """"ClickException" or "Abort" when `e` is one of click's (typer 0.29+ vendors its own copy of click,
    so the classes are recognised by name), else None."""
    names = {c.__name__ for c in type(e).__mro__}
    return next((k for k in ("Abort", "ClickException") if k in names), None)


def main() -> None:
    """Entry point. Exit codes mean one thing each (evalharness/exitcodes.py): click runs outside its
    standalone mode so that neither an interrupt nor a usage error can become 1 ("a gate failed"), and
    any unexpected error is one line on stderr, its traceback in a log file, and exit 3.

    Once a command has finished, every result file is closed and only the standard streams need
    flushing, so the interpreter's own teardown (finalising pyarrow, pandas, pydantic and the rest:
    about 0.5 s on a 2-core machine) is skipped with os._exit."""
    from evalharness import startup
    from evalharness.exitcodes import ExitCode, report_unexpected

    startup.begin()
    from evalharness.redact import RedactingStream

    # No credential the process learns reaches the terminal or a CI log, whatever prints it.
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        rv = app(standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else ExitCode.CONFIG)
        if not isinstance(e.code, (int, type(None))):
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the one place an unexpected error becomes exit 3
        kind = _click_kind(e)
        if kind == "Abort":
            print("\ninterrupted", file=sys.stderr)
            code = ExitCode.INTERRUPTED
        elif kind == "ClickException":  # usage: an unknown option, a bad value, a missing argument
            e.show()
            code = ExitCode.CONFIG
        else:
            code = report_unexpected(e)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing left to flush
        pass
    os._exit(code)

