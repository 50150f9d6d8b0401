"""Progress: a rich bar on a terminal, plain lines in CI (CI=true) or when piped.

Both show judge calls as they happen (`judge_calls`, fed by engine/scoring.JudgeMeter): a run whose
responses wait on judges is never silent. Plain lines come every 10 % of responses, and at least every
`every_s` seconds while anything (a response or a judge call) moves.
"""

from __future__ import annotations

import os
import sys
import time


def make_progress(total: int, label: str):
    interactive = sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")
    return RichProgress(total, label) if interactive else PlainProgress(total, label)


def judge_text(done: int, in_flight: int, waiting: int) -> str:
    text = f"judge calls: {done} done, {in_flight} in flight"
    return text + (f", {waiting} waiting" if waiting else "")


class PlainProgress:
    def __init__(self, total: int, label: str, every_s: float = 5.0):
        self.total, self.label, self.every_s = total, label, every_s
        self.done = self.errors = 0
        self.judge: tuple[int, int, int] | None = None  # (done, in flight, waiting) once a judge was called
        self._t0 = self._last = time.monotonic()
        self._next_pct = 10

    def __enter__(self):
        print(f"{self.label}: {self.total} responses to collect", file=sys.stderr, flush=True)
        return self

    def advance(self, error: bool = False, n: int = 1) -> None:
        self.done += n
        self.errors += error
        now = time.monotonic()
        pct = 100 * self.done // max(1, self.total)
        if pct >= self._next_pct or now - self._last >= self.every_s:
            self._next_pct = (pct // 10 + 1) * 10
            self._last = now
            self._line()

    def judge_calls(self, done: int, in_flight: int, waiting: int = 0) -> None:
        self.judge = (done, in_flight, waiting)
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._line()

    def _line(self) -> None:
        el = time.monotonic() - self._t0
        judge = f", {judge_text(*self.judge)}" if self.judge else ""
        print(f"{self.label}: {self.done}/{self.total} done, {self.errors} errors{judge}, {el:.1f}s",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self.done and self._next_pct <= 100:
            self._line()
        return False


class RichProgress:
    def __init__(self, total: int, label: str):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("errors: {task.fields[errors]}"), TextColumn("{task.fields[judge]}"), TimeElapsedColumn(),
            transient=False,
        )
        self._task = self._p.add_task(label, total=total, errors=0, judge="")
        self.errors = 0

    def __enter__(self):
        self._p.start()
        return self

    def advance(self, error: bool = False, n: int = 1) -> None:
        self.errors += error
        self._p.update(self._task, advance=n, errors=self.errors)

    def judge_calls(self, done: int, in_flight: int, waiting: int = 0) -> None:
        self._p.update(self._task, judge=judge_text(done, in_flight, waiting))

    def __exit__(self, *exc):
        self._p.stop()
        return False
