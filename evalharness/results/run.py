"""A run folder as typed Python objects: `load_run` -> `Run` (the validated run.json as a `RunManifest`,
responses and scores as Arrow tables or DataFrames), `RunResult` (what a run, rescore or merge
concluded, with `assert_passed`), and `CaseFailure` (a failed response with its scorers' reasons).

Storage only: nothing here scores, gates or compares (the verdict rule in `case_failures` is gate.py's,
restated over plain rows; `gate.verdict_table(run.responses(), run.scores())` gives it as a table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from evalharness.results.manifest import RunManifest, config_message, load_manifest
from evalharness.results.schema import NULLABLE_INTEGERS, RESPONSES_FILE, SCORES_FILE

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa


@dataclass(frozen=True)
class CaseFailure:
    """A response that failed: its error, or the deciding scorers that failed with their reasons."""

    suite: str
    case_id: str
    target: str
    repeat: int
    error: str | None
    scorers: tuple[tuple[str, str | None], ...]  # (scorer, reason)
    output: str | None = None

    def describe(self, width: int = 120) -> str:
        head = f"{self.suite}/{self.case_id} [{self.target}]" + (f" repeat {self.repeat}" if self.repeat else "")
        if self.error:
            why = [f"error: {self.error}"]
        else:
            why = [f"{name}: {reason or 'failed'}" for name, reason in self.scorers]
        out = "" if self.output is None else f" (output: {shorten(self.output, width)!r})"
        return f"{head}: " + "; ".join(why) + out


def shorten(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def case_failures(run_dir: Path) -> list[CaseFailure]:
    """Every failed response of a finished run, in the responses' order. The rule is gate.py's: a
    response fails when it has an error or a deciding (not metric-only) scorer did not pass."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    scols = [c for c in ("response_id", "scorer", "passed", "reason", "metric_only")
             if c in pq.read_schema(run_dir / SCORES_FILE).names]
    scores = pq.read_table(run_dir / SCORES_FILE, columns=scols)
    deciding = pc.invert(pc.fill_null(scores["metric_only"], False)) if "metric_only" in scols \
        else pa.array([True] * scores.num_rows, pa.bool_())
    scores = scores.filter(pc.and_(pc.equal(scores["passed"], False), deciding))  # the few rows that failed
    failed: dict[str, list[tuple[str, str | None]]] = {}
    for s in scores.to_pylist():
        failed.setdefault(s["response_id"], []).append((s["scorer"], s.get("reason")))
    rcols = [c for c in ("response_id", "suite", "case_id", "target", "repeat", "output", "error")
             if c in pq.read_schema(run_dir / RESPONSES_FILE).names]
    responses = pq.read_table(run_dir / RESPONSES_FILE, columns=rcols)
    ids = pa.array(list(failed), pa.string())
    responses = responses.filter(pc.or_(pc.is_valid(responses["error"]), pc.is_in(responses["response_id"], ids)))
    out = []
    for r in responses.to_pylist():
        why = failed.get(r["response_id"])
        if r.get("error") or why:
            out.append(CaseFailure(r["suite"], r["case_id"], r["target"], r.get("repeat") or 0, r.get("error"),
                                   tuple(why or ()), r.get("output")))
    return out


@dataclass
class RunResult:
    """What a run (or rescore, merge) concluded. `passed`: every gate check passed and nothing failed
    as infrastructure (exit code 0)."""

    run_dir: Path
    exit_code: int
    summary: list[dict]  # one row per suite x target: pass rate, mean score, errors, latency
    checks: list  # gate.GateCheck: suite, target, scope, metric, threshold, value, reason, .passed
    messages: list[str] = field(default_factory=list)  # infrastructure failures, notes
    judges: dict = field(default_factory=dict)
    regressions: list = field(default_factory=list)  # compare.SuiteDelta against the baseline
    totals: Any = None  # request counters of the run (None for rescore and merge)
    right_size: list = field(default_factory=list)  # per category, the smallest target meeting its gates (2+ targets)
    routing_path: Path | None = None  # routing.yaml written from `right_size`

    @classmethod
    def from_outcome(cls, outcome) -> "RunResult":
        """From the engine's RunOutcome (run, rescore, merge, calibrate)."""
        return cls(Path(outcome.run_dir), int(outcome.exit_code), list(outcome.summary), list(outcome.checks),
                   list(outcome.messages), dict(outcome.judges or {}), list(outcome.regressions or []),
                   outcome.totals, list(getattr(outcome, "right_size", None) or []),
                   getattr(outcome, "routing_path", None))

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def failed_checks(self) -> list:
        return [c for c in self.checks if not c.passed]

    def failures(self) -> list[CaseFailure]:
        """The responses that failed (error, or a deciding scorer that did not pass), with the reasons."""
        return case_failures(self.run_dir)

    def load(self) -> "Run":
        return load_run(self.run_dir)

    def assert_passed(self, max_cases: int = 20) -> None:
        """Raise AssertionError unless the run passed: each failed gate check with its reason, each
        infrastructure failure, and the failing cases with their scorers' reasons."""
        __tracebackhide__ = True  # pytest shows the assertion at the caller's line
        if self.passed:
            return
        lines = [f"evalharness run {self.run_id} did not pass (exit {self.exit_code}): {self.run_dir}"]
        for m in self.messages:
            lines.append(f"  infrastructure: {m}")
        bad = self.failed_checks()
        if bad:
            lines.append(f"failed gate checks ({len(bad)}):")
            lines += [f"  {c.describe()}" for c in bad]
        cases = self.failures()
        if cases:
            lines.append(f"failing cases ({len(cases)}):")
            lines += [f"  {f.describe()}" for f in cases[:max_cases]]
            if len(cases) > max_cases:
                lines.append(f"  ... and {len(cases) - max_cases} more (see {self.run_dir / SCORES_FILE})")
        raise AssertionError("\n".join(lines))


class Run:
    """A run folder: its typed manifest, and its responses and scores as Arrow tables or DataFrames."""

    def __init__(self, run_dir: Path, manifest: RunManifest):
        self.dir = Path(run_dir)
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, status={self.manifest.status!r})"

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def passed(self) -> bool | None:
        """The gate's verdict as recorded (None while the run is not complete)."""
        return None if self.manifest.gate is None else self.manifest.exit_code == 0

    @property
    def summary(self) -> list[dict]:
        return self.manifest.summary

    def _table(self, name: str, columns: Sequence[str] | None) -> "pa.Table":
        import pyarrow.parquet as pq

        path = self.dir / name
        if not path.is_file():
            raise config_message(f"{self.dir}: not a finished run folder (no {name})")
        schema = reading_schema(name, pq.read_schema(path))
        if columns is not None:
            unknown = [c for c in columns if c not in schema.names]
            if unknown:
                raise config_message(f"{path}: no column {', '.join(map(repr, unknown))}")
        return pq.read_table(path, schema=schema, columns=list(columns) if columns is not None else None)

    def responses(self, columns: Sequence[str] | None = None) -> "pa.Table":
        """responses.parquet; a column this (older) run lacks comes back as nulls."""
        return self._table(RESPONSES_FILE, columns)

    def scores(self, columns: Sequence[str] | None = None) -> "pa.Table":
        return self._table(SCORES_FILE, columns)

    def responses_df(self, columns: Sequence[str] | None = None) -> "pd.DataFrame":
        """As a DataFrame: token and order columns are nullable integers (`Int64`/`Int32`), never float."""
        return to_pandas(self.responses(columns))

    def scores_df(self, columns: Sequence[str] | None = None) -> "pd.DataFrame":
        return to_pandas(self.scores(columns))

    def failures(self) -> list[CaseFailure]:
        self._table(RESPONSES_FILE, ["response_id"])
        return case_failures(self.dir)


def reading_schema(name: str, stored: "pa.Schema") -> "pa.Schema":
    """The schema a stored table is read with: the current one (a column an older run lacks is null),
    plus any column of a newer run this version does not know, with its stored type."""
    import pyarrow as pa

    from evalharness.results import schema as rs

    current = rs.RESPONSES if name == RESPONSES_FILE else rs.SCORES
    fields = [stored.field(f.name) if f.name in stored.names and stored.field(f.name).type != f.type else f
              for f in current]
    fields += [f for f in stored if f.name not in current.names]
    return pa.schema(fields, metadata=current.metadata)


def to_pandas(table: "pa.Table") -> "pd.DataFrame":
    """`to_pandas` with the nullable integer columns as pandas' nullable integers (whatever the file's
    metadata says: a run written before schema version 3 has none)."""
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}
    df = table.to_pandas()
    for name in NULLABLE_INTEGERS:
        if name in df.columns and pa.types.is_integer(table.schema.field(name).type):
            df[name] = df[name].astype(nullable.get(table.schema.field(name).type, pd.Int64Dtype()))
    return df


def load_run(run_dir: str | Path) -> Run:
    """A run folder with its validated run.json (`ManifestError`, a ConfigError, when it is not one)."""
    run_dir = Path(run_dir)
    return Run(run_dir, load_manifest(run_dir))
